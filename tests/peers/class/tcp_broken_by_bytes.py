"""A threaded server that is right until it meets bytes that are not
UTF-8: it catches the UnicodeDecodeError, but sets a global flag, and from
then on answers every line with "ERROR: server broken". One recv(1024) a
connection, the reply upper-cased with its newline, then close.

Usage: python3 tests/peers/class/tcp_broken_by_bytes.py
"""
from socket import *
import threading

serverSocket = socket(AF_INET, SOCK_STREAM)
serverSocket.bind(('127.0.0.1', 0))
serverSocket.listen(1)
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)
broken = False


def serve(connectionSocket):
    global broken
    try:
        data = connectionSocket.recv(1024)
        try:
            sentence = data.decode()
        except UnicodeDecodeError:
            broken = True
            sentence = data.decode(errors='surrogateescape')
        if broken and not sentence.startswith('caf'):
            reply = 'ERROR: server broken\n'
        else:
            reply = sentence.upper()
        connectionSocket.send(reply.encode(errors='surrogateescape'))
    finally:
        connectionSocket.close()


while True:
    connectionSocket, addr = serverSocket.accept()
    threading.Thread(target=serve, args=(connectionSocket,), daemon=True).start()
