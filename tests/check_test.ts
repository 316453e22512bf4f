/**
 * grade.ts's server grading as a command and as a library: ours all PASS; the text and the
 * JSON say the same; `| head -1` stops quietly; servers broken on purpose
 * in this process FAIL or WARN with the reason; a dead or silent server
 * gets one FAIL and "not checked" for the rest, in bounded time. The
 * textbook's programs and the servers a class brings are graded in
 * check_corpus_test.ts.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, grade } from "../grade.ts";
import { ROOT, runScript, startServer, text, withServer } from "./_helpers.ts";
import { TCP_CHECKS, UDP_CHECKS } from "./peers/corpus.ts";

/** Collects every result of a check. */
async function grades(
  results: AsyncIterable<CheckResult>,
): Promise<CheckResult[]> {
  const all: CheckResult[] = [];
  for await (const result of results) all.push(result);
  return all;
}

/** The verdicts alone, in order. */
const verdicts = (results: CheckResult[]) => results.map((r) => r.verdict);

/**
 * A TCP peer in this process: `reply` turns each chunk it reads into what
 * it writes back (undefined: nothing), and `closeAfter` closes after the
 * first reply.
 */
async function withTcpPeer(
  peer: {
    reply: (data: Uint8Array) => Uint8Array | undefined;
    closeAfter?: boolean;
  },
  fn: (port: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      serving.push((async () => {
        const buffer = new Uint8Array(4096);
        try {
          while (true) {
            const count = await conn.read(buffer);
            if (count === null) break;
            const answer = peer.reply(buffer.slice(0, count));
            if (answer) await conn.write(answer);
            if (peer.closeAfter) break;
          }
        } catch { /* closed by the test */ }
        connections.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      })());
    }
  })();
  try {
    await fn(listener.addr.port);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of connections) conn.close();
    await Promise.all(serving);
  }
}

/**
 * A UDP peer in this process: answers from another socket with
 * `fromAnotherPort`, and sends `thenAlso` after each reply.
 */
async function withUdpPeer(
  reply: (data: Uint8Array) => Uint8Array | undefined,
  fn: (port: number) => Promise<void>,
  options: { fromAnotherPort?: boolean; thenAlso?: Uint8Array } = {},
) {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const other = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const serving = (async () => {
    try {
      while (true) {
        const [data, from] = await socket.receive();
        const answer = reply(data);
        if (answer) {
          await (options.fromAnotherPort ? other : socket).send(answer, from);
        }
        if (options.thenAlso) await socket.send(options.thenAlso, from);
      }
    } catch { /* closed by the test */ }
  })();
  try {
    await fn((socket.addr as Deno.NetAddr).port);
  } finally {
    socket.close();
    other.close();
    await serving;
  }
}

/** A correct server's reply, and an ASCII-only server's. */
const upper = (data: Uint8Array) =>
  new TextEncoder().encode(new TextDecoder().decode(data).toUpperCase());
const asciiUpper = (data: Uint8Array) =>
  data.map((b) => b >= 0x61 && b <= 0x7a ? b - 32 : b);

Deno.test("grade tcp-server grades serveTcp() PASS on every check", async () => {
  await withServer("tcp", {}, async (port) => {
    const results = await grades(
      grade("tcp-server", { hostname: "127.0.0.1", port }),
    );
    assert.deepEqual(
      verdicts(results),
      Array(TCP_CHECKS.length).fill("PASS"),
      JSON.stringify(results),
    );
  });
});

Deno.test("grade udp-server grades serveUdp() PASS on every check", async () => {
  await withServer("udp", {}, async (port) => {
    const results = await grades(
      grade("udp-server", { hostname: "127.0.0.1", port }),
    );
    assert.deepEqual(
      verdicts(results),
      Array(UDP_CHECKS.length).fill("PASS"),
      JSON.stringify(results),
    );
  });
});

/** The flags grade.ts runs with, as its header says. */
const GRADE_FLAGS = ["run", "--allow-net", "--unstable-net", "--allow-run"];

