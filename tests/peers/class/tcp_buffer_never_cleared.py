"""The student never clears the buffer: a thread per connection adds each
recv(1024) to `sentence` and sends back all of it upper-cased, so after
"one\\n" the reply to "two\\n" is "ONE\\nTWO\\n". The connection is closed
when the client closes. Invalid UTF-8 ends that connection's thread.

Usage: python3 tests/peers/class/tcp_buffer_never_cleared.py
"""
import threading
from socket import *


def handle(connectionSocket):
    sentence = b''
    while True:
        data = connectionSocket.recv(1024)
        if not data:
            break
        sentence += data
        connectionSocket.send(sentence.decode().upper().encode())
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
