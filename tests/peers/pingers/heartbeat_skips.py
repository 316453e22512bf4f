"""Skips numbers: SEQ goes up by one, but by two after every third heartbeat
(1, 2, 3, 5, 6, 7, 9, ...), as if some were lost on the way.

Usage: python3 heartbeat_skips.py PORT
"""
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket

serverName = 'localhost'
serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
seq = 1
while True:
    message = 'Heartbeat %d %s' % (seq, time.time())
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    seq += 2 if seq % 4 == 3 else 1
    time.sleep(1)
