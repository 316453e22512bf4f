import assert from "node:assert/strict";
import { sendTcp, streamTcp } from "../tcp_client.ts";
import {
  bytes,
  canRun,
  hasProgram,
  onTerminal,
  ROOT,
  runScript,
  text,
  withServer,
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
      /^tcp_client: network access to "127\.0\.0\.1:12000" was not granted: deno run --allow-net tcp_client\.ts\n$/,
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

Deno.test("tcp_client CLI --timeout 1 gives up on a server that never replies", async () => {
  await withPeer(async (conn) => {
    await conn.read(new Uint8Array(1024)); // read, then say nothing
  }, async (port) => {
    const started = performance.now();
    const out = await runScript(
      "tcp_client.ts",
      ["--host", "127.0.0.1", "-p", String(port), "--timeout", "1", "hi"],
      { flags: ["run", "--allow-net"] },
    );
    const seconds = (performance.now() - started) / 1000;
    assert.equal(out.code, 1, out.stderr);
    assert.match(
      out.stderr,
      /^tcp_client: no reply from 127\.0\.0\.1:\d+ within 1 s[^\n]*\n$/,
    );
    assert.ok(seconds < 6, `took ${seconds} s`);
  });
});
