"""TCPClient.py that reads until the server closes: a server that keeps
the connection open (the Java companion's) leaves it waiting."""
import sys
from socket import AF_INET, SOCK_STREAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect(('localhost', serverPort))
sentence = input('Input lowercase sentence:')
clientSocket.sendall((sentence + '\n').encode())
reply = b''
while True:
    data = clientSocket.recv(1024)
    if not data:
        break
    reply += data
print('From Server: ', reply.decode())
clientSocket.close()
