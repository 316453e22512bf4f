"""UDPClient.py with the address written (port, host): sendto raises
TypeError."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1])
serverName = 'localhost'
clientSocket = socket(AF_INET, SOCK_DGRAM)
message = input('Input lowercase sentence:')
clientSocket.sendto(message.encode(), (serverPort, serverName))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print(modifiedMessage.decode())
clientSocket.close()
