"""Sends one UDP datagram to 127.0.0.1:PORT whose sender is forged to be
127.0.0.1:PORT itself, through a raw socket (needs root): a server that
answers its sender would answer itself, for ever.

Usage: python3 spoof_udp.py PORT
"""
import socket
import struct
import sys

port = int(sys.argv[1])
payload = b"hello from yourself"
udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
loopback = socket.inet_aton("127.0.0.1")
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 loopback, loopback)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(ip + udp, ("127.0.0.1", 0))
raw.close()
print("sent")
