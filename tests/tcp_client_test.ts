import assert from "node:assert/strict";
import { sendTcp, streamTcp } from "../tcp_client.ts";
import {
  bytes,
  canRun,
  hasProgram,
  namespacesUnavailable,
  onTerminal,
  type Output,
  ROOT,
  runScript,
  script,
  text,
  WAIT_MS,
  withServer,
  withSystemFiles,
  withTimeout,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");

/** A listener that does `handle` with each connection, for odd servers. */
async function withPeer(
  handle: (conn: Deno.Conn) => Promise<void>,
  fn: (port: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  const handling: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        open.add(conn);
        handling.push(handle(conn).catch(() => {}));
      }
    } catch {
      // closed below
    }
  })();
  try {
    await fn(listener.addr.port);
  } finally {
    listener.close();
    await accepting;
    for (const conn of open) {
      try {
        conn.close();
      } catch {
        // the handler closed it
      }
    }
    await Promise.all(handling);
  }
}

/** Collects every reply of `sendTcp` as text. */
async function replies(
  sentences: string[],
  options: Parameters<typeof sendTcp>[1],
): Promise<string[]> {
  const texts: string[] = [];
  for await (const reply of sendTcp(sentences, options)) {
    texts.push(text(reply));
  }
  return texts;
}

Deno.test("sendTcp() yields each sentence's reply, in order", async () => {
  await withServer("tcp", {}, async (port) => {
    assert.deepEqual(
      await replies(["one", "straße", "", "x".repeat(100_000)], {
        hostname: "127.0.0.1",
        port,
      }),
      ["ONE", "STRASSE", "", "X".repeat(100_000)],
    );
  });
});

Deno.test("sendTcp() opens one connection per sentence, as TCPClient.py does", async () => {
  const received: string[] = [];
  await withPeer(async (conn) => {
    // Each connection: one sentence and its newline, answered, then closed.
    const buffer = new Uint8Array(64);
    let line = "";
    while (!line.endsWith("\n")) {
      const n = await conn.read(buffer);
      if (n === null) break;
      line += text(buffer.subarray(0, n));
    }
    received.push(line);
    await conn.write(bytes(line.toUpperCase()));
    conn.close();
  }, async (port) => {
    assert.deepEqual(
      await replies(["one", "two", "three"], { hostname: "127.0.0.1", port }),
      ["ONE", "TWO", "THREE"],
    );
  });
  assert.deepEqual(received, ["one\n", "two\n", "three\n"]);
});

Deno.test("sendTcp() reaches a server by the name localhost", async () => {
  await withServer("tcp", {}, async (port) => {
    assert.deepEqual(await replies(["hi"], { hostname: "localhost", port }), [
      "HI",
    ]);
  });
});

Deno.test("sendTcp() reaches a server over IPv6", async () => {
  await withServer("tcp", { hostname: "::1" }, async (port) => {
    assert.deepEqual(
      await replies(["hi"], { hostname: "::1", port }),
      ["HI"],
    );
  });
});

Deno.test("sendTcp() rejects with a timeout when the server never replies", async () => {
  await withPeer(async (conn) => {
    await conn.read(new Uint8Array(1024)); // read, then say nothing
  }, async (port) => {
    // Bounded here too: a timeout that never closes fails, not hangs.
    await withTimeout(
      assert.rejects(
        replies(["hello"], { hostname: "127.0.0.1", port, timeout: 0.3 }),
        /no reply from 127\.0\.0\.1:\d+ within 0\.3 s/,
      ),
      "the reply timeout",
    );
  });
});

Deno.test("sendTcp() rejects when the server closes without replying", async () => {
  await withPeer((conn) => {
    conn.close();
    return Promise.resolve();
  }, async (port) => {
    await assert.rejects(
      replies(["hello"], { hostname: "127.0.0.1", port }),
      /closed the connection without replying/,
    );
  });
});

