import assert from "node:assert/strict";
import { pingUdp, RttStatistics, sendUdp } from "../udp_client.ts";
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
  startServer,
  text,
  udpSocket,
  withServer,
  withSystemFiles,
  withTimeout,
  withUdpHandler,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");

/** Collects every reply of `sendUdp` as text. */
async function replies(
  sentences: string[],
  options: Parameters<typeof sendUdp>[1],
): Promise<string[]> {
  const texts: string[] = [];
  for await (const reply of sendUdp(sentences, options)) {
    texts.push(text(reply));
  }
  return texts;
}

/**
 * A test peer on its own socket: `answer` is called for every datagram and
 * sends whatever it likes, from whichever socket it likes.
 */
async function withPeer(
  answer: (
    message: Uint8Array,
    from: Deno.NetAddr,
    sockets: { main: Deno.DatagramConn; other: Deno.DatagramConn },
  ) => Promise<void>,
  fn: (port: number) => Promise<void>,
) {
  const main = udpSocket();
  const other = udpSocket();
  const serving = (async () => {
    try {
      for await (const [message, from] of main) {
        await answer(message, from as Deno.NetAddr, { main, other });
      }
    } catch {
      // closed below
    }
  })();
  try {
    await fn((main.addr as Deno.NetAddr).port);
  } finally {
    main.close();
    other.close();
    await serving;
  }
}

/** The upper-cased copy a server would send back. */
function upper(message: Uint8Array): Uint8Array {
  return bytes(text(message).toUpperCase());
}

Deno.test("sendUdp() yields each reply in order", async () => {
  await withServer("udp", {}, async (port) => {
    assert.deepEqual(
      await replies(["one", "two", "straße", ""], {
        hostname: "127.0.0.1",
        port,
      }),
      ["ONE", "TWO", "STRASSE", ""],
    );
  });
});

Deno.test("sendUdp() reaches a server by the name localhost", async () => {
  await withServer("udp", {}, async (port) => {
    assert.deepEqual(await replies(["hi"], { hostname: "localhost", port }), [
      "HI",
    ]);
  });
});

Deno.test("sendUdp() reaches a server over IPv6", async () => {
  await withServer("udp", { hostname: "::1" }, async (port) => {
    assert.deepEqual(await replies(["hi"], { hostname: "::1", port }), [
      "HI",
    ]);
  });
});

Deno.test("sendUdp() sends a lost datagram again until it is answered", async () => {
  const sentences = Array.from({ length: 20 }, (_, i) => `sentence ${i}`);
  const stats = await withServer(
    "udp",
    { dropRate: 0.5, seed: 3 },
    async (port) => {
      assert.deepEqual(
        await replies(sentences, {
          hostname: "127.0.0.1",
          port,
          timeout: 0.1,
          retries: 30,
        }),
        sentences.map((s) => s.toUpperCase()),
      );
    },
  );
  assert.ok(stats.dropped > 0, "the server dropped some datagrams");
  assert.equal(stats.replied, 20);
});

Deno.test("sendUdp() rejects, in bounded time, when no try is answered", async () => {
  await withServer("udp", { dropRate: 1 }, async (port) => {
    const started = Date.now();
    await assert.rejects(
      replies(["anyone?"], {
        hostname: "127.0.0.1",
        port,
        timeout: 0.1,
        retries: 2,
      }),
      /no reply from 127\.0\.0\.1:\d+ after 3 tries of 0\.1 s/,
    );
    assert.ok(Date.now() - started < 5_000);
  });
});

Deno.test("sendUdp() never takes a late reply to an earlier sentence for a later one", async () => {
  // The peer holds its reply to the first try of "one", answers the retry,
  // and sends the held reply only when "two" arrives, just before "TWO".
  let held: { message: Uint8Array; to: Deno.NetAddr } | undefined;
  let ones = 0;
  await withPeer(async (message, from, { main }) => {
    if (text(message) === "one" && ++ones === 1) {
      held = { message: upper(message), to: from };
      return;
    }
    if (text(message) === "two" && held) {
      await main.send(held.message, held.to);
      held = undefined;
    }
    await main.send(upper(message), from);
  }, async (port) => {
    assert.deepEqual(
      await replies(["one", "two", "three"], {
        hostname: "127.0.0.1",
        port,
        timeout: 0.2,
        retries: 3,
      }),
      ["ONE", "TWO", "THREE"],
    );
  });
  assert.equal(ones, 2);
  assert.equal(held, undefined);
});

Deno.test("sendUdp() ignores replies from another address", async (t) => {
  await t.step("wrong port first, then the server", async () => {
    await withPeer(async (message, from, { main, other }) => {
      await other.send(bytes("IMPOSTOR"), from);
      await main.send(upper(message), from);
    }, async (port) => {
      assert.deepEqual(
        await replies(["real"], { hostname: "127.0.0.1", port, timeout: 1 }),
        ["REAL"],
      );
    });
  });
  await t.step("only the wrong port: no reply", async () => {
    await withPeer(async (message, from, { other }) => {
      await other.send(upper(message), from);
    }, async (port) => {
      await assert.rejects(
        replies(["real"], {
          hostname: "127.0.0.1",
          port,
          timeout: 0.1,
          retries: 1,
        }),
        /no reply/,
      );
    });
  });
});

Deno.test("sendUdp() refuses a sentence too long for one datagram, and sends nothing", async () => {
  const stats = await withServer("udp", {}, async (port) => {
    // Bounded: a sentence sent after all would wait for a reply.
    await withTimeout(
      assert.rejects(
        replies(["x".repeat(65_508)], { hostname: "127.0.0.1", port }),
        /the sentence is 65508 bytes, but one UDP datagram carries at most 65507/,
      ),
      "the refusal",
    );
    assert.deepEqual(
      await replies(["x".repeat(65_507)], { hostname: "127.0.0.1", port }),
      ["X".repeat(65_507)],
    );
  });
  assert.equal(stats.received, 1);
});

Deno.test("sendUdp() stops waiting at once on an abort", async () => {
  await withServer("udp", { dropRate: 1 }, async (port) => {
    const controller = new AbortController();
    const pending = replies(["x"], {
      hostname: "127.0.0.1",
      port,
      timeout: 60,
      signal: controller.signal,
    });
    controller.abort(new Error("stopped by the test"));
    await assert.rejects(pending, /stopped by the test/);
  });
});

Deno.test("udp_client CLI joins its words and prints the reply alone on stdout", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1", "-p", String(port), "hello", "wörld"],
    ]);
    assert.deepEqual(out, {
      code: 0,
      signal: null,
      stdout: "HELLO WÖRLD\n",
      stderr: "",
    });
  });
});

