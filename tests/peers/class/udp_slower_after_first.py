"""A correct but uneven server: it answers its first datagram at once,
loses the next four, and answers every later one after 0.6 s (a queue of
work behind a fast start). recvfrom(65535) and invalid UTF-8 sent back as
it came (surrogateescape), so nothing here is wrong: a grader must not
FAIL it.

Usage: python3 tests/peers/class/udp_slower_after_first.py
"""
from socket import *
import threading
import time

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', 0))
serverPort = serverSocket.getsockname()[1]
print(f'The server is ready to receive on 127.0.0.1:{serverPort}', flush=True)


def reply(message, clientAddress, delay):
    time.sleep(delay)
    text = message.decode(errors='surrogateescape')
    modified = text.upper().encode(errors='surrogateescape')
    serverSocket.sendto(modified, clientAddress)


count = 0
while True:
    message, clientAddress = serverSocket.recvfrom(65535)
    count += 1
    if 2 <= count <= 5:
        continue
    delay = 0 if count == 1 else 0.6
    threading.Thread(target=reply, args=(message, clientAddress, delay),
                     daemon=True).start()