Deno.test("sendTcp() rejects a refused connection with an error that says so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  await assert.rejects(
    replies(["x"], { hostname: "127.0.0.1", port }),
    /connection refused by 127\.0\.0\.1:\d+: is the server running there\?/,
  );
});

Deno.test("streamTcp() brings everything back, in order, after a half-close", async () => {
  await withServer("tcp", {}, async (port) => {
    const line = bytes("stream me, straße\n");
    const input = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 1000; i++) controller.enqueue(line);
        controller.close();
      },
    });
    const chunks: Uint8Array[] = [];
    const output = new WritableStream<Uint8Array>({
      write(chunk) {
        chunks.push(chunk);
      },
    });
    const counts = await streamTcp(input, output, {
      hostname: "127.0.0.1",
      port,
    });
    assert.deepEqual(counts, { sent: 19_000, received: 19_000 });
    const received = text(new Uint8Array(chunks.flatMap((c) => [...c])));
    assert.equal(received, "STREAM ME, STRASSE\n".repeat(1000));
  });
});

Deno.test("streamTcp() times out when the server keeps quiet after the input ends", async () => {
  await withPeer(async (conn) => {
    while ((await conn.read(new Uint8Array(1024))) !== null) {
      // take everything, answer nothing, and leave the connection open
    }
  }, async (port) => {
    const input = ReadableStream.from([bytes("hello")]);
    const output = new WritableStream<Uint8Array>();
    // Bounded here too: a watchdog that never fires fails, not hangs.
    await withTimeout(
      assert.rejects(
        streamTcp(input, output, { hostname: "127.0.0.1", port, timeout: 0.3 }),
        /sent nothing for 0\.3 s after the end of the input/,
      ),
      "the watchdog",
    );
  });
});

Deno.test("streamTcp() reports an input that cannot be read, after the server's answer to what came", async () => {
  await withServer("tcp", {}, async (port) => {
    let sent = false;
    const input = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent) throw new Error("Bad file descriptor (os error 9)");
        controller.enqueue(bytes("before\n"));
        sent = true;
      },
    });
    const chunks: Uint8Array[] = [];
    const output = new WritableStream<Uint8Array>({
      write(chunk) {
        chunks.push(chunk);
      },
    });
    await withTimeout(
      assert.rejects(
        streamTcp(input, output, { hostname: "127.0.0.1", port }),
        /^Error: the input cannot be read \(Bad file descriptor \(os error 9\)\)/,
      ),
      "the stream's end",
    );
    assert.equal(
      text(new Uint8Array(chunks.flatMap((c) => [...c]))),
      "BEFORE\n",
    );
  });
});

Deno.test("tcp_client CLI stops reading a server that sends without end and no newline, saying so", async () => {
  await withPeer(async (conn) => {
    const flood = new Uint8Array(64 * 1024).fill(0x41);
    try {
      while (true) await conn.write(flood);
    } catch {
      // the client closed: it stopped reading, as it must
    }
  }, async (port) => {
    const out = await withTimeout(
      runScript("tcp_client.ts", ["-p", String(port), "hi"], {
        flags: ["run", "--allow-net"],
      }),
      "the client's end",
    );
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^tcp_client: the reply was cut short: \d+ bytes came, then localhost:\d+ sent more than any reply to this sentence, before the newline that ends it\n$/,
    );
  });
});

Deno.test("tcp_client CLI sends its words as one sentence", async () => {
  await withServer("tcp", {}, async (port) => {
    const words = await runScript("tcp_client.ts", [
      "-p",
      String(port),
      "hello",
      "wörld",
    ], {
      flags: ["run", "--allow-net"],
    });
    assert.deepEqual(words, {
      code: 0,
      signal: null,
      stdout: "HELLO WÖRLD\n",
      stderr: "",
    });
  });
});

Deno.test("tcp_client CLI answers a pipe with one reply line per line", async () => {
  await withServer("tcp", {}, async (port) => {
    const piped = await runScript("tcp_client.ts", ["-p", String(port)], {
      flags: ["run", "--allow-net"],
      stdin: "one\ntwo\r\n\nthree",
    });
    assert.deepEqual(piped, {
      code: 0,
      signal: null,
      stdout: "ONE\nTWO\n\nTHREE\n",
      stderr: "",
    });
  });
});

