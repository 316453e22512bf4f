"""The student's fixed-size reply: a thread per connection reads one line
and sends back only the first N bytes (default 100) of the upper-cased
reply, so a longer line comes back cut and without its newline; then the
connection is closed.

Usage: python3 tests/peers/class/tcp_cut.py [N]
"""
import sys
import threading
from socket import *

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    sentence = reader.readline()
    capitalizedSentence = sentence.decode().upper().encode()
    connectionSocket.sendall(capitalizedSentence[:N])
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
