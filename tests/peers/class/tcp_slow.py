"""The student's server is slow: a thread per connection reads lines until
EOF and sleeps DELAY seconds (default 0.5) before each reply, which is
correct (upper-cased, with a newline). Closes on EOF.

Usage: python3 tests/peers/class/tcp_slow.py [DELAY]
"""
import sys
import threading
import time
from socket import *

DELAY = float(sys.argv[1]) if len(sys.argv) > 1 else 0.5


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        capitalizedSentence = sentence.decode().rstrip('\n').upper() + '\n'
        time.sleep(DELAY)
        connectionSocket.sendall(capitalizedSentence.encode())
    reader.close()
    connectionSocket.close()


serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(5)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=handle, args=(connectionSocket,),
                     daemon=True).start()
