/**
 * grade.ts's server checks against servers wrong (or right) in one way
 * each, in this process: what a reply that is not the answer gets, how a
 * limit is described, a server that waits for a newline, one that answers
 * its first client only, one slower than --timeout, one that stops; each
 * verdict and what its reason says.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, DidNotStart, grade } from "../grade.ts";
import { upperCase } from "../udp_server.ts";
import {
  canRun,
  eachLine,
  hasProgram,
  runScript,
  startServer,
  withServer,
  withTcpHandler,
  withTimeout,
  withUdpHandler,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");
const encode = (text: string) => new TextEncoder().encode(text);
const NEWLINE = encode("\n");
const join = (...parts: Uint8Array[]) =>
  new Uint8Array(parts.flatMap((part) => [...part]));

/** Every result of grading the server at `port`, bounded. */
async function graded(
  kind: "tcp-server" | "udp-server",
  port: number,
  timeout = 0.5,
): Promise<CheckResult[]> {
  const all: CheckResult[] = [];
  await withTimeout(
    (async () => {
      for await (const result of grade(kind, { port, timeout })) {
        all.push(result);
      }
    })(),
    `grade.ts ${kind}`,
    60_000,
  );
  return all;
}

/** The result of the check whose name starts with `start`. */
function check(results: CheckResult[], start: string): CheckResult {
  const found = results.find((result) => result.check.startsWith(start));
  assert.ok(found, `no check "${start}": ${JSON.stringify(results)}`);
  return found;
}

/** A TCP line server: each line's reply is what `answer` makes of it. */
function lineServer(answer: (line: Uint8Array) => Uint8Array) {
  return (conn: Deno.TcpConn) =>
    eachLine(conn, async (line) => {
      await conn.write(answer(line));
    });
}

/** Sleeps `ms` (a peer's own pace, never the test's synchronisation). */
const pause = (ms: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, ms));

Deno.test("grade tcp-server: a reply sent twice FAILs in every check where it comes", async () => {
  const twice = (line: Uint8Array) => {
    const reply = join(upperCase(line), NEWLINE);
    return join(reply, reply);
  };
  await withTcpHandler(lineServer(twice), async (port) => {
    const results = await graded("tcp-server", port);
    for (
      const name of [
        "a sentence",
        "Unicode",
        "a sentence longer",
        "how a reply ends",
        "half-close",
      ]
    ) {
      assert.equal(check(results, name).verdict, "FAIL", name);
    }
    assert.match(
      check(results, "a sentence").why,
      /^"hello world" came back "HELLO WORLD", then "HELLO WORLD\\n": only the reply may come/,
    );
    assert.ok(!results.some((result) => result.verdict === "PASS"));
  });
});

Deno.test("grade udp-server: a datagram after each reply FAILs in every check where it comes", async () => {
  await withUdpHandler(async (socket, data, from) => {
    await socket.send(upperCase(data), from);
    await socket.send(encode("JUNK"), from);
  }, async (port) => {
    const results = await graded("udp-server", port);
    for (
      const name of ["a sentence", "Unicode", "an empty", "a datagram longer"]
    ) {
      const result = check(results, name);
      assert.equal(result.verdict, "FAIL", name);
      assert.match(result.why, /then another datagram, "JUNK"/, name);
    }
  });
});

Deno.test("grade udp-server: the whole 1,024-byte buffer sent back (the Java companion's) FAILs, its NULs and stale bytes shown", async () => {
  const buffer = new Uint8Array(1024);
  await withUdpHandler(async (socket, data, from) => {
    buffer.set(data.subarray(0, 1024));
    await socket.send(upperCase(buffer), from);
  }, async (port) => {
    const results = await graded("udp-server", port);
    const sentence = check(results, "a sentence");
    assert.equal(sentence.verdict, "FAIL");
    assert.match(
      sentence.why,
      /^"hello world" came back "HELLO WORLD\\x00.*, not "HELLO WORLD": the reply, then "\\x00\\x00.*" \(1,013 bytes\): 1013 bytes of NUL past the end of the reply \(send back only as many bytes as came\)$/,
    );
    const unicode = check(results, "Unicode");
    assert.equal(unicode.verdict, "FAIL");
    // What an earlier, longer datagram left behind comes back too.
    const empty = check(results, "an empty");
    assert.equal(empty.verdict, "FAIL");
    assert.match(
      empty.why,
      /^"" came back "STRASSE, É, ΚΌΣΜΟΣ\\x00.*: bytes of no reply, NULs among them, past the end of the reply/,
    );
  });
});

