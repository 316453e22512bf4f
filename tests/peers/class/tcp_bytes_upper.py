"""The student never decodes: the textbook's TCPServer.py, but .upper() is
called on the bytes of the one recv(1024), so only a-z are upper-cased
(accented letters and other non-ASCII text come back as they were) and
invalid UTF-8 never crashes it.

Usage: python3 tests/peers/class/tcp_bytes_upper.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024)
    connectionSocket.send(sentence.upper())
    connectionSocket.close()
