"""The textbook's TCPServer.py with a newline added to the reply: one
recv(1024), the sentence stripped, upper-cased, sent back with a newline,
then the connection closed; one client at a time.

Usage: python3 tests/peers/class/tcp_recv_newline.py
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
    capitalizedSentence = sentence.strip().upper() + '\n'
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
