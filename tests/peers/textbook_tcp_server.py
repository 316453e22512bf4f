"""Does what the textbook's TCPServer.py does, for interoperability tests.

Usage: python3 textbook_tcp_server.py

The textbook's lines: one recv(1024) per connection, the reply, close. Bound
to a free loopback port, announced with the ready line the tests wait for.
"""
from socket import AF_INET, SOCK_STREAM, socket

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(("127.0.0.1", 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f"The server is ready to receive on 127.0.0.1:{serverPort}", flush=True)
while True:
    connectionSocket, addr = serverSocket.accept()
    sentence = connectionSocket.recv(1024).decode()
    capitalizedSentence = sentence.upper()
    connectionSocket.send(capitalizedSentence.encode())
    connectionSocket.close()
