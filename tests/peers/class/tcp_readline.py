"""A right server that waits for a newline: a thread per connection reads
whole lines with makefile().readline() and answers each, upper-cased, with
its newline; it closes when the client does. TCPClient.py as printed sends
no newline, and waits for its reply for ever.

Usage: python3 tests/peers/class/tcp_readline.py
"""
import threading
from socket import *


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        text = sentence.decode('utf-8', 'surrogateescape')
        connectionSocket.sendall(
            text.upper().encode('utf-8', 'surrogateescape'))
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
