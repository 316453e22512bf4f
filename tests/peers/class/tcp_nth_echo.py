"""The student's counter: a thread per connection reads lines until EOF and
counts every request over all connections; the N-th one ever received
(1-based, default 4) is sent back unchanged, all the others upper-cased,
each reply ending with a newline. Closes on EOF.

Usage: python3 tests/peers/class/tcp_nth_echo.py [N]
"""
import sys
import threading
from socket import *

N = int(sys.argv[1]) if len(sys.argv) > 1 else 4
count = 0
lock = threading.Lock()


def handle(connectionSocket):
    global count
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        with lock:
            count += 1
            number = count
        capitalizedSentence = sentence.rstrip(b'\n')
        if number != N:
            capitalizedSentence = capitalizedSentence.decode().upper().encode()
        connectionSocket.sendall(capitalizedSentence + b'\n')
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
