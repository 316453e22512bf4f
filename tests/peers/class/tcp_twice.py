"""The student's server sends every reply twice: a thread per connection
reads lines, and each upper-cased line goes out twice (a send() copied in
two places). Takes its port as an argument, as grade.ts's COMMAND mode
gives it ({port}); without one, a free port.

Usage: python3 tests/peers/class/tcp_twice.py [PORT]
"""
import sys
import threading
from socket import *

PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 0


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    for sentence in reader:
        capitalizedSentence = sentence.decode().upper().encode()
        connectionSocket.sendall(capitalizedSentence)
        connectionSocket.sendall(capitalizedSentence)
    reader.close()
    connectionSocket.close()


serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', PORT))
serverSocket.listen(5)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=handle, args=(connectionSocket,),
                     daemon=True).start()
