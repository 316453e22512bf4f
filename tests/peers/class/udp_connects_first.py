"""The student's server connect()s its socket to the first client, to use
send() instead of sendto(): from then on the system hands it only that
client's datagrams, and it answers its first client only.

Usage: python3 tests/peers/class/udp_connects_first.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
message, clientAddress = serverSocket.recvfrom(2048)
serverSocket.connect(clientAddress)
while True:
    serverSocket.send(message.decode().upper().encode())
    message = serverSocket.recv(2048)