Deno.test("tcp_client CLI --json prints one object per reply and a summary", async () => {
  await withServer("tcp", {}, async (port) => {
    const out = await runScript(
      "tcp_client.ts",
      ["-p", String(port), "--json"],
      {
        flags: ["run", "--allow-net"],
        stdin: "one\nstraße\n",
      },
    );
    assert.equal(out.code, 0, out.stderr);
    assert.equal(
      out.stdout,
      '{"reply":"ONE"}\n{"reply":"STRASSE"}\n{"replies":2}\n',
    );
  });
});

Deno.test("tcp_client CLI --stream pipes 50 MB through the server, byte for byte", async () => {
  // Multi-byte characters land on every chunk boundary somewhere in 50 MB.
  const line = "the quick brown fox, straße, é, ŉ, 😀 — 1234567890\n";
  const upper = "THE QUICK BROWN FOX, STRASSE, É, ʼN, 😀 — 1234567890\n";
  const lineBytes = bytes(line);
  const upperBytes = bytes(upper);
  const count = Math.ceil(50 * 1024 * 1024 / lineBytes.length);
  await withServer("tcp", {}, async (port) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "tcp_client.ts",
        "-p",
        String(port),
        "--stream",
      ],
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).spawn();
    const writing = (async () => {
      const writer = child.stdin.getWriter();
      const batch = bytes(line.repeat(1000));
      for (let i = 0; i < count; i += 1000) await writer.write(batch);
      await writer.close();
    })();
    // Compare as it comes: position within the expected repeated line.
    let received = 0;
    let mismatch = -1;
    for await (const chunk of child.stdout) {
      for (let i = 0; i < chunk.length && mismatch < 0; i++) {
        if (chunk[i] !== upperBytes[(received + i) % upperBytes.length]) {
          mismatch = received + i;
        }
      }
      received += chunk.length;
    }
    await writing;
    const stderr = text(
      new Uint8Array(await new Response(child.stderr).arrayBuffer()),
    );
    const { code } = await child.status;
    assert.equal(code, 0, stderr);
    assert.equal(mismatch, -1, `first difference at byte ${mismatch}`);
    assert.equal(received, Math.ceil(count / 1000) * 1000 * upperBytes.length);
  });
});

Deno.test("tcp_client CLI prints one line and exits 1 on each failure", async (t) => {
  const flags = ["run", "--allow-net"];
  await t.step("refused", async () => {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = String(listener.addr.port);
    listener.close();
    const out = await runScript("tcp_client.ts", [
      "--host",
      "127.0.0.1",
      "-p",
      port,
      "hi",
    ], { flags });
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^tcp_client: connection refused by 127\.0\.0\.1:\d+: [^\n]+\n$/,
    );
  });
  await t.step("unknown host", async () => {
    const out = await runScript("tcp_client.ts", [
      "--host",
      "no-such-host.invalid",
      "hi",
    ], { flags });
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      "tcp_client: cannot resolve host no-such-host.invalid: check --host\n",
    );
  });
  await t.step("no reply", async () => {
    await withPeer(async (conn) => {
      await conn.read(new Uint8Array(1024));
    }, async (port) => {
      const out = await runScript(
        "tcp_client.ts",
        ["--host", "127.0.0.1", "-p", String(port), "--timeout", "0.3", "hi"],
        { flags },
      );
      assert.equal(out.code, 1);
      assert.match(
        out.stderr,
        /^tcp_client: no reply from 127\.0\.0\.1:\d+ within 0\.3 s[^\n]*\n$/,
      );
    });
  });
  await t.step("closed early", async () => {
    await withPeer((conn) => {
      conn.close();
      return Promise.resolve();
    }, async (port) => {
      const out = await runScript("tcp_client.ts", [
        "--host",
        "127.0.0.1",
        "-p",
        String(port),
        "hi",
      ], {
        flags,
      });
      assert.equal(out.code, 1);
      assert.match(
        out.stderr,
        /^tcp_client: 127\.0\.0\.1:\d+ closed the connection without replying[^\n]*\n$/,
      );
    });
  });
  await t.step("server killed in the middle of a stream", async () => {
    await withPeer(async (conn) => {
      await conn.read(new Uint8Array(1024));
      await conn.write(bytes("PART"));
      conn.close();
    }, async (port) => {
      const out = await runScript(
        "tcp_client.ts",
        [
          "--host",
          "127.0.0.1",
          "-p",
          String(port),
          "--stream",
          "--timeout",
          "2",
        ],
        { flags, stdin: "x".repeat(1_000_000) },
      );
      assert.equal(out.code, 1);
      assert.equal(out.stdout, "PART");
      assert.match(out.stderr, /^tcp_client: [^\n]+\n$/);
    });
  });
  await t.step("without --allow-net", async () => {
    const out = await runScript(
      "tcp_client.ts",
      ["--host", "127.0.0.1", "hi"],
      {
        flags: ["run", "--no-prompt"],
      },
    );
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^tcp_client: network access to "127\.0\.0\.1:12000" was not granted: give --no-prompt --allow-net=127\.0\.0\.1:12000, or --allow-net: deno run --allow-net tcp_client\.ts\n$/,
    );
  });
});

