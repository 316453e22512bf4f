"""The student has no threads: accept, reply to each line of that client
(upper-cased, with a newline) until it closes, close, then accept the next.
A second client waits until the first one has closed. Invalid UTF-8 raises
UnicodeDecodeError and ends the program.

Usage: python3 tests/peers/class/tcp_one_at_a_time.py
"""
from socket import *

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    reader = connectionSocket.makefile('rb')
    while True:
        sentence = reader.readline()
        if not sentence:
            break
        capitalizedSentence = sentence.decode().rstrip('\n').upper() + '\n'
        connectionSocket.sendall(capitalizedSentence.encode())
    reader.close()
    connectionSocket.close()
