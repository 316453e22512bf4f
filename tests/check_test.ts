/**
 * `--check` grades a server as a student would expect: ours all PASS; the
 * textbook's iterative servers and the Java companion's framing WARN where
 * they have limits, never FAIL; servers broken on purpose (no upper-casing,
 * replies from another port, cut replies, never answering, ASCII only)
 * FAIL or WARN with the reason; and a dead or silent server is graded in
 * bounded time.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, checkTcp } from "../tcp_client.ts";
import { checkUdp } from "../udp_client.ts";
import {
  canRun,
  hasProgram,
  runScript,
  startServer,
  withServer,
  withTimeout,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");

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

Deno.test("checkTcp() and checkUdp() grade serveTcp() and serveUdp() PASS on every check", async () => {
  await withServer("tcp", {}, async (tcpPort) => {
    await withServer("udp", {}, async (udpPort) => {
      const tcpResults = await grades(
        checkTcp({ hostname: "127.0.0.1", port: tcpPort }),
      );
      assert.deepEqual(
        verdicts(tcpResults),
        Array(7).fill("PASS"),
        JSON.stringify(tcpResults),
      );
      const udpResults = await grades(
        checkUdp({ hostname: "127.0.0.1", port: udpPort }),
      );
      assert.deepEqual(
        verdicts(udpResults),
        Array(7).fill("PASS"),
        JSON.stringify(udpResults),
      );
    });
  });
});

Deno.test("tcp_client CLI --check prints a line per check and the score, or --json objects, exit 0 without a FAIL (udp_client CLI --check with a sentence: exit 2)", async () => {
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
    const plain = await runScript(
      "tcp_client.ts",
      ["--check", "--host", "127.0.0.1", "-p", String(server.port)],
      { flags: ["run", "--allow-net"], ms: 30_000 },
    );
    assert.equal(plain.code, 0, plain.stderr);
    const lines = plain.stdout.trimEnd().split("\n");
    assert.match(
      lines[0],
      /^Checking the TCP server at 127\.0\.0\.1:\d+ \(each wait at most 2 s\)$/,
    );
    assert.equal(lines.length, 9);
    for (const line of lines.slice(1, 8)) {
      assert.match(line, /^PASS {2}[^:]+: /);
    }
    assert.equal(lines[8], "Score: 7 of 7 (7 PASS, 0 WARN, 0 FAIL)");
    const json = await runScript(
      "tcp_client.ts",
      ["--check", "--json", "--host", "127.0.0.1", "-p", String(server.port)],
      { flags: ["run", "--allow-net"], ms: 30_000 },
    );
    const objects = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(objects.pop(), {
      score: 7,
      out_of: 7,
      PASS: 7,
      WARN: 0,
      FAIL: 0,
    });
    assert.deepEqual(
      objects.map((o) => Object.keys(o)),
      Array(7).fill(["check", "verdict", "why"]),
    );
  } finally {
    await server.stop();
  }
  const usage = await runScript("udp_client.ts", ["--check", "hello"]);
  assert.equal(usage.code, 2);
});

Deno.test("checkTcp() and checkUdp() grade a dead server, or one that never answers, all FAIL, in seconds", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadPort = listener.addr.port;
  listener.close();
  const started = performance.now();
  const dead = await grades(
    checkTcp({ hostname: "127.0.0.1", port: deadPort, timeout: 0.3 }),
  );
  assert.deepEqual(verdicts(dead), Array(7).fill("FAIL"));
  assert.match(dead[0].why, /refused/);
  assert.match(dead[1].why, /not checked/);
  await withTcpPeer({ reply: () => undefined }, async (port) => {
    const silent = await grades(
      checkTcp({ hostname: "127.0.0.1", port, timeout: 0.3 }),
    );
    assert.deepEqual(verdicts(silent), Array(7).fill("FAIL"));
    assert.equal(
      silent[0].why,
      "no reply within 0.3 s (a slow server? --timeout gives it longer)",
    );
  });
  await withUdpPeer(() => undefined, async (port) => {
    const silent = await grades(
      checkUdp({ hostname: "127.0.0.1", port, timeout: 0.3 }),
    );
    assert.deepEqual(verdicts(silent), Array(7).fill("FAIL"));
    assert.match(silent[0].why, /^no reply within 0\.3 s, sent twice/);
  });
  // Generous: three silent servers at 0.3 s a wait.
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("checkTcp() and checkUdp() grade servers broken on purpose as a student would expect", async (t) => {
  await t.step("TCP, no upper-casing: the sentence fails", async () => {
    await withTcpPeer({ reply: (data) => data }, async (port) => {
      const results = await grades(
        checkTcp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "FAIL");
      assert.equal(
        results[0].why,
        `"hello world" came back unchanged: not upper-cased`,
      );
    });
  });
  await t.step("TCP, a reply cut to 10 bytes then closed", async () => {
    await withTcpPeer({
      reply: (data) => upper(data).slice(0, 10),
      closeAfter: true,
    }, async (port) => {
      const results = await grades(
        checkTcp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "FAIL");
      assert.equal(
        results[0].why,
        `"hello world" came back "HELLO WORL", not "HELLO WORLD"`,
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
        checkTcp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
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
            checkTcp({ hostname: "127.0.0.1", port, timeout: 0.3 }),
          );
          const framing = results.find((r) => r.check === "how a reply ends")!;
          assert.equal(framing.verdict, "FAIL");
          assert.match(
            framing.why,
            /has no newline and the connection stays open/,
          );
        },
      );
    },
  );
  await t.step("UDP, replies from another port", async () => {
    await withUdpPeer(upper, async (port) => {
      const results = await grades(
        checkUdp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
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
          checkTcp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        // Not upper-cased, but the bytes as they were, and it goes on.
        const invalid = results.at(-1)!;
        assert.equal(invalid.verdict, "WARN", invalid.why);
        assert.equal(
          invalid.why,
          String
            .raw`"caf\xe9 \xff ok" came back unchanged: the bytes kept, but not upper-cased`,
        );
        const framing = results.find((r) => r.check === "how a reply ends")!;
        assert.equal(framing.verdict, "PASS", framing.why);
      });
    },
  );
  await t.step("TCP, extra bytes after the reply line", async () => {
    const extra = new TextEncoder().encode("EXTRA\n");
    await withTcpPeer(
      { reply: (data) => new Uint8Array([...upper(data), ...extra]) },
      async (port) => {
        const results = await grades(
          checkTcp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        assert.equal(results[0].verdict, "WARN");
        assert.match(results[0].why, /then "EXTRA\\n": a client reading one/);
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
          checkTcp({
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
        checkUdp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(results[0].verdict, "WARN");
      assert.match(results[0].why, /then another datagram, "JUNK"/);
    }, { thenAlso: junk });
    await withUdpPeer((data) => upper(data).slice(0, 5), async (port) => {
      const results = await grades(
        checkUdp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
      );
      assert.equal(
        results[0].why,
        `"hello world" came back "HELLO", not "HELLO WORLD"`,
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
          checkUdp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        assert.equal(results[0].verdict, "FAIL");
        assert.equal(
          results[0].why,
          `"hello world" came back unchanged: not upper-cased`,
        );
      });
      await withUdpPeer((data) => upper(data).slice(0, 2048), async (port) => {
        const results = await grades(
          checkUdp({ hostname: "127.0.0.1", port, timeout: 0.5 }),
        );
        const long = results.find((r) =>
          r.check.startsWith("a datagram longer")
        )!;
        assert.equal(long.verdict, "WARN");
        assert.match(
          long.why,
          /cut to its first 2,048 bytes: recvfrom\(2048\)/,
        );
      });
    },
  );
});

Deno.test({
  name:
    "checkTcp() and checkUdp() grade the textbook's TCPServer.py and UDPServer.py WARN where they have limits, never FAIL",
  ignore: !canRun(hasPython, "the textbook server stand-ins need python3"),
  async fn() {
    for (
      const [peer, check, expected] of [
        [
          "textbook_tcp_server.py",
          checkTcp,
          ["PASS", "PASS", "WARN", "PASS", "WARN", "PASS", "WARN"],
        ],
        [
          "textbook_udp_server.py",
          checkUdp,
          ["PASS", "PASS", "PASS", "WARN", "PASS", "PASS", "WARN"],
        ],
        [
          "line_tcp_server.py",
          checkTcp,
          ["PASS", "PASS", "PASS", "WARN", "PASS", "PASS", "WARN"],
        ],
      ] as const
    ) {
      const server = await startServer(["python3", `tests/peers/${peer}`]);
      try {
        const results = await withTimeout(
          grades(
            check({ hostname: "127.0.0.1", port: server.port, timeout: 0.5 }),
          ),
          `--check of ${peer}`,
          30_000,
        );
        assert.deepEqual(
          verdicts(results),
          expected,
          `${peer}: ${JSON.stringify(results, null, 1)}`,
        );
        if (peer === "textbook_tcp_server.py") {
          assert.match(
            results[4].why,
            /^serves one client at a time: a second client waited \d\.\d s while the first stayed connected/,
          );
          assert.match(
            results[2].why,
            /^only the first 1,024 of 3,001 bytes came back/,
          );
        }
        if (peer !== "line_tcp_server.py") {
          assert.match(results[6].why, /the server stopped answering/);
        }
      } finally {
        await server.stop("SIGKILL");
      }
    }
  },
});
