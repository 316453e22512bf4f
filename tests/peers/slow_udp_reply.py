"""A UDP server on ADDRESS that answers each datagram upper-cased after
DELAY seconds, and first prints "from HOST:PORT" for it, so that a test can
forge a reply meanwhile. Prints the ready line first.

Usage: python3 slow_udp_reply.py ADDRESS DELAY
"""
import socket
import sys
import time

address, delay = sys.argv[1], float(sys.argv[2])
server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
server.bind((address, 0))
port = server.getsockname()[1]
print(f"The server is ready to receive on {address}:{port}", flush=True)
while True:
    message, client = server.recvfrom(65535)
    print(f"from {client[0]}:{client[1]}", flush=True)
    time.sleep(delay)
    server.sendto(message.upper(), client)
