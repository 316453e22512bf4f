"""Does what the textbook's TCPClient.py does, for interoperability tests.

Usage: python3 textbook_tcp_client.py HOST PORT SENTENCE

The textbook's lines: the sentence is sent with no newline and the reply is
one recv(1024). A timeout keeps a test from hanging.
"""
import sys
from socket import AF_INET, SOCK_STREAM, socket

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.settimeout(5)
clientSocket.connect((serverName, serverPort))
sentence = sys.argv[3]
clientSocket.send(sentence.encode())
modifiedSentence = clientSocket.recv(1024)
print("From Server: ", modifiedSentence.decode())
clientSocket.close()
