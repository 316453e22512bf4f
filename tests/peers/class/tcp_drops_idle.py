"""The student added a timeout: the textbook's TCPServer.py with
connectionSocket.settimeout(1); a client that sends nothing within a second
is closed without a reply and the next one accepted. Otherwise the one
recv(1024) is answered upper-cased and the connection closed. Invalid UTF-8
raises UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/tcp_drops_idle.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    connectionSocket.settimeout(1)
    try:
        sentence = connectionSocket.recv(1024).decode()
    except timeout:
        connectionSocket.close()
        continue
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
