"""Takes a late reply for the next ping: settimeout(1) and one recvfrom per
ping, with no look at the reply's SEQ, so a reply that comes after its
ping timed out is printed as the answer to the ping being waited for.

Usage: python3 pinger_late_taken.py PORT
"""
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket, timeout

serverName = '127.0.0.1'
serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(1)
rtts = []
for seq in range(1, 11):
    sendTime = time.time()
    message = 'Ping %d %s' % (seq, sendTime)
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    try:
        reply, serverAddress = clientSocket.recvfrom(1024)
        rtt = time.time() - sendTime
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