Deno.test("udp_client CLI answers a pipe with one reply line per line, no prompts", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", ["-p", String(port)], {
      stdin: "one\ntwo\r\n\nthree",
    });
    assert.deepEqual(out, {
      code: 0,
      signal: null,
      stdout: "ONE\nTWO\n\nTHREE\n",
      stderr: "",
    });
  });
});

Deno.test("udp_client CLI gives back bytes that are not UTF-8 as they were", async () => {
  await withServer("udp", {}, async (port) => {
    const command = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--unstable-net",
        "udp_client.ts",
        "-p",
        String(port),
      ],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(10_000),
    });
    const child = command.spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new Uint8Array([0x61, 0xff, 0xc3, 0xa9, 0x0a]));
    await writer.close();
    const { code, stdout } = await child.output();
    assert.equal(code, 0);
    assert.deepEqual([...stdout], [0x41, 0xff, 0xc3, 0x89, 0x0a]);
  });
});

Deno.test("udp_client CLI gets every reply past udp_server CLI --drop-rate with --seed, which drops the same datagrams every run", async () => {
  const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
  const summaries: string[] = [];
  for (let run = 0; run < 2; run++) {
    const server = await startServer(
      script(
        "udp_server.ts",
        "--host",
        "127.0.0.1",
        "-p",
        "0",
        "--drop-rate",
        "0.4",
        "--seed",
        "7",
      ),
    );
    let out;
    try {
      out = await runScript(
        "udp_client.ts",
        ["-p", String(server.port), "--timeout", "0.2", "--retries", "30"],
        { stdin: lines.join("\n") + "\n", ms: 30_000 },
      );
    } finally {
      summaries.push((await server.stop()).stderr);
    }
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, lines.map((l) => l.toUpperCase() + "\n").join(""));
  }
  assert.match(summaries[0], /replied 30, dropped [1-9]\d*, failed 0/);
  assert.equal(summaries[0], summaries[1]);
});

Deno.test("udp_client CLI prints one line and exits 1 on each failure", async (t) => {
  await t.step("no server", async () => {
    const idle = udpSocket(); // a port where nobody answers
    try {
      const port = String((idle.addr as Deno.NetAddr).port);
      const out = await runScript("udp_client.ts", [
        ...[
          "--host",
          "127.0.0.1",
          "-p",
          port,
          "--timeout",
          "0.2",
          "--retries",
          "1",
          "hi",
        ],
      ]);
      assert.equal(out.code, 1);
      assert.equal(out.stdout, "");
      assert.match(
        out.stderr,
        /^udp_client: no reply from 127\.0\.0\.1:\d+ after 2 tries of 0\.2 s: is the server running there\?[^\n]*\n$/,
      );
    } finally {
      idle.close();
    }
  });
  await t.step("unknown host", async () => {
    const out = await runScript("udp_client.ts", [
      "--host",
      "no-such-host.invalid",
      "hi",
    ]);
    assert.equal(out.code, 1);
    assert.equal(
      out.stderr,
      "udp_client: cannot resolve host no-such-host.invalid: check --host\n",
    );
  });
  await t.step("sentence too long", async () => {
    const out = await runScript("udp_client.ts", ["-p", "9"], {
      stdin: "x".repeat(70_000),
    });
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^udp_client: a line is longer than 65507 bytes[^\n]*\n$/,
    );
  });
  const noUnstableNet = ["run", "--no-config", "--allow-net"];
  for (const mode of [["hi"], ["--ping", "1"], ["--heartbeat"]]) {
    await t.step(`without --unstable-net: ${mode.join(" ")}`, async () => {
      const out = await runScript("udp_client.ts", mode, {
        flags: noUnstableNet,
      });
      assert.equal(out.code, 1);
      assert.equal(out.stdout, "");
      assert.equal(
        out.stderr,
        "udp_client: UDP sockets need Deno's --unstable-net flag: " +
          "deno run --allow-net --unstable-net udp_client.ts\n",
      );
    });
  }
  await t.step(
    "without --unstable-net: --json still ends with its summary",
    async () => {
      const out = await runScript("udp_client.ts", ["--json", "hi"], {
        flags: noUnstableNet,
      });
      assert.equal(out.code, 1);
      assert.deepEqual(JSON.parse(out.stdout), {
        replies: 0,
        error: "UDP sockets need Deno's --unstable-net flag: " +
          "deno run --allow-net --unstable-net udp_client.ts",
      });
    },
  );
  await t.step(
    "without --unstable-net: a bad --ping is a usage error",
    async () => {
      const out = await runScript("udp_client.ts", ["--ping", "0"], {
        flags: noUnstableNet,
      });
      assert.equal(out.code, 2);
      assert.match(out.stderr, /^udp_client: --ping must be a whole number/);
    },
  );
  await t.step("without --allow-net", async () => {
    const out = await runScript(
      "udp_client.ts",
      ["--host", "127.0.0.1", "hi"],
      {
        flags: ["run", "--unstable-net", "--no-prompt"],
      },
    );
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^udp_client: network access to "[^"]+" was not granted: give --no-prompt --allow-net=[^\s,]+,[^\s,]+, or --allow-net: deno run --allow-net[^\n]*\n$/,
    );
  });
});

Deno.test("udp_client CLI prints one line and exits 2 on a usage error", async (t) => {
  const cases = [
    ["--port", "0"],
    ["--port", "70000"],
    ["--timeout", "0"],
    ["--timeout", "soon"],
    ["--retries", "-1"],
    ["--retries", "1.5"],
    ["--nope"],
  ];
  for (const args of cases) {
    await t.step(args.join(" "), async () => {
      const out = await runScript("udp_client.ts", [...args, "hi"]);
      assert.equal(out.code, 2);
      assert.match(out.stderr, /^udp_client: [^\n]+ \(see --help\)\n$/);
    });
  }
  // Options that do nothing in the mode chosen: said, not ignored.
  for (
    const [args, said] of [
      [["--ping", "2", "--retries", "5"], /^udp_client: --retries goes with/],
      [["--heartbeat", "--retries", "1"], /^udp_client: --retries goes with/],
      [["--interval", "1", "hi"], /^udp_client: --interval goes with/],
      [["--ping", "2", "-v"], /^udp_client: --verbose shows/],
      [["--heartbeat", "--timeout", "2"], /^udp_client: --timeout waits/],
      [["--ping", "5", "--ping", "50"], /^udp_client: --ping is given twice/],
    ] as const
  ) {
    await t.step(args.join(" "), async () => {
      const out = await runScript("udp_client.ts", [...args]);
      assert.equal(out.code, 2);
      assert.match(out.stderr, said);
    });
  }
  await t.step("--help", async () => {
    const out = await runScript("udp_client.ts", ["--help"]);
    assert.equal(out.code, 0);
    assert.match(
      out.stdout,
      /deno run --allow-net --unstable-net udp_client\.ts/,
    );
  });
});