Deno.test("tcp_client CLI prints one line and exits 2 on a usage error", async (t) => {
  for (
    const args of [
      ["--port", "0"],
      ["--timeout", "-1"],
      ["--stream", "words"],
      ["-x"],
      // Options that do nothing in the mode chosen.
      ["--stream", "-v"],
    ]
  ) {
    await t.step(args.join(" "), async () => {
      const out = await runScript("tcp_client.ts", args, {
        flags: ["run", "--allow-net"],
      });
      assert.equal(out.code, 2);
      assert.match(out.stderr, /^tcp_client: [^\n]+ \(see --help\)\n$/);
    });
  }
  await t.step("--help", async () => {
    const out = await runScript("tcp_client.ts", ["--help"], {
      flags: ["run"],
    });
    assert.equal(out.code, 0);
    assert.match(out.stdout, /deno run --allow-net tcp_client\.ts/);
  });
});

Deno.test({
  name: "tcp_client CLI prompts at a terminal as the textbook does",
  ignore: !canRun(hasPython, "the terminal test needs python3 for a pty"),
  async fn() {
    await withServer("tcp", {}, async (port) => {
      const { code, stdout } = await new Deno.Command("python3", {
        args: [
          "tests/peers/pty_run.py",
          "Input lowercase sentence:",
          "hello\nstraße",
          Deno.execPath(),
          ...["run", "--allow-net", "tcp_client.ts", "-p", String(port)],
        ],
        cwd: ROOT,
        stdout: "piped",
        signal: AbortSignal.timeout(15_000),
      }).output();
      const shown = onTerminal(stdout);
      assert.equal(code, 0, shown);
      assert.equal(
        shown,
        "Input lowercase sentence:hello\nHELLO\n" +
          "Input lowercase sentence:straße\nSTRASSE\n" +
          "Input lowercase sentence:\n",
      );
    });
  },
});

Deno.test("tcp_client CLI -v prints each socket step on stderr, in order", async () => {
  await withServer("tcp", {}, async (port) => {
    const out = await runScript("tcp_client.ts", [
      "--host",
      "127.0.0.1",
      "-p",
      String(port),
      "-v",
      "hi",
    ], {
      flags: ["run", "--allow-net"],
    });
    assert.equal(out.code, 0);
    assert.equal(out.stdout, "HI\n");
    assert.match(
      out.stderr,
      new RegExp(
        `^tcp_client: connect: 127\\.0\\.0\\.1:\\d+ to 127\\.0\\.0\\.1:${port}\n` +
          `tcp_client: send: 3 bytes to 127\\.0\\.0\\.1:${port}\n` +
          `tcp_client: recv: 3 bytes from 127\\.0\\.0\\.1:${port}\n` +
          "tcp_client: close\n$",
      ),
    );
  });
});