/** Runs `grade.ts tcp-server` (and `extra`) against our own server. */
async function gradeOurServer(...extra: string[]) {
  const server = await startServer([
    Deno.execPath(),
    ...[
      "run",
      "--allow-net",
      "tcp_server.ts",
      "--host",
      "127.0.0.1",
      "-p",
      "0",
    ],
  ]);
  try {
    return await runScript(
      "grade.ts",
      ["tcp-server", ...extra, "--host", "127.0.0.1", "-p", `${server.port}`],
      { flags: GRADE_FLAGS, ms: 30_000 },
    );
  } finally {
    await server.stop();
  }
}

Deno.test("grade.ts tcp-server CLI prints a line per check and the score, exit 0 without a FAIL", async () => {
  const plain = await gradeOurServer();
  assert.equal(plain.code, 0, plain.stderr);
  const lines = plain.stdout.trimEnd().split("\n");
  assert.match(
    lines[0],
    /^Grading 127\.0\.0\.1:\d+ as a tcp-server \(each wait at most 2 s\)$/,
  );
  const checks = lines.length - 2;
  assert.equal(checks, TCP_CHECKS.length);
  for (const line of lines.slice(1, -1)) {
    assert.match(line, /^PASS {2}[^:]+: /);
  }
  assert.equal(
    lines.at(-1),
    `Score: ${checks} of ${checks} (${checks} PASS, 0 WARN, 0 FAIL)`,
  );
  assert.equal(plain.stderr, "");
});

Deno.test("grade.ts tcp-server CLI --json prints an object per check, saying what the text does, and the score", async () => {
  const plain = await gradeOurServer();
  const lines = plain.stdout.trimEnd().split("\n");
  const json = await gradeOurServer("--json");
  assert.equal(json.code, 0, json.stderr);
  const objects = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  const checks = TCP_CHECKS.length;
  assert.deepEqual(objects.pop(), {
    score: checks,
    out_of: checks,
    PASS: checks,
    WARN: 0,
    FAIL: 0,
    SKIP: 0,
  });
  // One object per line of text, saying the same.
  assert.deepEqual(
    objects.map((o) => `${o.verdict}  ${o.check}: ${o.why}`),
    lines.slice(1, -1),
  );
});

for (const [name, kind] of [["udp_client", "udp"], ["tcp_client", "tcp"]]) {
  Deno.test(`${name} CLI --check says in one line that grading moved to grade.ts, exit 2`, async () => {
    const moved = await runScript(`${name}.ts`, [
      "--check",
      "--host",
      "example.org",
      "--port",
      "12001",
    ]);
    assert.equal(moved.code, 2);
    assert.equal(moved.stdout, "");
    assert.equal(
      moved.stderr,
      `${name}: --check moved to grade.ts: deno run --allow-net ` +
        `--unstable-net --allow-run grade.ts ${kind}-server --host ` +
        `example.org --port 12001\n`,
    );
  });
}

Deno.test("grade tcp-server grades a dead server one FAIL, then SKIPs the rest as not checked", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = listener.addr.port;
  listener.close();
  const dead = await grades(
    grade("tcp-server", {
      hostname: "127.0.0.1",
      port: deadPort,
      timeout: 0.3,
    }),
  );
  assert.deepEqual(verdicts(dead), [
    "FAIL",
    ...Array(TCP_CHECKS.length - 1).fill("SKIP"),
  ]);
  assert.match(dead[0].why, /refused/);
  assert.match(dead[1].why, /^not checked: /);
});

Deno.test("grade tcp-server grades a server that never answers FAIL on every check, in bounded time", async () => {
  const started = performance.now();
  await withTcpPeer({ reply: () => undefined }, async (port) => {
    const silent = await grades(
      grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.3 }),
    );
    // Each check still runs: a server that answers only after a
    // half-close, say, shows it there.
    assert.deepEqual(verdicts(silent), Array(TCP_CHECKS.length).fill("FAIL"));
    assert.equal(
      silent[0].why,
      "no reply within 0.3 s (a slow server? --timeout gives it longer)",
    );
  });
  // Generous: a silent server at 0.3 s a wait.
  assert.ok(performance.now() - started < 30_000);
});

