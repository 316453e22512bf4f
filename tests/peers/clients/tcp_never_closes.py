"""TCPClient.py that, its reply printed, waits for ever: it never ends."""
import sys
import time
from socket import AF_INET, SOCK_STREAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.connect(('localhost', serverPort))
sentence = input('Input lowercase sentence:')
clientSocket.sendall((sentence + '\n').encode())
modifiedSentence = b''
while not modifiedSentence.endswith(b'\n'):
    modifiedSentence += clientSocket.recv(4096)
print('From Server: ', modifiedSentence.decode())
while True:
    time.sleep(1)
