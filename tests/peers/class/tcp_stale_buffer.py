"""The student's server reads into one 4,096-byte buffer that every thread
shares and nobody clears, and replies with as much of it as the longest
request so far filled: after the right reply line come the stale bytes of
earlier, longer requests, other clients' among them.

Usage: python3 tests/peers/class/tcp_stale_buffer.py
"""
import threading
from socket import *

buffer = bytearray(4096)
filled = 0


def handle(connectionSocket):
    global filled
    while True:
        count = connectionSocket.recv_into(buffer)
        if count == 0:
            break
        filled = max(filled, count)
        connectionSocket.sendall(bytes(buffer[:filled]).decode(
            'utf-8', 'replace').upper().encode())
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
