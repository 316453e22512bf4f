"""The student made the server threaded, but the thread uses the global
connectionSocket, the one accepted last, to send: a client whose line
comes after another client connected has its reply sent to the other
client's socket (closed by then: the send fails in the thread), and its
own connection is closed without a reply. Otherwise the textbook's
TCPServer.py: one recv(1024), the reply upper-cased, then close.

Usage: python3 tests/peers/class/tcp_shared_socket.py
"""
from socket import *
import threading

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)


def serve(mine):
    try:
        sentence = mine.recv(1024).decode()
        capitalizedSentence = sentence.upper()
        connectionSocket.send(capitalizedSentence.encode())  # the bug
    except OSError:
        pass
    finally:
        mine.close()


while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=serve, args=(connectionSocket,), daemon=True).start()
