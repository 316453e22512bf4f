import socket, sys, time, threading, subprocess, re
proto = sys.argv[1]; script = sys.argv[2]
p = subprocess.Popen(["deno","run","--allow-net","--unstable-net",script,"--port","0"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
line = p.stdout.readline(); port = int(re.search(r":(\d+)", line).group(1))
cps = [b*256+0x41 for b in range(0x1100) if not (0xd800 <= b*256 < 0xe000)]
big = "".join(chr(c) for c in cps).encode()
worst = 0; stop = False
def probe():
    global worst
    if proto == "tcp":
        s = socket.create_connection(("127.0.0.1", port))
        while not stop:
            t = time.perf_counter(); s.sendall(b"ping\n"); s.recv(100); worst = max(worst, time.perf_counter()-t); time.sleep(0.001)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2)
        while not stop:
            t = time.perf_counter(); s.sendto(b"ping", ("127.0.0.1", port)); s.recv(100); worst = max(worst, time.perf_counter()-t); time.sleep(0.001)
th = threading.Thread(target=probe); th.start(); time.sleep(0.5)
base = worst; worst = 0
if proto == "tcp":
    a = socket.create_connection(("127.0.0.1", port)); a.sendall(big + b"\n")
    got = b""
    while not got.endswith(b"\n"): got += a.recv(65536)
else:
    a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); a.sendto(big, ("127.0.0.1", port)); got = a.recv(65536)
time.sleep(0.3); stop = True; th.join()
print(proto, "baseline worst %.1f ms, worst during big message %.1f ms, reply ok %s" % (base*1000, worst*1000, got.rstrip(b"\n") == big.decode().upper().encode()))
p.terminate()
