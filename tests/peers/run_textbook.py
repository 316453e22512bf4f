"""Runs one of the textbook's server programs, unchanged, for tests.

Usage: python3 tests/peers/run_textbook.py tests/peers/textbook/TCPServer.py
       python3 tests/peers/run_textbook.py tests/peers/textbook/UDPServer.py

The programs in tests/peers/textbook/ are the chapter's lines as printed:
they bind ('', 12000), every address on a fixed port. Tests never do that:
a fixed port collides with another test, another run or anything else on
the machine, and '' (0.0.0.0) would open the server to the network. So the
program's text is run as it is, with socket.socket.bind patched to bind
('127.0.0.1', 0) instead, whatever address it is given; the kernel picks a
free port. Everything else is the real socket module.

The tests wait for a first stdout line naming the port, so this runner
prints "The server is ready to receive on 127.0.0.1:PORT" once, for the
first server socket: after listen() for a SOCK_STREAM socket, after bind()
for a SOCK_DGRAM one. The program's own stdout (its "The server is ready
to receive") goes to stderr, so that stdout carries that one line only.
"""
import runpy
import socket
import sys

realStdout = sys.stdout
realBind = socket.socket.bind
realListen = socket.socket.listen
announced = False


def announce(sock):
    global announced
    if not announced:
        announced = True
        port = sock.getsockname()[1]
        print(f"The server is ready to receive on 127.0.0.1:{port}",
              file=realStdout, flush=True)


def bind(self, address):
    realBind(self, ("127.0.0.1", 0))
    if self.type == socket.SOCK_DGRAM:
        announce(self)


def listen(self, *backlog):
    realListen(self, *backlog)
    if self.type == socket.SOCK_STREAM:
        announce(self)


if len(sys.argv) != 2:
    sys.exit("usage: python3 tests/peers/run_textbook.py PROGRAM.py")
socket.socket.bind = bind
socket.socket.listen = listen
sys.stdout = sys.stderr
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
