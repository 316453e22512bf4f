"""Runs one of the textbook's client programs, unchanged, against a port.

Usage: python3 tests/peers/clients/run_textbook_client.py PROGRAM.py PORT

The textbook's clients (tests/peers/textbook/UDPClient.py, TCPClient.py)
send to ('hostname', 12000) and ('servername', 12000): names a student
replaces by hand. Their text is run as printed, with socket.socket.connect
and socket.socket.sendto patched so that those two names become
'localhost' and port 12000 becomes PORT. Everything else is the real
socket module, input() and print() included.
"""
import runpy
import socket
import sys

PLACEHOLDERS = ("hostname", "servername")

if len(sys.argv) != 3:
    sys.exit("usage: python3 run_textbook_client.py PROGRAM.py PORT")
port = int(sys.argv[2])
realConnect = socket.socket.connect
realSendto = socket.socket.sendto


def rewrite(address):
    host, serverPort = address
    if host in PLACEHOLDERS and serverPort == 12000:
        return ("localhost", port)
    return address


def connect(self, address):
    return realConnect(self, rewrite(address))


def sendto(self, data, *rest):
    return realSendto(self, data, *rest[:-1], rewrite(rest[-1]))


socket.socket.connect = connect
socket.socket.sendto = sendto
sys.argv = sys.argv[1:2]
runpy.run_path(sys.argv[0], run_name="__main__")
