"""Keeps sending sentences (the chapter's exercise), with no timeout: a
lost reply leaves it waiting for ever, and it takes any datagram."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
for line in sys.stdin:
    message = line.rstrip('\n')
    clientSocket.sendto(message.encode(), ('localhost', serverPort))
    modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
    print(modifiedMessage.decode())
clientSocket.close()
