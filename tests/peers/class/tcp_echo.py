"""The student forgot .upper(): the textbook's TCPServer.py, but the bytes
of the one recv(1024) are sent back unchanged (never decoded), then the
connection is closed.

Usage: python3 tests/peers/class/tcp_echo.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024)
    connectionSocket.send(sentence)
    connectionSocket.close()
