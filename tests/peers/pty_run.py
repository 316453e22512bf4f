"""Runs a command on a pseudo-terminal, answers its prompts, and prints all
that the terminal showed.

Usage: python3 pty_run.py PROMPT ANSWERS COMMAND [ARG...]

Each time PROMPT appears, the next line of ANSWERS is typed; once they are
all typed, the next prompt is answered with Ctrl-D (end of input). The
command is killed after 10 seconds, so a test never hangs.
"""
import os
import pty
import select
import signal
import sys
import time

prompt = sys.argv[1].encode()
answers = [line.encode() + b"\n" for line in sys.argv[2].splitlines()]
answers.append(b"\x04")
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[3], sys.argv[3:])

shown = b""
typed = 0
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    if typed < len(answers) and shown.count(prompt) > typed:
        os.write(fd, answers[typed])
        typed += 1
    ready, _, _ = select.select([fd], [], [], 0.05)
    if ready:
        try:
            data = os.read(fd, 4096)
        except OSError:  # Linux reports the closed terminal as EIO
            break
        if not data:
            break
        shown += data
else:
    os.kill(pid, signal.SIGKILL)
_, status = os.waitpid(pid, 0)
sys.stdout.write(shown.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
