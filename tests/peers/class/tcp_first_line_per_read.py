"""The student takes each recv() for one line: a thread per client reads
up to 64 KiB at a time, answers the first line in it upper-cased, and drops
the rest, until the client closes. Two lines that come in one read (a pipe,
a fast client) get one reply. Invalid UTF-8 raises UnicodeDecodeError and
ends only that thread.

Usage: python3 tests/peers/class/tcp_first_line_per_read.py
"""
from socket import *
import threading

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)


def serve(connectionSocket):
    try:
        while True:
            data = connectionSocket.recv(65536)
            if not data:
                break
            line = data.decode().split('\n')[0]
            connectionSocket.send((line.upper() + '\n').encode())
    finally:
        connectionSocket.close()


while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=serve, args=(connectionSocket,), daemon=True).start()
