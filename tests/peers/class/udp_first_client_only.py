"""The student called recvfrom once before the loop to learn clientAddress
and inside the loop ignores the sender's address: every reply (the first
datagram's too) goes to the first client the server ever heard from.
Invalid UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_first_client_only.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
message, clientAddress = serverSocket.recvfrom(2048)
modifiedMessage = message.decode().upper()
serverSocket.sendto(modifiedMessage.encode(), clientAddress)
while True:
    message, _ = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
