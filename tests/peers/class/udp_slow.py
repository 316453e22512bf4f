"""The student's server is slow: the textbook's UDPServer.py, single
threaded, sleeping DELAY seconds (default 0.5) before each reply, so
datagrams queue up behind each other. Invalid UTF-8 raises
UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_slow.py [DELAY]
"""
import sys
import time
from socket import *

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5
serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    time.sleep(DELAY)
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
