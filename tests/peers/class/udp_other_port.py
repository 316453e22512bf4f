"""The student replies from another socket: datagrams are received on
serverSocket, but each upper-cased reply is sent from a second socket bound
to another port, so replies come from a port the client never sent to.
Invalid UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_other_port.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
replySocket = socket(AF_INET, SOCK_DGRAM)
replySocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    replySocket.sendto(modifiedMessage.encode(), clientAddress)
