"""RTT off by 1,000: seconds printed with "ms" after them.

Usage: python3 pinger_rtt_ms_label.py PORT
"""
import sys
import time
from socket import AF_INET, SOCK_DGRAM, socket, timeout

serverName = 'localhost'
serverPort = int(sys.argv[1])
clientSocket = socket(AF_INET, SOCK_DGRAM)
rtts = []
for seq in range(1, 11):
    sendTime = time.time()
    message = 'Ping %d %s' % (seq, sendTime)
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    try:
        while True:
            clientSocket.settimeout(max(0.001, 1 - (time.time() - sendTime)))
            reply, serverAddress = clientSocket.recvfrom(1024)
            if reply.split()[1] == str(seq).encode():
                break
        rtt = time.time() - sendTime
        rtts.append(rtt)
        print(reply.decode())
        print('RTT: %.6f ms' % rtt)
    except timeout:
        print('Request timed out')
clientSocket.close()
if rtts:
    print('Minimum RTT: %.6f ms' % min(rtts))
    print('Maximum RTT: %.6f ms' % max(rtts))
    print('Average RTT: %.6f ms' % (sum(rtts) / len(rtts)))
print('Packet loss rate: %.1f%%' % ((10 - len(rtts)) * 10))
