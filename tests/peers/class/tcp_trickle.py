"""The student sends byte by byte: a thread per connection reads one line
and sends the correct reply (upper-cased, with the line's newline) one byte
at a time, 20 ms apart; then the connection is closed.

Usage: python3 tests/peers/class/tcp_trickle.py
"""
import threading
import time
from socket import *


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    sentence = reader.readline()
    capitalizedSentence = sentence.decode().upper().encode()
    for i in range(len(capitalizedSentence)):
        connectionSocket.send(capitalizedSentence[i:i + 1])
        time.sleep(0.02)
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
