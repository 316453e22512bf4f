"""A right TCP client: every line on a connection of its own, sent with a
newline, the reply read to its newline, whatever its size or pieces."""
import sys
from socket import create_connection

serverPort = int(sys.argv[1])
for line in sys.stdin:
    sentence = line.rstrip('\r\n')
    with create_connection(('localhost', serverPort), timeout=5) as s:
        s.sendall((sentence + '\n').encode())
        reply = b''
        while not reply.endswith(b'\n'):
            data = s.recv(4096)
            if not data:
                break
            reply += data
    print(reply.decode().rstrip('\n'), flush=True)
