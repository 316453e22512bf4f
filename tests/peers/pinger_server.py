"""Behaves like the UDP Pinger lab's server: upper-cases each datagram and
sends it back, but drops it when randint(0, 10) < 4 (4 in 11, about 36%).

Usage: python3 pinger_server.py SEED

The seed makes the drops the same on every run, for tests.
"""
import random
import sys
from socket import AF_INET, SOCK_DGRAM, socket

random.seed(int(sys.argv[1]))
serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(("127.0.0.1", 0))
print(f"The server is ready to receive on 127.0.0.1:{serverSocket.getsockname()[1]}", flush=True)
while True:
    rand = random.randint(0, 10)
    message, address = serverSocket.recvfrom(1024)
    message = message.upper()
    if rand < 4:
        continue
    serverSocket.sendto(message, address)
