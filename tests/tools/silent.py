#!/usr/bin/python3
"""A TCP server that accepts connections and never says a word (tests'
"gateway that never answers"). Usage: silent.py PORT; prints "ready"."""
import socket
import sys
import time

s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
print("ready", flush=True)
held = []
while True:
    c, _ = s.accept()
    held.append(c)
    time.sleep(0.01)
