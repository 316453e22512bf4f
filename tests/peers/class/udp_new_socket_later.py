"""The student opens a fresh socket for each reply after the first ("to
keep the server socket free"): the first reply comes from the server's
port, every later one from a new port the client never sent to. Invalid
UTF-8 raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_new_socket_later.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
first = True
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper().encode()
    if first:
        serverSocket.sendto(modifiedMessage, clientAddress)
        first = False
    else:
        replySocket = socket(AF_INET, SOCK_DGRAM)
        replySocket.sendto(modifiedMessage, clientAddress)
        replySocket.close()
