"""A newline-framed server like the textbook's Java companion TCPServer:
reads one line, writes it back upper-cased with a newline, and never closes
the connection (the client must).

Usage: python3 line_tcp_server.py
"""
import threading
from socket import AF_INET, SOCK_STREAM, socket


def serve(connectionSocket):
    reader = connectionSocket.makefile("rb")
    clientSentence = reader.readline()
    capitalizedSentence = clientSentence.decode().rstrip("\n").upper() + "\n"
    connectionSocket.sendall(capitalizedSentence.encode())
    # Like the Java server, wait for the client to close; never close first.
    while reader.read(1024):
        pass
    connectionSocket.close()


welcomeSocket = socket(AF_INET, SOCK_STREAM)
welcomeSocket.bind(("127.0.0.1", 0))
welcomeSocket.listen(16)
port = welcomeSocket.getsockname()[1]
print(f"The server is ready to receive on 127.0.0.1:{port}", flush=True)
while True:
    connectionSocket, addr = welcomeSocket.accept()
    threading.Thread(target=serve, args=(connectionSocket,), daemon=True).start()
