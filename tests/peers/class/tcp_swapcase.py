"""The student called .swapcase() for .upper(): lower-case letters come
back upper-cased, and upper-case ones lower-cased. Otherwise the textbook's
TCPServer.py: one client at a time, one recv(1024), then close; invalid
UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/tcp_swapcase.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.swapcase()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
