"""The student skips empty datagrams: the textbook's UDPServer.py with
`if not message: continue`, so an empty datagram gets no reply. Invalid
UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_ignores_empty.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    if not message:
        continue
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
