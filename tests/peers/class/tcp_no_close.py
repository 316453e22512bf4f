"""The student forgot to close: a thread per connection answers each line
correctly (upper-cased, with a newline) until EOF, then returns without
closing. Every connectionSocket is kept in the global list `clients`, so
none is ever garbage-collected: the server never closes its side.

Usage: python3 tests/peers/class/tcp_no_close.py
"""
import threading
from socket import *

clients = []


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        capitalizedSentence = sentence.decode().rstrip('\n').upper() + '\n'
        connectionSocket.sendall(capitalizedSentence.encode())


serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(5)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    clients.append(connectionSocket)
    threading.Thread(target=handle, args=(connectionSocket,),
                     daemon=True).start()
