"""pinger_ok.py with its RTT made up: 0.25 s printed for every reply,
whatever the reply took. Everything else is right.

Usage: python3 pinger_made_up_rtt.py PORT
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
        rtt = 0.25  # made up: the same for every ping
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
