"""The student adds a newline to each reply, as print() would: the reply
is the datagram upper-cased and then b'\\n'. Invalid UTF-8 raises
UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_newline.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper() + '\n'
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