Deno.test({
  name:
    "udp_client CLI prompts at a terminal as the textbook does, until end of input",
  ignore: !canRun(hasPython, "the terminal test needs python3 for a pty"),
  async fn() {
    await withServer("udp", {}, async (port) => {
      const { code, stdout } = await new Deno.Command("python3", {
        args: [
          "tests/peers/pty_run.py",
          "Input lowercase sentence:",
          "hello\nstraße",
          Deno.execPath(),
          ...[
            "run",
            "--allow-net",
            "--unstable-net",
            "udp_client.ts",
            "-p",
            String(port),
          ],
        ],
        stdout: "piped",
        stderr: "inherit",
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

Deno.test("pingUdp() yields every ping answered, in order, with its round-trip time", async () => {
  await withServer("udp", {}, async (port) => {
    const results = [];
    for await (
      const result of pingUdp({
        hostname: "127.0.0.1",
        port,
        count: 5,
        interval: 0,
      })
    ) {
      results.push(result);
    }
    // Each ping sent, then answered, before the next (as ping -f).
    assert.deepEqual(
      results.map((r) => ["seq" in r ? r.seq : 0, r.status]),
      [1, 2, 3, 4, 5].flatMap((seq) => [[seq, "sent"], [seq, "reply"]]),
    );
    for (const result of results.filter((r) => r.status !== "sent")) {
      assert.ok(
        result.status === "reply" && result.rttMs! >= 0 && result.rttMs! < 1000,
      );
      assert.match(
        text((result as { reply: Uint8Array }).reply),
        new RegExp(`^PING ${result.seq} \\d+\\.\\d+$`),
      );
    }
  });
});

Deno.test("pingUdp() reports a late reply as late, never counted for the next ping", async () => {
  // The peer holds its reply to ping 1 until ping 2 arrives.
  let held: { message: Uint8Array; to: Deno.NetAddr } | undefined;
  await withPeer(async (message, from, { main }) => {
    if (text(message).startsWith("Ping 1 ")) {
      held = { message: upper(message), to: from };
      return;
    }
    if (held) await main.send(held.message, held.to);
    held = undefined;
    await main.send(upper(message), from);
  }, async (port) => {
    const results = [];
    for await (
      const result of pingUdp({
        hostname: "127.0.0.1",
        port,
        count: 2,
        interval: 0.3,
        timeout: 0.2,
      })
    ) {
      if (result.status !== "stray") results.push([result.seq, result.status]);
    }
    assert.deepEqual(results, [
      [1, "sent"],
      [1, "timeout"],
      [2, "sent"],
      [1, "late"],
      [2, "reply"],
    ]);
  });
});

Deno.test("pingUdp() keeps its schedule: a lost ping does not hold up the next", async () => {
  await withPeer(async (message, from, { main }) => {
    if (!text(message).startsWith("Ping 1 ")) {
      await main.send(upper(message), from);
    }
  }, async (port) => {
    const results = [];
    for await (
      const result of pingUdp({
        hostname: "127.0.0.1",
        port,
        count: 3,
        interval: 0.2,
        timeout: 1,
      })
    ) {
      if (result.status !== "stray") results.push([result.seq, result.status]);
    }
    // Ping 2 went 0.2 s after ping 1, not when its 1 s wait ended.
    assert.deepEqual(results, [
      [1, "sent"],
      [2, "sent"],
      [2, "reply"],
      [3, "sent"],
      [3, "reply"],
      [1, "timeout"],
    ]);
  });
});

Deno.test("udp_client CLI --ping marks a reply that comes twice (DUP!) and counts it apart, as ping does", async () => {
  await withPeer(async (message, from, { main }) => {
    await main.send(upper(message), from);
    if (text(message).startsWith("Ping 2 ")) {
      await main.send(upper(message), from);
    }
  }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1", "-p", String(port)],
      ...["--ping", "3", "--interval", "0.2"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.split("\n");
    assert.match(
      lines[2],
      /^Reply from 127\.0\.0\.1:\d+: PING 2 \S+ seq=2 rtt=[\d.]+ ms \(DUP!\)$/,
    );
    assert.match(
      out.stdout,
      /\n3 packets transmitted, 3 received, \+1 duplicates, 0% packet loss\n/,
    );
  });
});

Deno.test("udp_client CLI --ping counts the ping in flight at Ctrl-C as transmitted", async () => {
  let third: () => void;
  const thirdSent = new Promise<void>((resolve) => third = resolve);
  await withPeer(async (message, from, { main }) => {
    const seq = Number(text(message).split(" ")[1]);
    if (seq <= 2) await main.send(upper(message), from);
    else third();
  }, async (port) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: script(
        "udp_client.ts",
        ...["--host", "127.0.0.1", "-p", String(port)],
        ...["--ping", "100", "--interval", "0.05", "--timeout", "10"],
      ).slice(1),
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    try {
      await withTimeout(thirdSent, "ping 3");
      child.kill("SIGINT");
      const { code, stdout } = await withTimeout(child.output(), "the exit");
      assert.equal(code, 0);
      // Ping 3 was out, unanswered, when Ctrl-C came; more may have gone.
      const summary = text(stdout).match(
        /(\d+) packets transmitted, 2 received, /,
      );
      assert.ok(summary && Number(summary[1]) >= 3, text(stdout));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
  });
});

Deno.test("udp_client CLI says what came from another port without guessing who sent it", async () => {
  await withPeer(async (message, from, { other }) => {
    await other.send(upper(message), from);
  }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1", "-p", String(port)],
      ...["--timeout", "0.2", "--retries", "1", "hi"],
    ]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(
        `^udp_client: no reply from 127\\.0\\.0\\.1:${port} after 2 tries ` +
          `of 0\\.2 s: 2 datagrams came from other addresses ` +
          `\\(first: 127\\.0\\.0\\.1:\\d+\\) and were ignored\n$`,
      ),
    );
  });
});

Deno.test("udp_client CLI --ping prints the replies, then ping's summary; 100% loss is a summary, exit 1", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["-p", String(port), "--ping", "3", "--interval", "0.05"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    const lines = out.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 7);
    for (let seq = 1; seq <= 3; seq++) {
      assert.match(
        lines[seq - 1],
        new RegExp(
          `^Reply from localhost:\\d+: PING ${seq} [\\d.]+ seq=${seq} rtt=[\\d.]+ ms$`,
        ),
      );
    }
    assert.match(lines[3], /^--- localhost:\d+ ping statistics ---$/);
    assert.equal(lines[4], "3 packets transmitted, 3 received, 0% packet loss");
    // The summary is what the printed round-trip times give, in order.
    const samples = lines.slice(0, 3).map((line) =>
      Number(line.match(/rtt=([\d.]+) ms$/)![1])
    );
    const expected = new RttStatistics();
    for (const sample of samples) expected.add(sample);
    const numbers = (line: string) => line.match(/\d+\.\d+/g)!.map(Number);
    assert.match(
      lines[5],
      /^rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms$/,
    );
    assert.match(
      lines[6],
      /^EstimatedRTT = [\d.]+ ms, DevRTT = [\d.]+ ms, TimeoutInterval = [\d.]+ ms \(alpha 0\.125, beta 0\.25\)$/,
    );
    const printed = [...numbers(lines[5]), ...numbers(lines[6]).slice(0, 3)];
    const computed = [
      expected.min,
      expected.avg,
      expected.max,
      expected.mdev,
      expected.estimatedRtt,
      expected.devRtt,
      expected.timeoutInterval,
    ];
    for (const [index, value] of printed.entries()) {
      // The printed samples are rounded to microseconds, as is the summary.
      assert.ok(Math.abs(value - computed[index]) < 0.01, `${printed}`);
    }
  });
  await withServer("udp", { dropRate: 1 }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...[
        "-p",
        String(port),
        "--ping",
        "2",
        "--interval",
        "0",
        "--timeout",
        "0.1",
      ],
    ]);
    assert.equal(out.code, 1);
    assert.equal(out.stderr, "");
    assert.match(
      out.stdout,
      /^Request timed out: seq=1\nRequest timed out: seq=2\n--- localhost:\d+ ping statistics ---\n2 packets transmitted, 0 received, 100% packet loss\n$/,
    );
  });
});

