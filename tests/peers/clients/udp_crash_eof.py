"""Keeps sending sentences with a timeout and retries, and checks the
reply's sender; but `while True: input()` crashes with EOFError at the end
of its input."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket, timeout

serverPort = int(sys.argv[1])
server = ('127.0.0.1', serverPort)
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(1)
while True:
    message = input('Input lowercase sentence:')
    for attempt in range(3):
        clientSocket.sendto(message.encode(), server)
        try:
            modifiedMessage, serverAddress = clientSocket.recvfrom(65535)
            while serverAddress != server:
                modifiedMessage, serverAddress = clientSocket.recvfrom(65535)
            print(modifiedMessage.decode())
            break
        except timeout:
            pass
    else:
        print('No reply from the server')
