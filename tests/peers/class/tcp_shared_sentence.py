"""The student made the server threaded, but the threads keep the request
in one global variable: each thread reads into it, works on it for 0.2 s
(a stand-in for real work), and replies with whatever it holds by then, so
of two clients that send at about the same moment, one gets the other's
reply. Otherwise the textbook's TCPServer.py: one recv(1024), the reply
upper-cased, then close; invalid UTF-8 ends only that thread.

Usage: python3 tests/peers/class/tcp_shared_sentence.py
"""
from socket import *
import threading
import time

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
sentence = ''


def serve(connectionSocket):
    global sentence
    try:
        sentence = connectionSocket.recv(1024).decode()
        time.sleep(0.2)
        capitalizedSentence = sentence.upper()
        connectionSocket.send(capitalizedSentence.encode())
    finally:
        connectionSocket.close()


while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=serve, args=(connectionSocket,), daemon=True).start()