Deno.test("udp_client CLI --ping --json with every ping lost ends in an object with an error, exit 1", async () => {
  await withServer("udp", { dropRate: 1 }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["-p", String(port), "--ping", "2", "--interval", "0"],
      ...["--timeout", "0.1", "--json"],
    ]);
    assert.equal(out.code, 1);
    const summary = JSON.parse(out.stdout.trimEnd().split("\n").pop()!);
    assert.equal(summary.transmitted, 2);
    assert.equal(summary.received, 0);
    assert.equal(summary.error, "no ping was answered");
  });
});

Deno.test({
  name:
    "udp_client CLI --ping --json reports every ping and the summary against a server that drops like the lab's pinger",
  ignore: !canRun(hasPython, "the lab pinger server needs python3"),
  async fn() {
    const server = await startServer([
      "python3",
      "tests/peers/pinger_server.py",
      "11",
    ]);
    try {
      const out = await runScript("udp_client.ts", [
        ...["--host", "127.0.0.1", "-p", String(server.port)],
        ...["--ping", "20", "--interval", "0", "--timeout", "0.2", "--json"],
      ]);
      const objects = out.stdout.trimEnd().split("\n").map((line) =>
        JSON.parse(line)
      );
      const summary = objects.pop();
      // Each ping once, answered or timed out (a timeout may come after
      // later pings: they go on schedule).
      const pings = objects.filter((o) => o.status !== "late");
      assert.deepEqual(
        pings.map((o) => o.seq).sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const received = pings.filter((o) => o.status === "reply").length;
      assert.ok(received > 0 && received < 20, `${received} of 20 answered`);
      assert.equal(summary.transmitted, 20);
      assert.equal(summary.received, received);
      assert.equal(summary.loss_percent, (20 - received) * 100 / 20);
      assert.equal(summary.duplicates, 0);
      assert.ok(
        summary.rtt_min_ms <= summary.rtt_avg_ms &&
          summary.rtt_avg_ms <= summary.rtt_max_ms,
      );
      assert.equal(out.code, 0);
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test("udp_client CLI --json prints one object per reply and a summary", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript(
      "udp_client.ts",
      ["-p", String(port), "--json"],
      { stdin: "one\nstraße\n" },
    );
    assert.equal(out.code, 0);
    assert.equal(
      out.stdout,
      '{"reply":"ONE"}\n{"reply":"STRASSE"}\n{"replies":2}\n',
    );
  });
});

Deno.test("udp_client CLI -v prints each socket step on stderr, in order", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      "--host",
      "127.0.0.1",
      "-p",
      String(port),
      "-v",
      "hi",
    ]);
    assert.equal(out.code, 0);
    assert.equal(out.stdout, "HI\n");
    assert.match(
      out.stderr,
      new RegExp(
        "^udp_client: socket\\(AF_INET, SOCK_DGRAM\\): 0\\.0\\.0\\.0:\\d+\n" +
          `udp_client: sendto: 2 bytes to 127\\.0\\.0\\.1:${port}\n` +
          `udp_client: recvfrom: 2 bytes from 127\\.0\\.0\\.1:${port}\n` +
          "udp_client: close\n$",
      ),
    );
  });
});

