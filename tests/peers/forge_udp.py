"""Sends COUNT UDP datagrams to DESTINATION:PORT whose sender is forged to be
SOURCE:SOURCE_PORT, through a raw socket (needs root). An IPv6 SOURCE must
be an address of this machine (a link-local one with its %interface): the
system writes the IPv6 header; an IPv4 one may be any address.

Usage: python3 forge_udp.py SOURCE SOURCE_PORT DESTINATION PORT [COUNT]
"""
import socket
import struct
import sys

source, source_port, destination, port = sys.argv[1:5]
source_port, port = int(source_port), int(port)
count = int(sys.argv[5]) if len(sys.argv) > 5 else 1
payload = b"hello from yourself"
udp = struct.pack("!HHHH", source_port, port, 8 + len(payload), 0) + payload
if ":" in source:
    raw = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_UDP)
    # The system fills in the UDP checksum, at offset 6: IPv6 requires one.
    raw.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, 6)
    raw.bind(socket.getaddrinfo(source, 0, socket.AF_INET6)[0][4])
    target = socket.getaddrinfo(destination, 0, socket.AF_INET6)[0][4]
    packet = udp
else:
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    target = (destination, 0)
    packet = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64,
                         17, 0, socket.inet_aton(source),
                         socket.inet_aton(destination)) + udp
for _ in range(count):
    raw.sendto(packet, target)
raw.close()
print("sent")
