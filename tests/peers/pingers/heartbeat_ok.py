"""A correct UDP Heartbeat client: "Heartbeat SEQ TIME" every second, SEQ
from 1, TIME in seconds since 1970; no reply is awaited. Runs until ended.

Usage: python3 heartbeat_ok.py PORT
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
    seq += 1
    time.sleep(1)