Deno.test("RttStatistics gives ping's numbers and the textbook's estimators, as worked by hand", () => {
  const rtt = new RttStatistics();
  assert.deepEqual(rtt.toJSON(), {});
  for (const sample of [100, 120, 80, 100]) rtt.add(sample);
  // By hand, RFC 6298's order (DevRTT from the EstimatedRTT before it):
  // 100: E 100, D 50
  // 120: D .75*50 + .25*20 = 42.5; E .875*100 + .125*120 = 102.5
  // 80: D .75*42.5 + .25*22.5 = 37.5; E .875*102.5 + .125*80 = 99.6875
  // 100: D .75*37.5 + .25*0.3125 = 28.203125; E 99.7265625
  assert.equal(rtt.count, 4);
  assert.equal(rtt.min, 80);
  assert.equal(rtt.max, 120);
  assert.equal(rtt.avg, 100);
  assert.equal(rtt.mdev.toFixed(6), Math.sqrt(200).toFixed(6));
  assert.equal(rtt.estimatedRtt, 99.7265625);
  assert.equal(rtt.devRtt, 28.203125);
  assert.equal(rtt.timeoutInterval, 99.7265625 + 4 * 28.203125);
  assert.deepEqual(rtt.summary(), [
    "rtt min/avg/max/mdev = 80.000/100.000/120.000/14.142 ms",
    "EstimatedRTT = 99.727 ms, DevRTT = 28.203 ms, TimeoutInterval = 212.539 ms (alpha 0.125, beta 0.25)",
  ]);
  assert.deepEqual(rtt.toJSON(), {
    rtt_min_ms: 80,
    rtt_avg_ms: 100,
    rtt_max_ms: 120,
    rtt_mdev_ms: 14.142,
    estimated_rtt_ms: 99.727,
    dev_rtt_ms: 28.203,
    timeout_interval_ms: 212.539,
  });
  // One sample: ping's mdev 0; RFC 6298's start, DevRTT = R / 2.
  const one = new RttStatistics();
  one.add(0.5);
  assert.deepEqual(one.toJSON(), {
    rtt_min_ms: 0.5,
    rtt_avg_ms: 0.5,
    rtt_max_ms: 0.5,
    rtt_mdev_ms: 0,
    estimated_rtt_ms: 0.5,
    dev_rtt_ms: 0.25,
    timeout_interval_ms: 1.5,
  });
});

// ---------------------------------------------------------------------------
// The fourth attack's edges (issue 29): hosts files, pauses, refused sends,
// ports that come round again, and what a server can put in a reply.
// ---------------------------------------------------------------------------

const mountReason = await namespacesUnavailable();
const networkReason = await namespacesUnavailable({ network: true });

/**
 * Whether this machine can give a test a mount namespace of its own, and
 * with `network` a network namespace too; if not, says why.
 */
function canUnshare({ network }: { network: boolean }): boolean {
  const reason = network ? networkReason : mountReason;
  return canRun(
    reason === undefined,
    `${reason}: hosts files and network namespaces untested`,
  );
}

/**
 * Runs `command` with `stdin` written to it, in a mount namespace of its own
 * where `files` are over the system's; with `ownNetwork`, in a network
 * namespace of its own too (see {@linkcode withSystemFiles}). Killed if it
 * outlives `ms`.
 */
