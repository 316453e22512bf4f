"""The student keeps a list of clients (for a chat, say) and sends each
reply to every client it has ever heard from, the sender among them.
Invalid UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_every_client.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
clients = []
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    if clientAddress not in clients:
        clients.append(clientAddress)
    modifiedMessage = message.decode().upper().encode()
    for client in clients:
        serverSocket.sendto(modifiedMessage, client)
