"""TCPClient.py that prints the reply lower-cased."""
import sys
from socket import AF_INET, SOCK_STREAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect(('localhost', serverPort))
sentence = input('Input lowercase sentence:')
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(1024)
print('From Server: ', modifiedSentence.decode().lower())
clientSocket.close()