function inNamespace(
  files: Record<string, string>,
  command: string[],
  { ownNetwork = false, ms = 20_000, stdin = "" } = {},
): Promise<Output> {
  return withSystemFiles(files, async (inFiles) => {
    const [program, ...args] = inFiles(command);
    const child = new Deno.Command(program, {
      args,
      cwd: ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(ms),
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(bytes(stdin)).catch(() => {});
    await writer.close().catch(() => {});
    const out = await child.output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: text(out.stdout),
      stderr: text(out.stderr),
    };
  }, { network: ownNetwork });
}

/**
 * Runs `code`, a Deno module, in network and mount namespaces of its own
 * (see {@linkcode inNamespace}); it finds the scripts in `Deno.args[0]`.
 * Resolves with what it printed on stdout, read as JSON.
 */
async function denoInNamespace(
  code: string,
  files: Record<string, string> = {},
): Promise<Record<string, unknown>> {
  const file = await Deno.makeTempFile({ suffix: ".ts" });
  try {
    await Deno.writeTextFile(file, code);
    const out = await inNamespace(files, [
      Deno.execPath(),
      ...["run", "-A", "--unstable-net", file, ROOT],
    ], { ownNetwork: true });
    assert.equal(out.code, 0, out.stderr);
    return JSON.parse(out.stdout);
  } finally {
    await Deno.remove(file);
  }
}

/** The command line of the client script itself, from any folder. */
function clientCommand(...args: string[]): string[] {
  return [
    Deno.execPath(),
    ...["run", "--allow-net", "--unstable-net", `${ROOT}udp_client.ts`],
    ...args,
  ];
}

Deno.test("udp_client CLI says hello where localhost is ::1 first in /etc/hosts, to a server on 0.0.0.0, as UDPClient.py does", async () => {
  if (!canUnshare({ network: false })) return;
  await withServer("udp", { hostname: "0.0.0.0" }, async (port) => {
    const out = await inNamespace(
      { "/etc/hosts": "::1 localhost\n127.0.0.1 localhost\n" },
      clientCommand("-p", String(port), "hello"),
    );
    assert.equal(out.stdout, "HELLO\n", out.stderr);
    assert.equal(out.code, 0);
  });
});

Deno.test("udp_client CLI takes a name's addresses in the system's order, as Python and Node do", async () => {
  if (!canUnshare({ network: false })) return;
  // 127.0.0.3 first: sorted, 127.0.0.2 would come first.
  await withServer("udp", { hostname: "127.0.0.3" }, async (port) => {
    const out = await inNamespace(
      { "/etc/hosts": "127.0.0.3 two.test\n127.0.0.2 two.test\n" },
      clientCommand("--host", "two.test", "-p", String(port), "-v", "hi"),
    );
    assert.match(out.stderr, new RegExp(`sendto: 2 bytes to 127\\.0\\.0\\.3:`));
    assert.equal(out.stdout, "HI\n", out.stderr);
  });
});

Deno.test("udp_client CLI --ping and --heartbeat end at once, 130, on Ctrl-C during a lookup that hangs", async (t) => {
  if (!canUnshare({ network: true })) return;
  for (const mode of [["--ping", "3"], ["--heartbeat"]]) {
    await t.step(mode[0], async () => {
      // A name server that never answers: Ctrl-C once its query came.
      const result = await denoInNamespace(
        `
const dns = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 53 });
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--unstable-net", Deno.args[0] + "udp_client.ts",
    "--host", "slow.test", ${mode.map((m) => JSON.stringify(m)).join(", ")}],
  stdout: "piped", stderr: "piped",
}).spawn();
await dns.receive();
const asked = performance.now();
child.kill("SIGINT");
const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
const out = await child.output();
clearTimeout(timer);
dns.close();
console.log(JSON.stringify({ code: out.code, ms: performance.now() - asked,
  stdout: new TextDecoder().decode(out.stdout),
  stderr: new TextDecoder().decode(out.stderr) }));
`,
        {
          "/etc/hosts": "127.0.0.1 localhost\n",
          "/etc/resolv.conf":
            "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
        },
      );
      assert.equal(result.code, 130, JSON.stringify(result));
      assert.ok((result.ms as number) < 3000, JSON.stringify(result));
    });
  }
});

Deno.test("udp_client CLI --ping and --heartbeat report sends the system refuses, exit 1", async (t) => {
  if (!canUnshare({ network: true })) return;
  // Loopback alone: every send to 192.0.2.1 is refused (no route).
  await t.step("--heartbeat", async () => {
    const out = await inNamespace(
      {},
      clientCommand(
        ...["--host", "192.0.2.1", "-p", "9"],
        ...["--heartbeat", "--count", "3", "--interval", "0.01"],
      ),
      { ownNetwork: true },
    );
    assert.equal(out.code, 1, out.stdout);
    assert.match(
      out.stderr,
      /^udp_client: heartbeat 1 not sent: Network is unreachable/,
    );
    assert.match(
      out.stdout,
      /\n0 heartbeats sent, 3 not sent \(see above\)\n$/,
    );
  });
  await t.step("--ping", async () => {
    const out = await inNamespace(
      {},
      clientCommand(
        ...["--host", "192.0.2.1", "-p", "9"],
        ...["--ping", "2", "--interval", "0.01", "--timeout", "0.1"],
      ),
      { ownNetwork: true },
    );
    assert.equal(out.code, 1, out.stdout);
    assert.match(out.stdout, /^Not sent: seq=1: Network is unreachable/);
    assert.match(
      out.stdout,
      /\n0 packets transmitted, 0 received, 2 not sent \(see above\), 0% packet loss\n$/,
    );
  });
});

Deno.test("udp_client CLI fails at once, with the system's reason, when the system refuses to send a sentence", async () => {
  if (!canUnshare({ network: true })) return;
  // Loopback alone: a send to 192.0.2.1 is refused (no route). Three tries
  // of 2 s would be 6 s of waiting for nothing.
  const started = performance.now();
  const out = await inNamespace(
    {},
    clientCommand(
      ...["--host", "192.0.2.1", "-p", "9", "--timeout", "2", "hi"],
    ),
    { ownNetwork: true },
  );
  const seconds = (performance.now() - started) / 1000;
  assert.equal(out.code, 1, out.stderr);
  assert.match(
    out.stderr,
    /^udp_client: cannot send to 192\.0\.2\.1:9: Network is unreachable[^\n]*\n$/,
  );
  assert.ok(seconds < 4, `took ${seconds} s`);
});

Deno.test("udp_client CLI gives up a lookup that gets no answer after --timeout, and blames the name server, not the host", async (t) => {
  if (!canUnshare({ network: true })) return;
  const reachable = "is the name server reachable?";
  for (
    const [args, said] of [
      [
        ["--timeout", "0.5", "--retries", "0", "hi"],
        `within 0.5 s: ${reachable} (--timeout waits longer)`,
      ],
      [
        ["--ping", "2", "--timeout", "0.5"],
        `within 0.5 s: ${reachable} (--timeout waits longer)`,
      ],
      // No --timeout with --heartbeat: the default's 1 s.
      [["--heartbeat", "--count", "2"], `within 1 s: ${reachable}`],
    ] as const
  ) {
    await t.step(args.at(-1) === "hi" ? "a sentence" : args[0], async () => {
      // A name server that never answers, where the resolver waits 30 s.
      const result = await denoInNamespace(
        `
const dns = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 53 });
const started = performance.now();
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--unstable-net", Deno.args[0] + "udp_client.ts",
    "--host", "slow.test", ${args.map((a) => JSON.stringify(a)).join(", ")}],
  stdout: "piped", stderr: "piped",
}).spawn();
const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
const out = await child.output();
clearTimeout(timer);
dns.close();
console.log(JSON.stringify({ code: out.code, ms: performance.now() - started,
  stderr: new TextDecoder().decode(out.stderr) }));
`,
        {
          "/etc/hosts": "127.0.0.1 localhost\n",
          "/etc/resolv.conf":
            "nameserver 127.0.0.1\noptions timeout:30 attempts:1\n",
        },
      );
      assert.equal(result.code, 1, JSON.stringify(result));
      assert.equal(
        result.stderr,
        `udp_client: cannot resolve host slow.test ${said}\n`,
      );
      assert.ok((result.ms as number) < 5000, JSON.stringify(result));
    });
  }
});

Deno.test("udp_client CLI never prints a late reply for a later sentence when its port comes round again (a 4-port range)", async () => {
  if (!canUnshare({ network: true })) return;
  // Every reply comes 0.25 s late, so each sentence is sent twice (a 0.2 s
  // timeout) and the second try's reply comes while the next one waits.
  const result = await denoInNamespace(`
await Deno.writeTextFile("/proc/sys/net/ipv4/ip_local_port_range", "40000 40003");
const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 12000 });
const pending = new Set();
const serving = (async () => {
  try {
    for await (const [message, from] of server) {
      const reply = new TextEncoder().encode(new TextDecoder().decode(message).toUpperCase());
      const late = new Promise((resolve) => setTimeout(resolve, 250))
        .then(() => server.send(reply, from)).catch(() => {});
      pending.add(late);
    }
  } catch { /* closed */ }
})();
const lines = Array.from({ length: 12 }, (_, i) => "s" + (i + 1));
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--unstable-net", Deno.args[0] + "udp_client.ts",
    "--host", "127.0.0.1", "--timeout", "0.2"],
  stdin: "piped", stdout: "piped", stderr: "piped",
}).spawn();
const writer = child.stdin.getWriter();
await writer.write(new TextEncoder().encode(lines.join("\\n") + "\\n"));
await writer.close();
const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
const out = await child.output();
clearTimeout(timer);
await Promise.all(pending);
server.close();
await serving;
console.log(JSON.stringify({ code: out.code,
  stdout: new TextDecoder().decode(out.stdout),
  stderr: new TextDecoder().decode(out.stderr) }));
`);
  assert.equal(
    result.stdout,
    Array.from({ length: 12 }, (_, i) => `S${i + 1}\n`).join(""),
    JSON.stringify(result),
  );
  assert.equal(result.code, 0);
});

Deno.test("udp_client CLI makes a sentence wait for a port, never print a late reply, when the system has no port free (a 4-port range)", async () => {
  if (!canUnshare({ network: true })) return;
  // "one" is answered 0.5 s after its first try, after a 0.4 s timeout, so
  // it is sent twice; its second try's reply comes 1.2 s late, while "five"
  // (never answered) would have "one"'s port if "one"'s socket were given
  // up early: the four ports are all held by then.
  const result = await denoInNamespace(`
await Deno.writeTextFile("/proc/sys/net/ipv4/ip_local_port_range", "40000 40003");
const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 12000 });
const pending = new Set();
const seen = new Map();
const serving = (async () => {
  try {
    for await (const [message, from] of server) {
      const sentence = new TextDecoder().decode(message);
      const tries = (seen.get(sentence) ?? 0) + 1;
      seen.set(sentence, tries);
      if (sentence === "five") continue;
      const delay = sentence === "one" ? (tries === 1 ? 500 : 1200) : 0;
      const reply = new TextEncoder().encode(sentence.toUpperCase());
      pending.add(new Promise((resolve) => setTimeout(resolve, delay))
        .then(() => server.send(reply, from)).catch(() => {}));
    }
  } catch { /* closed */ }
})();
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--unstable-net", Deno.args[0] + "udp_client.ts",
    "-v", "--host", "127.0.0.1", "--timeout", "0.4", "--retries", "3"],
  stdin: "piped", stdout: "piped", stderr: "piped",
}).spawn();
const writer = child.stdin.getWriter();
await writer.write(new TextEncoder().encode("one\\ntwo\\nthree\\nfour\\nfive\\n"));
await writer.close();
const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
const out = await child.output();
clearTimeout(timer);
await Promise.all(pending);
server.close();
await serving;
console.log(JSON.stringify({ code: out.code,
  stdout: new TextDecoder().decode(out.stdout),
  stderr: new TextDecoder().decode(out.stderr) }));
`);
  assert.equal(
    result.stdout,
    "ONE\nTWO\nTHREE\nFOUR\n",
    JSON.stringify(result),
  );
  assert.equal(result.code, 1, JSON.stringify(result));
  assert.match(result.stderr as string, /no port free: waiting [\d.]+ s/);
  assert.match(result.stderr as string, /no reply from 127\.0\.0\.1:12000/);
});

Deno.test("sendUdp() stops at once on an abort while a sentence waits for a port (a 4-port range)", async () => {
  if (!canUnshare({ network: true })) return;
  // Four sentences answered at once hold the four ports for 10 timeouts
  // (20 s); the fifth waits for one, and the abort ends the wait.
  const result = await denoInNamespace(`
await Deno.writeTextFile("/proc/sys/net/ipv4/ip_local_port_range", "40000 40003");
const { sendUdp } = await import(Deno.args[0] + "udp_client.ts");
const server = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 12000 });
const serving = (async () => {
  try {
    for await (const [message, from] of server) await server.send(message, from);
  } catch { /* closed */ }
})();
const controller = new AbortController();
let aborted = 0;
const log = (line) => {
  if (line.startsWith("no port free")) {
    aborted = Date.now();
    controller.abort(new Error("stop"));
  }
};
const replies = [];
let error = "";
try {
  for await (const reply of sendUdp(["1", "2", "3", "4", "5"], {
    hostname: "127.0.0.1", timeout: 2, signal: controller.signal, log,
  })) replies.push(new TextDecoder().decode(reply));
} catch (e) {
  error = e.message;
}
const ms = aborted === 0 ? -1 : Date.now() - aborted;
server.close();
await serving;
console.log(JSON.stringify({ replies, error, ms }));
`);
  assert.deepEqual(
    result.replies,
    ["1", "2", "3", "4"],
    JSON.stringify(result),
  );
  assert.equal(result.error, "stop", JSON.stringify(result));
  assert.ok(
    (result.ms as number) >= 0 && (result.ms as number) < 2000,
    JSON.stringify(result),
  );
});

Deno.test("udp_client CLI takes no reply from this machine for a server elsewhere", async () => {
  if (!canUnshare({ network: true })) return;
  // The server is 192.0.2.1; a datagram from 127.0.0.1 with its port is a
  // forgery, though from an address of this machine. A route to it, so that
  // the client's sends go (to be lost) rather than being refused.
  const result = await denoInNamespace(`
const route = await new Deno.Command("ip", {
  args: ["route", "add", "192.0.2.1/32", "dev", "lo"],
}).output();
if (!route.success) throw new Error(new TextDecoder().decode(route.stderr));
const forger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const port = forger.addr.port;
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--unstable-net", Deno.args[0] + "udp_client.ts",
    "--host", "192.0.2.1", "-p", String(port), "--timeout", "1", "--retries", "0", "-v", "hi"],
  stdout: "piped", stderr: "piped",
}).spawn();
const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
const stdout = new Response(child.stdout).text();
let stderr = "";
const lines = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
while (!/SOCK_DGRAM\\): [\\d.]+:\\d+\\n/.test(stderr)) {
  const { value, done } = await lines.read();
  if (done) break;
  stderr += value;
}
const clientPort = Number(stderr.match(/SOCK_DGRAM\\): [\\d.]+:(\\d+)/)?.[1]);
await forger.send(new TextEncoder().encode("FORGED"), { transport: "udp", hostname: "127.0.0.1", port: clientPort });
while (true) {
  const { value, done } = await lines.read();
  if (done) break;
  stderr += value;
}
const status = await child.status;
clearTimeout(timer);
forger.close();
console.log(JSON.stringify({ code: status.code, stdout: await stdout, stderr }));
`);
  assert.equal(result.stdout, "", JSON.stringify(result));
  assert.equal(result.code, 1);
  assert.match(result.stderr as string, /not the server: ignored/);
});

Deno.test("udp_client CLI takes a host written with its final dot, 127.0.0.1.", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1.", "-p", String(port), "hi"],
    ]);
    assert.equal(out.stdout, "HI\n", out.stderr);
    assert.equal(out.code, 0);
  });
});