Deno.test("grade udp-server: a 1,024-byte buffer cuts the long datagram: a WARN, as recvfrom(2048) gets", async () => {
  await withUdpHandler(async (socket, data, from) => {
    await socket.send(upperCase(data.subarray(0, 1024)), from);
  }, async (port) => {
    const long = check(await graded("udp-server", port), "a datagram longer");
    assert.equal(long.verdict, "WARN", long.why);
    assert.match(
      long.why,
      /^a 3,000-byte datagram came back cut to its first 1,024 bytes: /,
    );
  });
});

Deno.test("grade udp-server: a buffer under 1,024 bytes cuts sentences: a FAIL", async () => {
  await withUdpHandler(async (socket, data, from) => {
    await socket.send(upperCase(data.subarray(0, 1000)), from);
  }, async (port) => {
    const long = check(await graded("udp-server", port), "a datagram longer");
    assert.equal(long.verdict, "FAIL", long.why);
    assert.match(long.why, /only its first 1,000 of 3,000 bytes/);
  });
});

Deno.test("grade tcp-server: one recv(1024), a newline added, WARNs as the textbook's recv(1024) does", async () => {
  await withTcpHandler(async (conn) => {
    const buffer = new Uint8Array(1024);
    const count = await conn.read(buffer);
    if (count === null) return;
    const sentence = buffer.subarray(0, count);
    const line = sentence.at(-1) === 0x0a ? sentence.subarray(0, -1) : sentence;
    await conn.write(join(upperCase(line), NEWLINE));
  }, async (port) => {
    const long = check(await graded("tcp-server", port), "a sentence longer");
    assert.equal(long.verdict, "WARN", long.why);
    assert.equal(
      long.why,
      "only the first 1,024 of 3,001 bytes came back, and a newline",
    );
  });
});

Deno.test("grade tcp-server: a reply cut at 1,024 by a server that read the whole line is described by what came", async () => {
  await withTcpHandler(async (conn) => {
    await eachLine(conn, async (line) => {
      await conn.write(upperCase(line).subarray(0, 1024));
      conn.close();
    });
  }, async (port) => {
    const long = check(await graded("tcp-server", port), "a sentence longer");
    assert.equal(long.verdict, "WARN", long.why);
    assert.equal(
      long.why,
      "only the first 1,024 of 3,001 bytes came back, then the server " +
        "closed the connection",
    );
  });
});

Deno.test("grade tcp-server: a reply with no newline on a connection left open is a WARN", async () => {
  await withTcpHandler(lineServer(upperCase), async (port) => {
    const ending = check(await graded("tcp-server", port, 0.3), "how a reply");
    assert.equal(ending.verdict, "WARN", ending.why);
    assert.match(
      ending.why,
      /^the reply "ONE" has no newline, and then nothing more for 0\.3 s, with the connection open: TCPClient\.py's one recv\(\) takes it, a client reading a line waits for ever/,
    );
  });
});

Deno.test("grade tcp-server: a server that waits for a newline WARNs: TCPClient.py, which sends none, would wait for ever", async () => {
  const answer = (line: Uint8Array) => join(upperCase(line), NEWLINE);
  await withTcpHandler(lineServer(answer), async (port) => {
    const results = await graded("tcp-server", port, 0.3);
    const noNewline = check(results, "a sentence without a newline");
    assert.equal(noNewline.verdict, "WARN", noNewline.why);
    assert.equal(
      noNewline.why,
      `"no newline", sent without a newline as TCPClient.py sends it, got ` +
        `no reply within 0.3 s, and "NO NEWLINE" once a newline followed: ` +
        `the textbook's client would wait for ever`,
    );
    assert.ok(!results.some((result) => result.verdict === "FAIL"));
  });
});

