"""A UDP client that sends each line and prints its own upper-casing,
never reading the reply: right output, wrong program. The grader's lost
reply shows it: it prints the reply though none came."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket

clientSocket = socket(AF_INET, SOCK_DGRAM)
for line in sys.stdin:
    sentence = line.rstrip('\n')
    clientSocket.sendto(sentence.encode(), ('localhost', int(sys.argv[1])))
    print(sentence.upper())
clientSocket.close()
