"""The student forgot .upper(): the textbook's UDPServer.py sending each
datagram back decoded and encoded again but unchanged. Invalid UTF-8
raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_echo.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