Deno.test("sendUdp() ends a try on time however often a stranger writes to it", async () => {
  const silent = udpSocket();
  const stranger = udpSocket();
  let clientPort: number | undefined;
  let writing = true;
  const strangerWrites = (async () => {
    while (writing) {
      if (clientPort !== undefined) {
        await stranger.send(bytes("NOISE"), {
          transport: "udp",
          hostname: "127.0.0.1",
          port: clientPort,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, clientPort ? 300 : 5));
    }
  })();
  const started = performance.now();
  try {
    await assert.rejects(
      withTimeout(
        replies(["hi"], {
          hostname: "127.0.0.1",
          port: (silent.addr as Deno.NetAddr).port,
          timeout: 1,
          retries: 0,
          log: (line) => {
            clientPort ??= Number(
              line.match(/SOCK_DGRAM\): [\d.]+:(\d+)/)?.[1],
            );
          },
        }),
        "the one try to end",
        6000,
      ),
      /no reply from/,
    );
    const elapsed = performance.now() - started;
    assert.ok(elapsed < 1800, `${elapsed} ms for a 1 s try`);
  } finally {
    writing = false;
    await strangerWrites;
    silent.close();
    stranger.close();
  }
});

/**
 * Runs the client with `args` against `port`, pausing it (SIGSTOP) when
 * `pauseWhen` says so of a datagram the peer got, for `pauseMs`, then
 * SIGCONT. `answer` says whether the peer answers a datagram, and
 * `answerAfterMs` how long after it came.
 */
