"""The student's server keeps one receive buffer for every client and never
clears it: each thread adds what it reads to the global `received`, and
replies with all of it upper-cased, so a reply carries every earlier
client's sentences before its own.

Usage: python3 tests/peers/class/tcp_shared_buffer.py
"""
import threading
from socket import *

received = b''


def handle(connectionSocket):
    global received
    reader = connectionSocket.makefile('rb')
    for sentence in reader:
        received += sentence
        connectionSocket.sendall(received.decode().upper().encode())
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
