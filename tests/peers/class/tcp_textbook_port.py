"""The textbook's TCPServer.py as a student hands it in for grading: the
chapter's lines, with the port read from the command line and the server
bound to loopback only (as the grader's {port} asks).

Usage: python3 tests/peers/class/tcp_textbook_port.py PORT
"""
import sys
from socket import *
serverPort = int(sys.argv[1])
serverSocket = socket(AF_INET,SOCK_STREAM)
serverSocket.bind(('127.0.0.1',serverPort))
serverSocket.listen(1)
print('The server is ready to receive')
while True:
     connectionSocket, addr = serverSocket.accept()
     sentence = connectionSocket.recv(1024).decode()
     capitalizedSentence = sentence.upper()
     connectionSocket.send(capitalizedSentence.encode())
     connectionSocket.close()