Deno.test("grade udp-server: a server that answers only the first client it heard: said so, and no check SKIPped", async () => {
  let first: Deno.NetAddr | undefined;
  await withUdpHandler(async (socket, data, from) => {
    first ??= from;
    if (from.port !== first.port) return;
    await socket.send(upperCase(data), from);
  }, async (port) => {
    const results = await graded("udp-server", port, 0.2);
    assert.equal(check(results, "a sentence").verdict, "PASS");
    const unicode = check(results, "Unicode");
    assert.equal(unicode.verdict, "FAIL");
    assert.match(
      unicode.why,
      /though the server still answers the first client \(port \d+\): it answers its first client only$/,
    );
    assert.doesNotMatch(unicode.why, /stop/);
    assert.ok(!results.some((result) => result.verdict === "SKIP"));
  });
});

Deno.test("grade udp-server: a right server slightly slower than --timeout gets no FAIL or SKIP", async () => {
  await withUdpHandler(async (socket, data, from) => {
    await pause(360); // one datagram at a time, 1.2 times --timeout each
    await socket.send(upperCase(data), from);
  }, async (port) => {
    const results = await graded("udp-server", port, 0.3);
    const bad = results.filter((r) => ["FAIL", "SKIP"].includes(r.verdict));
    assert.deepEqual(bad, []);
  });
});

Deno.test("grade udp-server: a server that stops mid-run leaves the checks after it SKIPped", async () => {
  let answered = 0;
  await withUdpHandler(async (socket, data, from) => {
    if (answered++ < 2) await socket.send(upperCase(data), from);
  }, async (port) => {
    const results = await graded("udp-server", port, 0.1);
    const unicode = check(results, "Unicode");
    assert.equal(unicode.verdict, "FAIL");
    assert.match(unicode.why, /and the server has answered nothing since/);
    assert.deepEqual(
      results.slice(2).map((r) => r.verdict),
      Array(results.length - 2).fill("SKIP"),
    );
  });
});

Deno.test("grade udp-server: an empty datagram that stops the server is a FAIL", async () => {
  let stopped = false;
  await withUdpHandler(async (socket, data, from) => {
    if (data.length === 0) stopped = true;
    if (!stopped) await socket.send(upperCase(data), from);
  }, async (port) => {
    const results = await graded("udp-server", port, 0.1);
    const empty = check(results, "an empty datagram");
    assert.equal(empty.verdict, "FAIL", empty.why);
    assert.match(empty.why, /and the server has answered nothing since/);
  });
});

Deno.test("grade tcp-server: ß kept as ß is a WARN", async () => {
  const keepSharpS = (line: Uint8Array) =>
    encode(
      new TextDecoder().decode(line).replaceAll("ß", "\u0000").toUpperCase()
        .replaceAll("\u0000", "ß") + "\n",
    );
  await withTcpHandler(lineServer(keepSharpS), async (port) => {
    const unicode = check(await graded("tcp-server", port), "Unicode");
    assert.equal(unicode.verdict, "WARN");
    assert.match(unicode.why, /ß stays ß/);
  });
});

Deno.test("grade tcp-server: replies that end in \\r\\n PASS", async () => {
  const crlf = (line: Uint8Array) => join(upperCase(line), encode("\r\n"));
  await withTcpHandler(lineServer(crlf), async (port) => {
    const results = await graded("tcp-server", port);
    for (const name of ["a sentence", "Unicode", "how a reply", "half-close"]) {
      assert.equal(check(results, name).verdict, "PASS", name);
    }
  });
});

Deno.test("grade tcp-server: a server gone after the first check: the checks left SKIP, saying so", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    listener.close(); // gone: later connections are refused
    await lineServer((line) => join(upperCase(line), NEWLINE))(conn)
      .catch(() => {});
    conn.close();
  })();
  try {
    const results = await graded("tcp-server", listener.addr.port);
    assert.equal(results[0].verdict, "PASS");
    assert.deepEqual(
      results.slice(1).map((r) => r.verdict),
      Array(results.length - 1).fill("SKIP"),
    );
    assert.equal(
      results[1].why,
      "not checked: the server stopped after check 1 (connections to it " +
        "are refused)",
    );
  } finally {
    await serving;
  }
});

/** A server that answers without a newline, then resets (SO_LINGER 0). */
const RESET_SERVER = `
import socket, struct
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0))
s.listen(8)
print("The server is ready to receive on 127.0.0.1:%d" % s.getsockname()[1], flush=True)
while True:
    c, _ = s.accept()
    line = b""
    while not line.endswith(b"\\n"):
        part = c.recv(4096)
        if not part:
            break
        line += part
    c.sendall(line.strip().upper())
    c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()
`;

