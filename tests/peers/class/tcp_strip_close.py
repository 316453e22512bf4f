"""The student strips the sentence: the textbook's TCPServer.py with
.decode().strip() before .upper(), so the reply has no newline (nor any
leading or trailing spaces); then the connection is closed. Invalid UTF-8
raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/tcp_strip_close.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode().strip()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
