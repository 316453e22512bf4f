"""TCPClient.py with recv(100)."""
import sys
from socket import AF_INET, SOCK_STREAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect(('localhost', serverPort))
sentence = input('Input lowercase sentence:')
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(100)
print('From Server: ', modifiedSentence.decode())
clientSocket.close()
