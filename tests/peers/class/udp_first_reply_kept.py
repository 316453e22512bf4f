"""The student keeps each client's reply in a dictionary and forgot to
update it: every client gets back, for every datagram, the reply to the
first datagram it ever sent. Invalid UTF-8 raises UnicodeDecodeError and
ends the program.

Usage: python3 tests/peers/class/udp_first_reply_kept.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
replies = {}
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    if clientAddress not in replies:
        replies[clientAddress] = message.decode().upper().encode()
    serverSocket.sendto(replies[clientAddress], clientAddress)