async function pausedClient(
  args: string[],
  pauseWhen: (message: string) => boolean,
  pauseMs: number,
  answer: boolean,
  answerAfterMs = 0,
): Promise<{ output: Output; arrivals: [string, number][] }> {
  const arrivals: [string, number][] = [];
  let child: Deno.ChildProcess | undefined;
  let resumed: Promise<void> | undefined;
  let output: Output | undefined;
  await withUdpHandler(async (socket, data, from) => {
    const message = text(data);
    arrivals.push([message, performance.now()]);
    if (child !== undefined && resumed === undefined && pauseWhen(message)) {
      const paused = child;
      paused.kill("SIGSTOP");
      resumed = new Promise((resolve) => setTimeout(resolve, pauseMs))
        .then(() => paused.kill("SIGCONT"));
    }
    if (!answer) return;
    if (answerAfterMs > 0) {
      await new Promise((resolve) => setTimeout(resolve, answerAfterMs));
    }
    await socket.send(bytes(message.toUpperCase()), from);
  }, async (port) => {
    child = new Deno.Command(Deno.execPath(), {
      args: clientCommand("--host", "127.0.0.1", "-p", String(port), ...args)
        .slice(1),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      const out = await withTimeout(
        child.output(),
        "the client's exit",
        20_000,
      );
      output = {
        code: out.code,
        signal: out.signal,
        stdout: text(out.stdout),
        stderr: text(out.stderr),
      };
    } finally {
      await resumed;
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
    }
  });
  return { output: output!, arrivals };
}

Deno.test("udp_client CLI --ping paused longer than its timeout (Ctrl-Z, fg) reports no loss that never happened", async () => {
  // Paused just as ping 3's reply is on its way: it is read, not lost.
  const { output } = await pausedClient(
    ["--ping", "6", "--interval", "0.2", "--timeout", "0.5"],
    (message) => message.startsWith("Ping 3 "),
    1500,
    true,
  );
  assert.doesNotMatch(output.stdout, /Request timed out|Late reply/);
  assert.match(
    output.stdout,
    /\n6 packets transmitted, 6 received, 0% packet loss\n/,
  );
  assert.equal(output.code, 0);
});

Deno.test("udp_client CLI --ping paused while a reply is on its way: received, its RTT unknown and kept out of the statistics; then one ping at once, not a burst", async () => {
  // The peer answers 0.3 s after each ping; the client is paused at ping 1
  // for 2.3 s, so ping 1's reply waits in its socket, and ping 2 falls due.
  const { output, arrivals } = await pausedClient(
    ["--ping", "3", "--interval", "1", "--timeout", "1"],
    (message) => message.startsWith("Ping 1 "),
    2300,
    true,
    300,
  );
  assert.equal(output.code, 0, output.stderr);
  assert.match(
    output.stdout,
    /^Reply from [^\n]* seq=1 rtt unknown: the client was paused$/m,
  );
  assert.match(output.stdout, /\n3 packets transmitted, 3 received, 0%/);
  // The statistics are pings 2 and 3's, 0.3 s each: never the pause's.
  const max = output.stdout.match(
    /^rtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/([\d.]+)/m,
  )?.[1];
  const estimated = output.stdout.match(/^EstimatedRTT = ([\d.]+) ms/m)?.[1];
  assert.ok(Number(max) < 1000 && Number(estimated) < 1000, output.stdout);
  // Ping 2, due during the pause, goes at its end; ping 3 on the schedule.
  const sentAt = (seq: number) =>
    arrivals.find(([message]) => message.startsWith(`Ping ${seq} `))![1];
  assert.ok(
    sentAt(3) - sentAt(2) > 300,
    `a burst: ${JSON.stringify(arrivals)}`,
  );
});

Deno.test("udp_client CLI --heartbeat paused goes on with its schedule: no burst of the heartbeats missed", async () => {
  const { output, arrivals } = await pausedClient(
    ["--heartbeat", "--count", "12", "--interval", "0.1"],
    (message) => message.startsWith("Heartbeat 3 "),
    1000,
    false,
  );
  assert.equal(output.code, 0, output.stderr);
  assert.deepEqual(
    arrivals.map(([message]) => Number(message.split(" ")[1])),
    Array.from({ length: 12 }, (_, i) => i + 1),
  );
  // After the pause, never more than two within 50 ms (one made up for).
  const times = arrivals.map(([, time]) => time);
  for (let i = 2; i < times.length; i++) {
    assert.ok(times[i] - times[i - 2] > 50, `burst: ${times.join(", ")}`);
  }
});

Deno.test("udp_client CLI --ping escapes the control characters of a reply: a server cannot forge lines or colours", async () => {
  await withPeer(async (message, from, { main }) => {
    const forged = `${text(upper(message))}\nRequest timed out: seq=9\x1b[31m`;
    await main.send(bytes(forged), from);
  }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1", "-p", String(port), "--ping", "1"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.ok(!out.stdout.includes("\x1b"), out.stdout);
    assert.doesNotMatch(out.stdout, /^Request timed out/m);
    assert.match(out.stdout, /\\x0aRequest timed out: seq=9\\x1b\[31m seq=1 /);
  });
});

Deno.test("udp_client CLI --ping says what came from another port, when nothing came from the server, without guessing who sent it", async () => {
  await withPeer(async (message, from, { other }) => {
    await other.send(upper(message), from);
  }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.0.1", "-p", String(port)],
      ...["--ping", "2", "--interval", "0.05", "--timeout", "0.2"],
    ]);
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      new RegExp(
        `^udp_client: no reply from 127\\.0\\.0\\.1:${port}; 2 datagrams ` +
          `came from other addresses \\(first: 127\\.0\\.0\\.1:\\d+\\) ` +
          `and were ignored\n$`,
      ),
    );
  });
});

Deno.test("udp_client CLI --ping --json gives rtt_ms as a number", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["-p", String(port), "--ping", "2", "--interval", "0.05", "--json"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    const [first, second] = out.stdout.split("\n").map((line) =>
      line && JSON.parse(line)
    );
    for (const ping of [first, second]) {
      assert.equal(ping.status, "reply");
      assert.equal(typeof ping.rtt_ms, "number");
    }
  });
});