// ---------------------------------------------------------------------------
// Names, addresses and lookups, as the system gives them: a hosts file and a
// resolv.conf of the test's own, bind-mounted in a mount namespace.
// ---------------------------------------------------------------------------

const namespaceReason = await namespacesUnavailable();
const hasNamespaces = namespaceReason === undefined;

/** What the system files say inside the namespace. */
interface SystemFiles {
  /** The text of /etc/hosts. */
  hosts: string;
  /** The text of /etc/resolv.conf, if it is to be replaced. */
  resolv?: string;
}

/**
 * Runs tcp_client.ts with `args` in a mount namespace where /etc/hosts
 * (and /etc/resolv.conf) are `files`' (see {@linkcode withSystemFiles});
 * `whileRunning` may act on it (send a signal) as it runs. It is killed with
 * SIGKILL after WAIT_MS, so a client that hangs fails the test rather than
 * hanging it. Resolves with its output and how long it ran.
 */
function clientWithSystemFiles(
  files: SystemFiles,
  args: string[],
  whileRunning: (child: Deno.ChildProcess) => Promise<unknown> = async () => {},
): Promise<Output & { seconds: number }> {
  const etc: Record<string, string> = { "/etc/hosts": files.hosts };
  if (files.resolv !== undefined) etc["/etc/resolv.conf"] = files.resolv;
  return withSystemFiles(etc, async (inNamespace) => {
    const [program, ...rest] = inNamespace(script("tcp_client.ts", ...args));
    const child = new Deno.Command(program, {
      args: rest,
      cwd: ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const deadline = setTimeout(() => child.kill("SIGKILL"), WAIT_MS);
    const started = performance.now();
    const output = child.output(); // read from the start, whatever happens
    try {
      await whileRunning(child);
      const { code, signal, stdout, stderr } = await output;
      return {
        code,
        signal,
        stdout: text(stdout),
        stderr: text(stderr),
        seconds: (performance.now() - started) / 1000,
      };
    } catch (error) {
      child.kill("SIGKILL");
      await output;
      throw error;
    } finally {
      clearTimeout(deadline);
    }
  });
}

/**
 * A TCP port of `hostname` that drops every connection attempt, as a host
 * behind a firewall does: a Python listener with a backlog of 0, filled by
 * one connection it never accepts, so that Linux drops the next SYNs.
 */
async function withDroppingPort(
  hostname: string,
  fn: (port: number) => Promise<void>,
) {
  const child = new Deno.Command("python3", {
    args: [
      "-c",
      "import socket, sys\n" +
      "family = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET\n" +
      "listener = socket.socket(family)\n" +
      "listener.bind((sys.argv[1], 0))\n" +
      "listener.listen(0)\n" +
      "filler = socket.create_connection(listener.getsockname()[:2])\n" +
      "print(listener.getsockname()[1], flush=True)\n" +
      "sys.stdin.read()\n",
      hostname,
    ],
    stdin: "piped",
    stdout: "piped",
    signal: AbortSignal.timeout(60_000),
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const { value } = await withTimeout(lines.read(), "the dropping port");
    await fn(Number(value));
  } finally {
    await lines.cancel();
    await child.stdin.close();
    await withTimeout(child.status, "the dropping port's end");
  }
}

Deno.test({
  name:
    "tcp_client CLI reaches a server on 0.0.0.0 where localhost is ::1 first",
  ignore: !canRun(hasNamespaces, `${namespaceReason}`),
  async fn() {
    await withServer("tcp", { hostname: "0.0.0.0" }, async (port) => {
      const out = await clientWithSystemFiles(
        { hosts: "::1 localhost\n127.0.0.1 localhost\n" },
        ["-p", String(port), "hello"],
      );
      assert.deepEqual(
        [out.stderr, out.stdout, out.code],
        ["", "HELLO\n", 0],
      );
    });
  },
});

/** Runs `fn` with the address of a name server that never answers. */
async function withSilentNameServer(
  fn: (address: string, queried: Promise<unknown>) => Promise<void>,
) {
  const address = `127.29.${Deno.pid % 250}.${1 + Deno.pid % 200}`;
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: address,
    port: 53,
  });
  const queried = socket.receive();
  queried.catch(() => {}); // cancelled when the socket closes
  try {
    await fn(address, queried);
  } finally {
    socket.close();
  }
}

let canBindPort53 = false;
try {
  await withSilentNameServer(() => Promise.resolve());
  canBindPort53 = true;
} catch {
  // not root, or port 53 is taken there
}

Deno.test({
  name:
    "tcp_client CLI --timeout bounds a lookup that never gets an answer; Ctrl-C stops it",
  ignore: !canRun(hasNamespaces, `${namespaceReason}`) ||
    !canRun(canBindPort53, "a silent name server needs port 53 (root)"),
  async fn(t) {
    const files = (address: string) => ({
      hosts: "127.0.0.1 localhost\n",
      // The resolver's own timeout is far longer than --timeout.
      resolv: `nameserver ${address}\noptions timeout:30 attempts:1\n`,
    });
    await t.step("--timeout 1", async () => {
      await withSilentNameServer(async (address, queried) => {
        const out = await clientWithSystemFiles(
          files(address),
          ["--host", "slow-lookup.example", "--timeout", "1", "hi"],
          () => withTimeout(queried, "the client's lookup").catch(() => {}),
        );
        assert.equal(out.code, 1, out.stderr);
        assert.match(
          out.stderr,
          /^tcp_client: cannot resolve host slow-lookup\.example within 1 s[^\n]*\n$/,
        );
        assert.ok(out.seconds < 5, `took ${out.seconds} s`);
      });
    });
    await t.step("Ctrl-C", async () => {
      await withSilentNameServer(async (address, queried) => {
        let interrupted = 0;
        const out = await clientWithSystemFiles(
          files(address),
          ["--host", "slow-lookup.example", "hi"],
          async (child) => {
            try {
              await withTimeout(queried, "the client's lookup");
            } finally {
              child.kill("SIGINT");
              interrupted = performance.now();
            }
          },
        );
        assert.equal(out.code, 130);
        const seconds = (performance.now() - interrupted) / 1000;
        assert.ok(seconds < 3, `took ${seconds} s after Ctrl-C`);
      });
    });
  },
});

/** Asserts that a client sent "hi", printed the "HI" back, and nothing else. */
function assertSaidHi(out: Output) {
  assert.deepEqual([out.stderr, out.stdout, out.code], ["", "HI\n", 0]);
}

Deno.test({
  name:
    "tcp_client CLI tries each address of a name, in order, within --timeout",
  ignore: !canRun(hasNamespaces, `${namespaceReason}`) ||
    !canRun(hasPython, "a port that drops connections needs python3"),
  async fn(t) {
    const hosts = "127.0.0.1 two-addresses\n127.0.0.2 two-addresses\n";
    const args = (port: number) => [
      ...["--host", "two-addresses", "-p", String(port), "--timeout", "2"],
      "hi",
    ];
    // Whichever the system puts first, the one that drops is passed over.
    for (
      const [dropping, serving] of [["127.0.0.1", "127.0.0.2"], [
        "127.0.0.2",
        "127.0.0.1",
      ]]
    ) {
      await t.step(`${dropping} drops, ${serving} serves`, async () => {
        await withDroppingPort(dropping, async (port) => {
          await withServer("tcp", { hostname: serving, port }, async () => {
            const out = await clientWithSystemFiles({ hosts }, args(port));
            assertSaidHi(out);
            assert.ok(out.seconds < 6, `took ${out.seconds} s`);
          });
        });
      });
    }
    for (const refusing of ["127.0.0.1", "127.0.0.2"]) {
      const serving = refusing === "127.0.0.1" ? "127.0.0.2" : "127.0.0.1";
      await t.step(`${refusing} refuses, ${serving} serves`, async () => {
        await withServer("tcp", { hostname: serving }, async (port) => {
          assertSaidHi(await clientWithSystemFiles({ hosts }, args(port)));
        });
      });
    }
    await t.step(
      "one drops, the other refuses: the error names both",
      async () => {
        await withDroppingPort("127.0.0.1", async (port) => {
          const out = await clientWithSystemFiles({ hosts }, args(port));
          assert.equal(out.code, 1);
          assert.match(
            out.stderr,
            /^tcp_client: no connection to two-addresses:\d+ at any of its addresses \((127\.0\.0\.1 did not answer within [\d.]+ s, 127\.0\.0\.2 refused|127\.0\.0\.2 refused, 127\.0\.0\.1 did not answer within [\d.]+ s)\)[^\n]*\n$/,
          );
          assert.ok(out.seconds < 6, `took ${out.seconds} s`);
        });
      },
    );
  },
});

Deno.test("tcp_client CLI takes an IPv4 address with a trailing dot, as udp_client does", async () => {
  await withServer("tcp", {}, async (port) => {
    const out = await runScript(
      "tcp_client.ts",
      ["--host", "127.0.0.1.", "-p", String(port), "hi"],
      { flags: ["run", "--allow-net"] },
    );
    assert.deepEqual(out, {
      code: 0,
      signal: null,
      stdout: "HI\n",
      stderr: "",
    });
  });
});

Deno.test("tcp_client CLI --stream with an unreadable stdin (nohup) says so and exits 1", async () => {
  await withServer("tcp", {}, async (port) => {
    // nohup at a terminal leaves stdin open write-only: reads fail (EBADF).
    const args = ["--host", "127.0.0.1", "-p", String(port), "--stream"];
    const { code, stdout, stderr } = await new Deno.Command("sh", {
      args: [
        ...["-c", 'exec "$@" 0>/dev/null', "sh"],
        ...script("tcp_client.ts", ...args),
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(WAIT_MS),
    }).output();
    assert.equal(code, 1, text(stderr));
    assert.equal(text(stdout), "");
    assert.match(
      text(stderr),
      /^tcp_client: the input cannot be read \(Bad file descriptor[^\n]*\n$/,
    );
  });
});

/** Runs `tcp_client.ts --timeout 1 hi` to 127.0.0.1:`port`, timed. */
async function sayHiWithin1s(port: number) {
  const started = performance.now();
  const out = await runScript(
    "tcp_client.ts",
    ["--host", "127.0.0.1", "-p", String(port), "--timeout", "1", "hi"],
    { flags: ["run", "--allow-net"] },
  );
  return { ...out, seconds: (performance.now() - started) / 1000 };
}

Deno.test({
  name:
    "tcp_client CLI --timeout 1 gives up on an address that drops connections",
  ignore: !canRun(hasPython, "a port that drops connections needs python3"),
  async fn() {
    await withDroppingPort("127.0.0.1", async (port) => {
      const out = await sayHiWithin1s(port);
      assert.equal(out.code, 1, out.stderr);
      assert.match(
        out.stderr,
        /^tcp_client: no connection to 127\.0\.0\.1:\d+ within 1 s[^\n]*\n$/,
      );
      assert.ok(out.seconds < 6, `took ${out.seconds} s`);
    });
  },
});

Deno.test("tcp_client CLI --timeout 1 gives up on a server that never replies", async () => {
  await withPeer(async (conn) => {
    await conn.read(new Uint8Array(1024)); // read, then say nothing
  }, async (port) => {
    const out = await sayHiWithin1s(port);
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stderr,
      /^tcp_client: no reply from 127\.0\.0\.1:\d+ within 1 s[^\n]*\n$/,
    );
    assert.ok(out.seconds < 6, `took ${out.seconds} s`);
  });
});
