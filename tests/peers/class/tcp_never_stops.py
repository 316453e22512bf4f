"""The student forgot the break: a thread per connection reads one line,
then sends the upper-cased reply line over and over in a while True until
a send fails (the client has gone); then it closes quietly. (A client that
closes without sending a line is just closed: an empty reply sent for ever
would be a busy loop.)

Usage: python3 tests/peers/class/tcp_never_stops.py
"""
import threading
from socket import *


def handle(connectionSocket):
    reader = connectionSocket.makefile('rb')
    sentence = reader.readline()
    if sentence:
        capitalizedSentence = sentence.decode().upper().encode()
        try:
            while True:
                connectionSocket.sendall(capitalizedSentence)
        except OSError:
            pass
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
