"""UDPClient.py that encodes as ASCII: each character beyond it becomes
'?'."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
message = input('Input lowercase sentence:')
clientSocket.sendto(message.encode('ascii', 'replace'),
                    ('localhost', serverPort))
modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
print(modifiedMessage.decode('ascii', 'replace'))
clientSocket.close()
