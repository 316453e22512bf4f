/**
 * The textbook protocol is open: our programs must work with the textbook's
 * own Python programs (stand-ins in tests/peers/ do what they do).
 */
import assert from "node:assert/strict";
import {
  canRun,
  hasProgram,
  runScript,
  script,
  startServer,
  text,
  withServer,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");
const pythonReason = "interop with the textbook programs needs python3";

/** Runs a Python peer to completion (bounded) and returns its output. */
async function python(args: string[]) {
  const out = await new Deno.Command("python3", {
    args,
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONIOENCODING: "utf-8" },
    signal: AbortSignal.timeout(10_000),
  }).output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

Deno.test({
  name:
    "interop: the textbook's UDPClient.py gets HELLO WORLD from udp_server CLI",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const server = await startServer(script("udp_server.ts", "-p", "0"));
    try {
      for (
        const [sentence, expected] of [["hello world", "HELLO WORLD"], [
          "straße é",
          "STRASSE É",
        ]]
      ) {
        const out = await python([
          "tests/peers/textbook_udp_client.py",
          ...["127.0.0.1", String(server.port), sentence],
        ]);
        assert.equal(out.stderr, "");
        assert.equal(out.stdout, `${expected}\n`);
      }
    } finally {
      const { code } = await server.stop();
      assert.equal(code, 0);
    }
  },
});

Deno.test({
  name:
    "interop: udp_client CLI gets HELLO WORLD from the textbook's UDPServer.py",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const server = await startServer([
      "python3",
      "tests/peers/textbook_udp_server.py",
    ]);
    try {
      const words = await runScript("udp_client.ts", [
        ...["--host", "127.0.0.1", "-p", String(server.port), "hello", "world"],
      ]);
      assert.deepEqual(words, {
        code: 0,
        signal: null,
        stdout: "HELLO WORLD\n",
        stderr: "",
      });
      const piped = await runScript("udp_client.ts", [
        "-p",
        String(server.port),
      ], {
        stdin: "one\nstraße\n",
      });
      assert.deepEqual(piped, {
        code: 0,
        signal: null,
        stdout: "ONE\nSTRASSE\n",
        stderr: "",
      });
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test({
  name:
    "interop: serveUdp() echoes the invalid UTF-8 that crashes the textbook's decode()",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    await withServer("udp", {}, async (port) => {
      const out = await python([
        "-c",
        [
          "import socket, sys",
          "s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)",
          "s.settimeout(5)",
          `s.sendto(b'abc\\xff\\xfe\\xc3\\xa9', ('127.0.0.1', ${port}))`,
          "print(s.recvfrom(2048)[0].hex())",
        ].join("\n"),
      ]);
      assert.equal(out.stdout, "414243fffec389\n");
    });
  },
});

const hasNetcat = await hasProgram("nc");
const hasSocat = await hasProgram("socat");

/** Runs a shell pipeline (bounded) and returns its stdout. */
async function shell(script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(10_000),
  }).output();
  assert.equal(out.code, 0, `${script} failed`);
  return text(out.stdout);
}

Deno.test({
  name: "interop: serveUdp() answers netcat and socat as UDP clients",
  ignore: !canRun(hasNetcat && hasSocat, "needs nc (netcat-openbsd) and socat"),
  async fn() {
    await withServer("udp", {}, async (port) => {
      assert.equal(
        await shell(`printf 'hello nc\\n' | nc -u -w1 127.0.0.1 ${port}`),
        "HELLO NC\n",
      );
      assert.equal(
        await shell(
          `printf 'hello socat\\n' | socat -t1 - UDP:127.0.0.1:${port}`,
        ),
        "HELLO SOCAT\n",
      );
    });
  },
});

Deno.test({
  name:
    "interop: udp_client CLI gets its reply from an upper-casing socat server",
  ignore: !canRun(hasSocat, "needs socat"),
  async fn() {
    // socat prints no ready line: take a free port, and let the client's
    // retries cover socat's start-up.
    const probe = Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 0,
    });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const socat = new Deno.Command("socat", {
      args: [`UDP4-RECVFROM:${port},bind=127.0.0.1,fork`, "SYSTEM:tr a-z A-Z"],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      const out = await runScript("udp_client.ts", [
        ...[
          "--host",
          "127.0.0.1",
          "-p",
          String(port),
          "--timeout",
          "0.5",
          "--retries",
          "10",
        ],
        ...["via", "socat"],
      ]);
      assert.deepEqual(out, {
        code: 0,
        signal: null,
        stdout: "VIA SOCAT\n",
        stderr: "",
      });
    } finally {
      socat.kill("SIGKILL");
      await socat.status;
    }
  },
});

Deno.test({
  name:
    "interop: tcp_server CLI answers the textbook's TCPClient.py (no newline, one recv)",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const server = await startServer(script("tcp_server.ts", "-p", "0"));
    try {
      const out = await python([
        "tests/peers/textbook_tcp_client.py",
        ...["127.0.0.1", String(server.port), "hello world"],
      ]);
      assert.equal(out.stderr, "");
      assert.equal(out.stdout, "From Server:  HELLO WORLD\n");
    } finally {
      const { code, stderr } = await server.stop();
      assert.equal(code, 0);
      assert.match(stderr, /served 1 connections/);
    }
  },
});

Deno.test({
  name:
    "interop: tcp_client CLI gets every reply from the textbook's TCPServer.py (one recv, reply, close)",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const server = await startServer([
      "python3",
      "tests/peers/textbook_tcp_server.py",
    ]);
    try {
      const out = await runScript("tcp_client.ts", [
        ...["--host", "127.0.0.1", "-p", String(server.port)],
      ], { flags: ["run", "--allow-net"], stdin: "hello world\nstraße\n" });
      assert.deepEqual(out, {
        code: 0,
        signal: null,
        stdout: "HELLO WORLD\nSTRASSE\n",
        stderr: "",
      });
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test({
  name:
    "interop: tcp_client CLI gets every reply from a line server that never closes (Java companion)",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const server = await startServer([
      "python3",
      "tests/peers/line_tcp_server.py",
    ]);
    try {
      const out = await runScript("tcp_client.ts", [
        ...["--host", "127.0.0.1", "-p", String(server.port), "--timeout", "5"],
      ], { flags: ["run", "--allow-net"], stdin: "one\ntwo\n" });
      assert.deepEqual(out, {
        code: 0,
        signal: null,
        stdout: "ONE\nTWO\n",
        stderr: "",
      });
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test({
  name: "interop: serveTcp() answers netcat and socat as TCP clients",
  ignore: !canRun(hasNetcat && hasSocat, "needs nc (netcat-openbsd) and socat"),
  async fn() {
    await withServer("tcp", {}, async (port) => {
      assert.equal(
        await shell(
          `printf 'hello nc\\nline two\\n' | nc -N 127.0.0.1 ${port}`,
        ),
        "HELLO NC\nLINE TWO\n",
      );
      assert.equal(
        await shell(`printf 'hello socat\\n' | socat - TCP:127.0.0.1:${port}`),
        "HELLO SOCAT\n",
      );
    });
  },
});
