"""A right UDP client: every line, a 1 s timeout and 3 tries, only the
server's datagrams, any size."""
import sys
from socket import AF_INET, SOCK_DGRAM, socket, timeout

serverPort = int(sys.argv[1])
server = ('127.0.0.1', serverPort)
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(1)
for line in sys.stdin:
    message = line.rstrip('\r\n')
    for attempt in range(3):
        clientSocket.sendto(message.encode(), server)
        try:
            modifiedMessage, serverAddress = clientSocket.recvfrom(65535)
            while serverAddress != server:
                modifiedMessage, serverAddress = clientSocket.recvfrom(65535)
            print(modifiedMessage.decode(), flush=True)
            break
        except timeout:
            pass
    else:
        print('no reply from the server after 3 tries', file=sys.stderr)
        sys.exit(1)
clientSocket.close()
