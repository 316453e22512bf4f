"""The student read "everything" before replying: a loop of recv(1024)
until it returns b'', that is until the client closes its side. A client
that sends a line and waits for the reply (TCPClient.py) never gets one; a
client that half-closes after its line does. One client at a time, as the
textbook's TCPServer.py; invalid UTF-8 raises UnicodeDecodeError and ends
the program.

Usage: python3 tests/peers/class/tcp_reads_to_close.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    received = b''
    while True:
        chunk = connectionSocket.recv(1024)
        if not chunk:
            break
        received += chunk
    capitalizedSentence = received.decode().upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
