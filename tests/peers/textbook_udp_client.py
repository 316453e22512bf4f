"""Does what the textbook's UDPClient.py does, for interoperability tests.

Usage: python3 textbook_udp_client.py HOST PORT SENTENCE

The textbook's lines, with the server and sentence taken from the command
line, and a timeout so that a test can never hang.
"""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(5)
message = sys.argv[3]
clientSocket.sendto(message.encode(), (serverName, serverPort))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print(modifiedMessage.decode())
clientSocket.close()
