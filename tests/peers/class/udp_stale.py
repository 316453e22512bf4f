"""The student sends the previous reply: each datagram is answered with
`modifiedMessage` as it stands, and only then is `modifiedMessage` set to
this datagram upper-cased. The first reply is an empty datagram; each later
one answers the datagram before it (whoever sent that). Invalid UTF-8
raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_stale.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
modifiedMessage = b''
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    serverSocket.sendto(modifiedMessage, clientAddress)
    modifiedMessage = message.decode().upper().encode()