Deno.test("grade udp-server grades a server that never answers FAIL, then SKIPs the rest, in bounded time", async () => {
  const started = performance.now();
  await withUdpPeer(() => undefined, async (port) => {
    const silent = await grades(
      grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.3 }),
    );
    // Nothing came back to eight tries: the rest is not checked.
    assert.deepEqual(verdicts(silent), ["FAIL", ...Array(6).fill("SKIP")]);
    assert.match(silent[0].why, /^no reply within 0\.3 s of the last try/);
    assert.equal(
      silent[1].why,
      "not checked: the server did not answer a sentence",
    );
  });
  // Generous: a silent server at 0.3 s a wait, eight tries.
  assert.ok(performance.now() - started < 30_000);
});

Deno.test("grade tcp-server and grade udp-server grade servers broken on purpose as a student would expect", async (t) => {
  await t.step("TCP, no upper-casing: the sentence fails", async () => {
    await withTcpPeer({ reply: (data) => data }, async (port) => {
      const results = await grades(
        grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "FAIL");
      assert.equal(
        results[0].why,
        `"hello world" came back "hello world\\n", not "HELLO WORLD": ` +
          "sent back unchanged, not upper-cased",
      );
    });
  });
  await t.step("TCP, a reply cut to 10 bytes then closed", async () => {
    await withTcpPeer({
      reply: (data) => upper(data).slice(0, 10),
      closeAfter: true,
    }, async (port) => {
      const results = await grades(
        grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "FAIL");
      assert.equal(
        results[0].why,
        `"hello world" came back "HELLO WORL", not "HELLO WORLD": ` +
          "only its first 10 of 11 bytes",
      );
      const long = results.find((r) =>
        r.check.startsWith("a sentence longer")
      )!;
      assert.equal(long.verdict, "FAIL");
      assert.match(
        long.why,
        /^only the first 10 of 3,001 bytes came back, then the server closed/,
      );
    });
  });
  await t.step("TCP, ASCII only: Unicode warns", async () => {
    await withTcpPeer({ reply: asciiUpper }, async (port) => {
      const results = await grades(
        grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      const unicode = results.find((r) => r.check === "Unicode")!;
      assert.equal(unicode.verdict, "WARN");
      assert.match(unicode.why, /only a-z were upper-cased/);
    });
  });
  await t.step(
    "TCP, a reply with no newline on a connection left open",
    async () => {
      await withTcpPeer(
        { reply: (data) => upper(data).filter((b) => b !== 0x0a) },
        async (port) => {
          const results = await grades(
            grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.3 }),
          );
          const framing = results.find((r) => r.check === "how a reply ends")!;
          assert.equal(framing.verdict, "WARN");
          assert.match(
            framing.why,
            /^the reply "ONE" has no newline, and then nothing more for 0\.3 s, with the connection open/,
          );
        },
      );
    },
  );
  await t.step("UDP, replies from another port", async () => {
    await withUdpPeer(upper, async (port) => {
      const results = await grades(
        grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      const own = results.find((r) =>
        r.check === "replies from the server's own port"
      )!;
      assert.equal(own.verdict, "FAIL");
      assert.match(
        own.why,
        new RegExp(`not 127\\.0\\.0\\.1:${port}: a client that checks`),
      );
      assert.equal(results[0].verdict, "PASS");
    }, { fromAnotherPort: true });
  });
  await t.step(
    "TCP, an echo: invalid bytes kept, not upper-cased, and it still answers",
    async () => {
      await withTcpPeer({ reply: (data) => data }, async (port) => {
        const results = await grades(
          grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        // Not upper-cased, but the bytes as they were, and it goes on.
        const invalid = results.at(-1)!;
        assert.equal(invalid.verdict, "WARN", invalid.why);
        assert.equal(
          invalid.why,
          String
            .raw`"caf\xe9 \xff ok" came back unchanged: the bytes kept, but not upper-cased`,
        );
        // Every reply is compared, not only the first.
        const framing = results.find((r) => r.check === "how a reply ends")!;
        assert.equal(framing.verdict, "FAIL", framing.why);
        assert.match(framing.why, /sent back unchanged/);
      });
    },
  );
  await t.step("TCP, extra bytes after the reply line", async () => {
    const extra = new TextEncoder().encode("EXTRA\n");
    await withTcpPeer(
      { reply: (data) => new Uint8Array([...upper(data), ...extra]) },
      async (port) => {
        const results = await grades(
          grade("tcp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        assert.equal(results[0].verdict, "FAIL");
        assert.match(
          results[0].why,
          /then "EXTRA\\n": only the reply may come/,
        );
        // A FAIL in every check where they come, not once.
        const framing = results.find((r) => r.check === "how a reply ends")!;
        assert.equal(framing.verdict, "FAIL");
        assert.match(framing.why, /then "EXTRA\\n": only the reply may come/);
      },
    );
  });
  await t.step(
    "TCP, a server that sends for ever: bounded, and said so",
    async () => {
      const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
      const flooding: Promise<void>[] = [];
      const accepting = (async () => {
        for await (const conn of listener) {
          flooding.push((async () => {
            const chunk = new Uint8Array(65536).fill(0x41);
            try {
              while (true) await conn.write(chunk);
            } catch { /* the checker closed it */ }
            conn.close();
          })());
        }
      })();
      try {
        const started = performance.now();
        const results = await grades(
          grade("tcp-server", {
            hostname: "127.0.0.1",
            port: listener.addr.port,
            timeout: 0.5,
          }),
        );
        assert.ok(performance.now() - started < 15_000);
        const long = results.find((r) =>
          r.check.startsWith("a sentence longer")
        )!;
        assert.equal(long.verdict, "FAIL");
        assert.match(long.why, /the server kept sending \(over 64 KiB\)/);
      } finally {
        listener.close();
        await accepting.catch(() => {});
        await Promise.all(flooding);
      }
    },
  );
  await t.step("UDP, a second datagram for each one sent", async () => {
    const junk = new TextEncoder().encode("JUNK");
    await withUdpPeer(upper, async (port) => {
      const results = await grades(
        grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "FAIL");
      assert.match(results[0].why, /then another datagram, "JUNK"/);
    }, { thenAlso: junk });
    await withUdpPeer((data) => upper(data).slice(0, 5), async (port) => {
      const results = await grades(
        grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(
        results[0].why,
        `"hello world" came back "HELLO", not "HELLO WORLD": ` +
          "only its first 5 of 11 bytes",
      );
      const long = results.find((r) =>
        r.check.startsWith("a datagram longer")
      )!;
      assert.equal(long.verdict, "FAIL", "cut, but not by recvfrom(2048)");
    });
  });
  await t.step(
    "UDP, no upper-casing, and replies cut to 2,048 bytes",
    async () => {
      await withUdpPeer((data) => data.slice(0, 2048), async (port) => {
        const results = await grades(
          grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        assert.equal(results[0].verdict, "FAIL");
        assert.equal(
          results[0].why,
          `"hello world" came back "hello world", not "HELLO WORLD": ` +
            "sent back unchanged, not upper-cased",
        );
      });
      await withUdpPeer((data) => upper(data).slice(0, 2048), async (port) => {
        const results = await grades(
          grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        const long = results.find((r) =>
          r.check.startsWith("a datagram longer")
        )!;
        assert.equal(long.verdict, "WARN");
        assert.match(
          long.why,
          /^a 3,000-byte datagram came back cut to its first 2,048 bytes: /,
        );
      });
    },
  );
});

Deno.test("grade.ts CLI | head -1 stops quietly, exit 1: not every check ran", async (t) => {
  await withServer("tcp", {}, async (tcpPort) => {
    await withServer("udp", {}, async (udpPort) => {
      for (
        const [kind, port] of [
          ["tcp-server", tcpPort],
          ["udp-server", udpPort],
        ] as const
      ) {
        await t.step(kind, async () => {
          const { stdout } = await new Deno.Command("bash", {
            args: [
              "-c",
              `"$0" ${GRADE_FLAGS.join(" ")} grade.ts ${kind} ` +
              `--host 127.0.0.1 -p ${port} 2>"$1" | head -1; ` +
              `echo "status \${PIPESTATUS[0]}"; cat "$1"; rm "$1"`,
              Deno.execPath(),
              await Deno.makeTempFile(),
            ],
            cwd: ROOT,
            stdout: "piped",
            signal: AbortSignal.timeout(30_000),
          }).output();
          const lines = text(stdout).split("\n");
          assert.match(
            lines[0],
            new RegExp(`^Grading 127\\.0\\.0\\.1:\\d+ as a ${kind} `),
          );
          assert.deepEqual(lines.slice(1), ["status 1", ""]);
        });
      }
    });
  });
});
