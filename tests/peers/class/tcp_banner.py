"""The student greets too often: a thread per connection reads lines until
EOF and, before each reply, sends b"WELCOME\\n"; then the upper-cased line
with its newline. Closes on EOF.

Usage: python3 tests/peers/class/tcp_banner.py
"""
import threading
from socket import *


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        capitalizedSentence = sentence.decode().upper()
        connectionSocket.sendall(b'WELCOME\n')
        connectionSocket.sendall(capitalizedSentence.encode())
    reader.close()
    connectionSocket.close()


serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(5)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=handle, args=(connectionSocket,),
                     daemon=True).start()
