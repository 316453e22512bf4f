"""Opens COUNT connections to PORT on 127.0.0.1 and resets each at once
(SO_LINGER 0, then close), most before the server has accepted them: what a
port scanner or an impatient client does.

Usage: python3 reset_storm.py PORT COUNT
"""
import socket
import struct
import sys

port, count = int(sys.argv[1]), int(sys.argv[2])
for _ in range(count):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.connect(("127.0.0.1", port))
    s.close()
print(f"reset {count}")
