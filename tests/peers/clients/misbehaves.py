"""A client that misbehaves every way at once, for the grader's tests: it
sends the first line typed, then starts a child that sleeps, ignores Ctrl-C
and SIGTERM, and floods stdout for ever. Both carry MARK in their command
lines, so a test can see that none is left running.

Usage: python3 misbehaves.py PORT MARK
"""
import signal
import subprocess
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket

signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
if sys.argv[1] == "child":
    time.sleep(600)
    sys.exit()
port, mark = int(sys.argv[1]), sys.argv[2]
clientSocket = socket(AF_INET, SOCK_DGRAM)
sentence = sys.stdin.readline().rstrip('\n')
clientSocket.sendto(sentence.encode(), ('127.0.0.1', port))
subprocess.Popen([sys.executable, __file__, "child", mark])
while True:
    sys.stdout.write("x" * 65536)