Deno.test({
  name: "grade tcp-server: a reply without a newline, then a reset, is a WARN",
  ignore: !canRun(hasPython, "the resetting server needs python3"),
  async fn() {
    const server = await startServer(["python3", "-c", RESET_SERVER]);
    try {
      const ending = check(
        await graded("tcp-server", server.port),
        "how a reply",
      );
      assert.equal(ending.verdict, "WARN", ending.why);
      assert.match(ending.why, /resets the connection after it/);
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test("grade tcp-server: invalid bytes sent back right by a server that then stops are a WARN", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  let stopped = false;
  const serving = (async () => {
    for await (const conn of listener) {
      await eachLine(conn, async (line) => {
        await conn.write(join(upperCase(line), NEWLINE));
        if (line.includes(0xff) && !stopped) {
          stopped = true; // stopped by the bytes
          listener.close();
        }
      }).catch(() => {});
      conn.close();
    }
  })();
  try {
    const invalid = (await graded("tcp-server", listener.addr.port)).at(-1)!;
    assert.equal(invalid.verdict, "WARN", invalid.why);
    assert.match(invalid.why, /then the server stopped answering/);
  } finally {
    if (!stopped) listener.close();
    await serving.catch(() => {});
  }
});

Deno.test("grade.ts exits 1 when checks were SKIPped, though none FAILed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    listener.close();
    await lineServer((line) => join(upperCase(line), NEWLINE))(conn)
      .catch(() => {});
    conn.close();
  })();
  try {
    const run = await runScript("grade.ts", [
      "tcp-server",
      "--host",
      "127.0.0.1",
      "--port",
      `${listener.addr.port}`,
    ], {
      flags: ["run", "--allow-net", "--unstable-net", "--allow-run"],
      ms: 30_000,
    });
    assert.match(
      run.stdout,
      /\nScore: 1 of \d+ \(1 PASS, 0 WARN, 0 FAIL, \d+ SKIP\)\n$/,
    );
    assert.equal(run.code, 1);
  } finally {
    await serving;
  }
});

/** A server that ends at once, saying on stderr what Python says. */
const IN_USE = [
  "python3",
  "-c",
  "import sys; sys.stderr.write('OSError: [Errno 98] Address already in " +
  "use\\n'); sys.exit(1)",
  "{port}",
];

Deno.test({
  name:
    "grade.ts tcp-server -- COMMAND: a server that does not start is reported with its own stderr, exit 1, no score",
  ignore: !canRun(hasPython, "the failing server needs python3"),
  async fn() {
    const run = await runScript("grade.ts", ["tcp-server", "--", ...IN_USE], {
      flags: ["run", "--allow-net", "--unstable-net", "--allow-run"],
      ms: 30_000,
    });
    assert.equal(run.code, 1, run.stderr);
    const lines = run.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, run.stdout);
    assert.match(
      lines[1],
      /^did not start: python3 -c .* \d+ ended \(exit 1\) before it listened on 127\.0\.0\.1:\d+; it said: OSError: \[Errno 98\] Address already in use$/,
    );
    assert.doesNotMatch(run.stdout, /Score/);
  },
});

Deno.test({
  name:
    "grade() with a command that does not start throws DidNotStart, saying what the program said",
  ignore: !canRun(hasPython, "the failing server needs python3"),
  async fn() {
    await assert.rejects(
      async () => {
        for await (const _ of grade("udp-server", { command: IN_USE })) {
          assert.fail("no check runs for a server that did not start");
        }
      },
      DidNotStart,
      "Address already in use",
    );
  },
});

for (const kind of ["tcp", "udp"] as const) {
  Deno.test(`grade ${kind}-server: an aborted signal stops it between checks`, async () => {
    await withServer(kind, {}, async (port) => {
      const controller = new AbortController();
      const results: CheckResult[] = [];
      for await (
        const result of grade(`${kind}-server`, {
          hostname: "127.0.0.1",
          port,
          signal: controller.signal,
        })
      ) {
        results.push(result);
        controller.abort();
      }
      assert.deepEqual(results.map((r) => r.verdict), ["PASS"]);
    });
  });
}
