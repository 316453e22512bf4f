"""An unreadable time: TIME is the time of day alone, "%H:%M:%S", with no
date: right by its clock, but no time the grader can read.

Usage: python3 heartbeat_bad_time.py PORT
"""
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket

serverName = 'localhost'
serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
seq = 1
while True:
    message = 'Heartbeat %d %s' % (seq, time.strftime('%H:%M:%S'))
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    seq += 1
    time.sleep(1)
