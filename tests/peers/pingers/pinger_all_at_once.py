"""Sends all ten pings at once, then takes the replies as they come (each
within 1 s), the RTT from the TIME its reply carries back.

Usage: python3 pinger_all_at_once.py PORT
"""
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket, timeout

serverName = '127.0.0.1'
serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(1)
for seq in range(1, 11):
    message = 'Ping %d %s' % (seq, time.time())
    clientSocket.sendto(message.encode(), (serverName, serverPort))
rtts = []
for seq in range(1, 11):
    try:
        reply, serverAddress = clientSocket.recvfrom(1024)
        rtt = time.time() - float(reply.split()[2])
        rtts.append(rtt)
        print(reply.decode())
        print('RTT: %.6f seconds' % rtt)
    except timeout:
        print('Request timed out')
clientSocket.close()
if rtts:
    print('Minimum RTT: %.6f s' % min(rtts))
    print('Maximum RTT: %.6f s' % max(rtts))
    print('Average RTT: %.6f s' % (sum(rtts) / len(rtts)))
print('Packet loss rate: %.1f%%' % ((10 - len(rtts)) * 10))
