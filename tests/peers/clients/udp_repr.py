"""UDPClient.py that prints the reply's bytes, not its text: b'...'."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
message = input('Input lowercase sentence:')
clientSocket.sendto(message.encode(), ('localhost', serverPort))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print(modifiedMessage)
clientSocket.close()
