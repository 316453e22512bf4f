"""The student's server stops calling accept() after N clients (default 3):
the loop is `for i in range(N)` where `while True` was meant, and the
program then waits for ever on a thread. listen(1): later connections
queue, then are not accepted at all.

Usage: python3 tests/peers/class/tcp_stops_accepting.py [N]
"""
import sys
import threading
from socket import *

N = int(sys.argv[1]) if len(sys.argv) > 1 else 3


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    for sentence in reader:
        connectionSocket.sendall(sentence.decode().upper().encode())
    reader.close()
    connectionSocket.close()


serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
for i in range(N):
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=handle, args=(connectionSocket,),
                     daemon=True).start()
threading.Event().wait()
