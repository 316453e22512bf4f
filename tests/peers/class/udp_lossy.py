"""The student copied the UDP Pinger lab's server: random.seed(SEED)
(default 1), and each datagram is dropped when random.random() < RATE
(default 0.36); the others are answered upper-cased as the textbook does.
The same seed drops the same datagrams on every run. Invalid UTF-8 raises
UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/udp_lossy.py [SEED] [RATE]
"""
import random
import sys
from socket import *

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1
RATE = float(sys.argv[2]) if len(sys.argv) > 2 else 0.36
random.seed(SEED)
serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    if random.random() < RATE:
        continue
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
