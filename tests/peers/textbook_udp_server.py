"""Does what the textbook's UDPServer.py does, for interoperability tests.

Usage: python3 textbook_udp_server.py

The textbook's lines, bound to a free loopback port and announcing it with
the ready line the tests wait for.
"""
from socket import AF_INET, SOCK_DGRAM, socket

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(("127.0.0.1", 0))
serverPort = serverSocket.getsockname()[1]
print(f"The server is ready to receive on 127.0.0.1:{serverPort}", flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
