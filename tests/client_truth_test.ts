/**
 * The clients tell the truth (DESIGN.md, Clients): driven as a user would,
 * against servers that cut, reset, go silent, stop reading or answer from
 * elsewhere, with pipes closed early and odd options. Each test runs the
 * real CLI.
 *
 * @module
 */
import assert from "node:assert/strict";
import { sendUdp } from "../udp_client.ts";
import {
  bytes,
  canRun,
  hasProgram,
  ROOT,
  runScript,
  script,
  startServer,
  text,
  udpSocket,
  withServer,
  withTimeout,
} from "./_helpers.ts";

const hasPython = await hasProgram("python3");

/** A TCP listener that does `handle` with each connection: an odd server. */
async function withTcpPeer(
  handle: (conn: Deno.TcpConn) => Promise<void>,
  fn: (port: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handling: Promise<void>[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        handling.push(
          handle(conn).catch(() => {}).finally(() => {
            try {
              conn.close();
            } catch {
              // closed by the handler
            }
          }),
        );
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
    await Promise.all(handling);
  }
}

/** Reads what has come, once: the client's sentence, say. */
async function readSome(conn: Deno.Conn): Promise<void> {
  await conn.read(new Uint8Array(64 * 1024));
}

/** Reads until the client closes its side, keeping silent meanwhile. */
async function readToEnd(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  while (await conn.read(buffer) !== null) {
    // nothing to say
  }
}

Deno.test("tcp_client CLI writes a reply cut short by the server's close as it came, and says so, exit 1", async () => {
  await withTcpPeer(async (conn) => {
    await readSome(conn);
    await conn.write(bytes("HEL"));
  }, async (port) => {
    const out = await runScript("tcp_client.ts", [
      "-p",
      String(port),
      "hello world",
    ]);
    assert.equal(out.stdout, "HEL");
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /^tcp_client: the reply was cut short: 3 bytes came, then localhost:\d+ closed the connection, before the newline that ends it\n$/,
    );
  });
});

Deno.test("tcp_client CLI reports a reply cut short by a reset, exit 1", async () => {
  await withTcpPeer(async (conn) => {
    await readSome(conn);
    await conn.write(bytes("HEL"));
    // Closing with the client's bytes unread makes the kernel reset.
    await new Promise((resolve) => setTimeout(resolve, 50));
  }, async (port) => {
    const out = await runScript("tcp_client.ts", ["-p", String(port)], {
      stdin: "x".repeat(200_000) + "\n",
    });
    assert.equal(out.code, 1);
    assert.ok(out.stdout.length <= 3, out.stdout);
    assert.match(
      out.stderr,
      /^tcp_client: [^\n]*(reset|cut short|closed)[^\n]*\n$/,
    );
  });
});

Deno.test("tcp_client CLI --timeout cuts a reply that stops before its newline, then goes silent", async () => {
  await withTcpPeer(async (conn) => {
    await readSome(conn);
    await conn.write(bytes("HE"));
    await readToEnd(conn);
  }, async (port) => {
    const started = performance.now();
    const out = await runScript("tcp_client.ts", [
      ...["-p", String(port), "--timeout", "0.5", "hello"],
    ]);
    const took = performance.now() - started;
    assert.equal(out.stdout, "HE");
    assert.equal(out.code, 1);
    assert.match(
      out.stderr,
      /2 bytes came, then the rest did not come within --timeout 0\.5 s/,
    );
    assert.ok(took < 5_000, `took ${took} ms`);
  });
});

Deno.test("tcp_client CLI ends a reply at its newline, the bytes after it left out", async () => {
  await withTcpPeer(async (conn) => {
    await readSome(conn);
    await conn.write(bytes("HI\nEXTRA LINE\nMORE"));
  }, async (port) => {
    const out = await runScript("tcp_client.ts", ["-p", String(port), "hi"]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout, "HI\n");
  });
});

Deno.test({
  name:
    "tcp_client CLI says so when the textbook server's recv(1024) cuts a long sentence",
  ignore: !canRun(
    hasPython,
    "the textbook TCPServer.py stand-in needs python3",
  ),
  async fn() {
    const server = await startServer([
      "python3",
      "tests/peers/textbook_tcp_server.py",
    ]);
    try {
      const out = await runScript("tcp_client.ts", [
        ...["-p", String(server.port), "a".repeat(3000)],
      ]);
      assert.equal(out.code, 1);
      assert.equal(out.stdout, "A".repeat(1024));
      assert.match(out.stderr, /cut short: 1024 bytes came/);
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test("tcp_client CLI --stream fails with a timeout, in bounded time, against a server that never reads", async () => {
  let release = () => {};
  const released = new Promise<void>((resolve) => release = resolve);
  await withTcpPeer(async () => {
    await released; // accepts, never reads
  }, async (port) => {
    const started = performance.now();
    const out = await runScript(
      "tcp_client.ts",
      ["-p", String(port), "--stream", "--timeout", "1"],
      { stdin: new Uint8Array(16 * 1024 * 1024).fill(0x61), ms: 20_000 },
    );
    release();
    const took = performance.now() - started;
    assert.equal(out.code, 1);
    assert.match(out.stderr, /took no input for 1 s/);
    assert.ok(took < 10_000, `took ${took} ms`);
  });
});

Deno.test("tcp_client CLI --stream notices at once a server that closes, while stdin is silent", async () => {
  await withTcpPeer(async (conn) => {
    await conn.write(bytes("BYE\n"));
  }, async (port) => {
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
    }).spawn();
    // Standard input stays open and silent.
    const output = await withTimeout(child.output(), "the client to notice");
    await child.stdin.close().catch(() => {});
    assert.equal(output.code, 1);
    assert.equal(text(output.stdout), "BYE\n");
    assert.match(
      text(output.stderr),
      /closed the connection before all the input was sent/,
    );
  });
});

Deno.test("tcp_client CLI --stream still gives a slow reader of stdout every byte", async () => {
  await withServer("tcp", {}, async (port) => {
    const size = 20 * 1024 * 1024;
    const { code, stdout } = await new Deno.Command("bash", {
      args: [
        "-c",
        `head -c ${size} /dev/zero | tr '\\0' a | "$0" run --allow-net ` +
        `tcp_client.ts -p ${port} --stream | ` +
        `(sleep 3; tr -d A | wc -c; )`,
        Deno.execPath(),
      ],
      cwd: ROOT,
      stdout: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    assert.equal(code, 0);
    assert.equal(text(stdout).trim(), "0"); // every byte was an "A"
  });
});

Deno.test("tcp_client and udp_client CLI end quietly when stdout is closed early (| head -1)", async (t) => {
  await withServer("tcp", {}, async (tcpPort) => {
    await withServer("udp", {}, async (udpPort) => {
      for (
        const [name, port] of [
          ["tcp_client.ts", tcpPort],
          ["udp_client.ts", udpPort],
        ] as const
      ) {
        await t.step(name, async () => {
          const { stdout } = await new Deno.Command("bash", {
            args: [
              "-c",
              `yes hello | head -n 2000 | "$0" run --allow-net --unstable-net ` +
              `${name} -p ${port} 2>"$1" | head -1; ` +
              `echo "status \${PIPESTATUS[2]}"; cat "$1"; rm "$1"`,
              Deno.execPath(),
              await Deno.makeTempFile(),
            ],
            cwd: ROOT,
            stdout: "piped",
            signal: AbortSignal.timeout(30_000),
          }).output();
          assert.equal(text(stdout), "HELLO\nstatus 0\n");
        });
      }
    });
  });
});

Deno.test("udp_client CLI --heartbeat and --ping end quietly when stdout is closed early (| head -1)", async (t) => {
  await withServer("udp", {}, async (port) => {
    for (
      const mode of [
        "--heartbeat --interval 0.1",
        "--ping 30 --interval 0.2",
      ]
    ) {
      await t.step(mode, async () => {
        const started = performance.now();
        const { stdout } = await new Deno.Command("bash", {
          args: [
            "-c",
            `"$0" run --allow-net --unstable-net udp_client.ts -p ${port} ` +
            `${mode} 2>"$1" | head -1; ` +
            `echo "status \${PIPESTATUS[0]}"; cat "$1"; rm "$1"`,
            Deno.execPath(),
            await Deno.makeTempFile(),
          ],
          cwd: ROOT,
          stdout: "piped",
          signal: AbortSignal.timeout(30_000),
        }).output();
        const lines = text(stdout).split("\n");
        assert.match(lines[0], /^(Heartbeat|Reply from) /);
        assert.deepEqual(lines.slice(1), ["status 0", ""]);
        // Stopped at the next line, not after 30 pings (6 s): generous.
        assert.ok(performance.now() - started < 4_000);
      });
    }
  });
});

Deno.test("tcp_client CLI --stream waits for its own stdout: a reader paused longer than --timeout loses nothing", async () => {
  await withServer("tcp", {}, async (port) => {
    const { stdout } = await new Deno.Command("bash", {
      args: [
        "-c",
        `head -c 20000000 /dev/zero | tr '\\0' a | ` +
        `"$0" run --allow-net tcp_client.ts -p ${port} --stream --timeout 1 ` +
        `2>"$1" | { sleep 3; tr -cd A | wc -c; } ; ` +
        `echo "status \${PIPESTATUS[2]}"; cat "$1"; rm "$1"`,
        Deno.execPath(),
        await Deno.makeTempFile(),
      ],
      cwd: ROOT,
      stdout: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    // Every byte came back an "A", the reader's pause was no fault of the
    // server's, and nothing was said on stderr.
    assert.equal(
      text(stdout).replace(/^ +/gm, ""),
      "20000000\nstatus 0\n",
    );
  });
});

Deno.test("udp_client CLI gets an answer from a server on this machine however --host names it", async (t) => {
  await withServer("udp", { hostname: "0.0.0.0" }, async (port) => {
    for (
      const host of [
        "0.0.0.0",
        "::",
        "127.0.0.2",
        "127.0.1.1",
        "::ffff:127.0.0.1",
      ]
    ) {
      await t.step(host, async () => {
        const out = await runScript("udp_client.ts", [
          ...["--host", host, "-p", String(port), "hi"],
        ]);
        assert.equal(out.stderr, "");
        assert.equal(out.stdout, "HI\n");
        assert.equal(out.code, 0);
      });
    }
  });
});

Deno.test("udp_client CLI ignores a reply from another port of this machine", async () => {
  // A forger on this machine answers first, from its own port.
  const forger = udpSocket("127.0.0.1");
  await withServer("udp", { hostname: "0.0.0.0" }, async (port) => {
    const forging = (async () => {
      // Told the client's address by the test: forge a reply to it.
      const [, from] = await forger.receive();
      await forger.send(bytes("FORGED"), from);
    })();
    const out = await runScript("udp_client.ts", [
      ...["--host", "127.0.1.1", "-p", String(port), "-v", "hi"],
    ]);
    forger.close();
    await forging.catch(() => {});
    assert.equal(out.stdout, "HI\n");
    assert.equal(out.code, 0);
  });
});

Deno.test("udp_client CLI --retries N sends N + 1 datagrams, each waited for --timeout", async (t) => {
  for (const retries of [0, 2]) {
    await t.step(`--retries ${retries}`, async () => {
      let out = { code: 0, stderr: "" };
      let took = 0;
      const stats = await withServer("udp", { dropRate: 1 }, async (port) => {
        const started = performance.now();
        out = await runScript("udp_client.ts", [
          "-p",
          String(port),
          ...["--timeout", "0.3", "--retries", String(retries), "hi"],
        ]);
        took = performance.now() - started;
      });
      assert.equal(out.code, 1);
      assert.match(out.stderr, new RegExp(`after ${retries + 1} tr`));
      assert.equal(stats.received, retries + 1);
      assert.ok(took >= (retries + 1) * 300 - 50, `took ${took} ms`);
      assert.ok(took < (retries + 1) * 300 + 3_000, `took ${took} ms`);
    });
  }
});

Deno.test("tcp_client CLI --timeout bounds the wait for a silent server", async () => {
  await withTcpPeer(async (conn) => {
    await readToEnd(conn);
  }, async (port) => {
    const started = performance.now();
    const out = await runScript("tcp_client.ts", [
      ...["-p", String(port), "--timeout", "0.5", "hi"],
    ]);
    const took = performance.now() - started;
    assert.equal(out.code, 1);
    assert.match(out.stderr, /no reply from 127\.0\.0\.1:\d+ within 0\.5 s/);
    assert.ok(took >= 450 && took < 5_000, `took ${took} ms`);
  });
});

Deno.test("udp_client CLI refuses at once, unread, a line that cannot fit a datagram", async () => {
  const started = performance.now();
  const { code, stderr } = await new Deno.Command("bash", {
    args: [
      "-c",
      `cat /dev/zero | "$0" run --allow-net --unstable-net udp_client.ts -p 9`,
      Deno.execPath(),
    ],
    cwd: ROOT,
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  assert.equal(code, 1);
  assert.match(text(stderr), /^udp_client: a line is longer than 65507 bytes/);
  assert.ok(performance.now() - started < 10_000);
});

Deno.test("tcp_client CLI reads one 32 MB line in linear time", async () => {
  await withServer("tcp", {}, async (port) => {
    const size = 32 * 1024 * 1024;
    const started = performance.now();
    const out = await runScript(
      "tcp_client.ts",
      ["-p", String(port)],
      { stdin: new Uint8Array(size).fill(0x62), ms: 60_000 },
    );
    const took = performance.now() - started;
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.length, size + 1);
    // Copying the pending line again for every chunk took 16 s here.
    assert.ok(took < 10_000, `took ${took} ms`);
  });
});

Deno.test("udp_client CLI --ping ends 130,000 pings with a summary (constant memory)", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...[
        "-p",
        String(port),
        "--ping",
        "130000",
        "--interval",
        "0",
      ],
    ], { ms: 120_000 });
    assert.equal(out.code, 0, out.stderr.slice(0, 500));
    assert.match(
      out.stdout,
      /130000 packets transmitted, \d+ received, [\d.]+% packet loss\nrtt min\/avg\/max\/mdev = [\d.]+\/[\d.]+\/[\d.]+\/[\d.]+ ms\nEstimatedRTT = [\d.]+ ms, DevRTT = [\d.]+ ms, TimeoutInterval = [\d.]+ ms \(alpha 0\.125, beta 0\.25\)\n$/,
    );
  });
});

Deno.test("udp_client CLI --ping over IPv6 names the server in brackets", async () => {
  await withServer("udp", { hostname: "::1" }, async (port) => {
    const out = await runScript("udp_client.ts", [
      ...["--host", "::1", "-p", String(port), "--ping", "1"],
    ]);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /^Reply from \[::1\]:\d+: PING 1 /);
    assert.match(out.stdout, /--- \[::1\]:\d+ ping statistics ---/);
  });
});

Deno.test("udp_client CLI --ping times a late reply when it arrives and keeps it out of the counts", async () => {
  // Answers ping 1 after 1.5 s, the others at once.
  const socket = udpSocket();
  const answering = (async () => {
    try {
      while (true) {
        const [data, from] = await socket.receive();
        const message = text(data);
        const reply = bytes(message.toUpperCase());
        if (message.startsWith("Ping 1 ")) {
          setTimeout(() => socket.send(reply, from).catch(() => {}), 1_500);
        } else {
          await socket.send(reply, from);
        }
      }
    } catch {
      // closed
    }
  })();
  try {
    const port = (socket.addr as Deno.NetAddr).port;
    for (const json of [false, true]) {
      const out = await runScript("udp_client.ts", [
        ...["-p", String(port), "--ping", "3", "--timeout", "1"],
        ...["--interval", "1", ...(json ? ["--json"] : [])],
      ]);
      assert.equal(out.code, 0, out.stderr);
      if (json) {
        const objects = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
        const late = objects.find((o) => o.status === "late");
        assert.ok(late.rtt_ms > 1_400 && late.rtt_ms < 1_800, `${late.rtt_ms}`);
        assert.deepEqual(
          objects.at(-1),
          {
            ...objects.at(-1),
            transmitted: 3,
            received: 2,
            loss_percent: 33.3333,
          },
        );
      } else {
        const ms = Number(out.stdout.match(/seq=1 after ([\d.]+) ms/)?.[1]);
        assert.ok(ms > 1_400 && ms < 1_800, out.stdout);
        assert.match(
          out.stdout,
          /3 packets transmitted, 2 received, 33\.3333% packet loss/,
        );
      }
    }
  } finally {
    socket.close();
    await answering;
  }
});

Deno.test("udp_client CLI --json keeps bytes that are not UTF-8, in reply_base64", async () => {
  await withServer("udp", {}, async (port) => {
    const out = await runScript(
      "udp_client.ts",
      ["-p", String(port), "--json"],
      { stdin: new Uint8Array([0x61, 0xff, 0x0a, 0x62, 0x0a]) },
    );
    assert.equal(out.code, 0, out.stderr);
    const [first, second] = out.stdout.trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.equal(first.reply_base64, btoa("A\xff"));
    assert.deepEqual(second, { reply: "B" });
  });
});

/** Runs each case, a script with its arguments: a usage error, exit 2. */
async function refusedAsUsage(
  t: Deno.TestContext,
  cases: [string, string[], RegExp][],
) {
  for (const [name, args, expected] of cases) {
    await t.step(`${name} ${args.join(" ")}`, async () => {
      const out = await runScript(name, args, {
        flags: script(name).slice(1, -1),
      });
      assert.equal(out.code, 2, out.stderr);
      assert.match(out.stderr, expected);
      assert.match(out.stderr, /^[a-z_]+: [^\n]+ \(see --help\)\n$/);
    });
  }
}

Deno.test("all four CLIs take numeric options as plain decimals within named ranges", async (t) => {
  await refusedAsUsage(t, [
    [
      "tcp_client.ts",
      ["--timeout", "0x10", "hi"],
      /--timeout must be seconds from 0\.001 to 3600/,
    ],
    [
      "udp_client.ts",
      ["--timeout", "0x10", "hi"],
      /--timeout must be seconds from 0\.001 to 3600/,
    ],
    ["tcp_client.ts", ["--timeout", "3601", "hi"], /from 0\.001 to 3600/],
    // Thousandths at most: a finer number is a mistake, said as one.
    [
      "udp_client.ts",
      ["--timeout", "1.0001", "hi"],
      /--timeout must be seconds from 0\.001 to 3600 \(up to 3 decimals\), not 1\.0001/,
    ],
    [
      "udp_server.ts",
      ["--drop-rate", "0.1234567"],
      /--drop-rate must be a fraction from 0 to 1 \(up to 6 decimals\)/,
    ],
    ["udp_client.ts", ["--timeout", "3601", "hi"], /from 0\.001 to 3600/],
    [
      "udp_client.ts",
      ["--ping", "3", "--interval", "0x1"],
      /--interval must be seconds from 0 to 3600/,
    ],
    [
      "udp_client.ts",
      ["--retries", "1e2", "hi"],
      /--retries must be a whole number from 0 to 100/,
    ],
    [
      "udp_server.ts",
      ["--drop-rate", "0x1"],
      /--drop-rate must be a fraction from 0 to 1/,
    ],
    [
      "tcp_server.ts",
      ["--idle-timeout", "Infinity"],
      /--idle-timeout must be seconds from 0 to 86400/,
    ],
    [
      "tcp_server.ts",
      ["--idle-timeout", "1e-300"],
      /--idle-timeout must be seconds/,
    ],
    [
      "tcp_server.ts",
      ["--port", "12000.5"],
      /--port must be a whole number from 0 to 65535/,
    ],
  ]);
});

Deno.test("all four CLIs take --host as a name or an address alone", async (t) => {
  await refusedAsUsage(t, [
    [
      "tcp_client.ts",
      ["--host", "", "hi"],
      /--host must name a host or an address/,
    ],
    [
      "udp_client.ts",
      ["--host", "", "hi"],
      /--host must name a host or an address/,
    ],
    ["udp_server.ts", ["--host", ""], /--host must name a host or an address/],
    [
      "tcp_client.ts",
      ["--host", "127.0.0.1:12000", "hi"],
      /--host takes a name or an address alone, not 127\.0\.0\.1:12000: give the port with --port/,
    ],
    [
      "udp_client.ts",
      ["--host", "http://localhost/", "hi"],
      /--host takes a name or an address alone/,
    ],
  ]);
});

Deno.test("tcp_client and udp_client CLI --json end a failed run with its summary, saying why, in every mode", async () => {
  const udp = await runScript("udp_client.ts", [
    ...["-p", "9", "--json", "--timeout", "0.1", "--retries", "0", "hi"],
  ]);
  assert.equal(udp.code, 1);
  const last = JSON.parse(udp.stdout.trim().split("\n").at(-1) ?? "");
  assert.equal(last.replies, 0);
  assert.match(last.error, /^no reply from 127\.0\.0\.1:9 after 1 try/);
  await withTcpPeer(async (conn) => {
    await readSome(conn);
    await conn.write(bytes("CU"));
  }, async (port) => {
    const tcp = await runScript(
      "tcp_client.ts",
      ["-p", String(port), "--json"],
      {
        stdin: "cut\n",
      },
    );
    assert.equal(tcp.code, 1);
    const [cut, summary] = tcp.stdout.trim().split("\n").map((l) =>
      JSON.parse(l)
    );
    assert.deepEqual(cut, { reply: "CU", cut: true });
    assert.equal(summary.replies, 0);
    assert.match(summary.error, /the reply was cut short: 2 bytes came/);
  });
  // --ping and --heartbeat end the same way.
  for (
    const [mode, counts] of [
      [["--ping", "2"], { transmitted: 0, received: 0 }],
      [["--heartbeat", "--count", "2"], { heartbeats: 0 }],
    ] as const
  ) {
    const out = await runScript("udp_client.ts", [
      ...["--host", "nonexistent.invalid", ...mode, "--json"],
    ]);
    assert.equal(out.code, 1);
    assert.deepEqual(JSON.parse(out.stdout), {
      ...counts,
      error: "cannot resolve host nonexistent.invalid: check --host",
    });
  }
});

Deno.test("tcp_client and udp_client CLI send a last line of one byte without its newline (printf a |)", async (t) => {
  for (const kind of ["tcp", "udp"] as const) {
    await t.step(kind, async () => {
      await withServer(kind, {}, async (port) => {
        const out = await runScript(
          `${kind}_client.ts`,
          ["--host", "127.0.0.1", "-p", String(port)],
          { stdin: "a" },
        );
        assert.equal(out.stdout, "A\n", out.stderr);
        assert.equal(out.code, 0);
      });
    });
  }
});

Deno.test("udp_server and tcp_server --help say each -v line starts with its time, and it does", async (t) => {
  for (const name of ["udp_server.ts", "tcp_server.ts"]) {
    await t.step(name, async () => {
      const help = await runScript(name, ["--help"]);
      assert.match(
        help.stdout.replaceAll(/\s+/g, " "),
        / -v, --verbose show each socket step on stderr, each line starting with its time \(ISO 8601, UTC\)/,
      );
      const before = Date.now();
      const server = await startServer(
        script(name, "-v", "--host", "127.0.0.1", "-p", "0"),
      );
      const { stderr } = await server.stop();
      const [time] = stderr.split(" ", 1);
      const when = new Date(time);
      assert.equal(when.toISOString(), time, stderr);
      assert.ok(when.getTime() >= before - 1000 && when <= new Date(), time);
    });
  }
});

Deno.test("tcp_client and udp_client CLI say in one line that stdin cannot be read (0>/dev/null, as nohup leaves it), exit 1", async (t) => {
  for (const name of ["tcp_client.ts", "udp_client.ts"]) {
    await t.step(name, async () => {
      // Write-only, as nohup opens it at a terminal: every read fails.
      const { code, stdout, stderr } = await new Deno.Command("sh", {
        args: ["-c", `exec "$0" "$@" 0>/dev/null`, ...script(name, "-p", "9")],
        cwd: ROOT,
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.timeout(20_000),
      }).output();
      assert.equal(text(stdout), "");
      assert.match(
        text(stderr),
        new RegExp(
          `^${name.slice(0, -3)}: the input cannot be read \\([^\\n]*\\): ` +
            "give it words, a pipe or a file\\n$",
        ),
      );
      assert.equal(code, 1);
    });
  }
});

/**
 * The most sockets open at once, and when the first was closed (as a count
 * of sockets opened by then), from udp_client's -v lines.
 */
function socketsOpen(stderr: string) {
  let open = 0;
  let most = 0;
  let openedBeforeFirstClose: number | undefined;
  let opened = 0;
  for (const line of stderr.split("\n")) {
    if (line.startsWith("udp_client: socket(")) {
      opened++;
      most = Math.max(most, ++open);
    } else if (line === "udp_client: close") {
      openedBeforeFirstClose ??= opened;
      open--;
    }
  }
  return { most, opened, openedBeforeFirstClose };
}

Deno.test("udp_client CLI keeps each sentence's port from later ones for 10 timeouts after its last try, 256 ports at most", async (t) => {
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    for (const [sentences, most] of [[40, 40], [300, 256]]) {
      await t.step(`${sentences} sentences answered at once`, async () => {
        const lines = Array.from({ length: sentences }, (_, i) => `s${i}\n`);
        const out = await runScript("udp_client.ts", [
          ...["--host", "127.0.0.1", "-p", String(server.port)],
          ...["--timeout", "30", "-v"],
        ], { stdin: lines.join(""), ms: 60_000 });
        assert.equal(out.code, 0, out.stderr);
        const seen = socketsOpen(out.stderr);
        assert.equal(seen.opened, sentences);
        // Within 10 timeouts (300 s), a socket goes only for the cap.
        assert.equal(seen.most, most, JSON.stringify(seen));
        assert.equal(seen.openedBeforeFirstClose, most);
      });
    }
    await t.step("300 sentences with a 1 ms timeout: held 10 ms", async () => {
      const lines = Array.from({ length: 300 }, (_, i) => `s${i}\n`);
      const out = await runScript("udp_client.ts", [
        ...["--host", "127.0.0.1", "-p", String(server.port)],
        ...["--timeout", "0.001", "--retries", "100", "-v"],
      ], { stdin: lines.join(""), ms: 60_000 });
      assert.equal(out.code, 0, out.stderr.slice(-500));
      const seen = socketsOpen(out.stderr);
      // 16 later sentences (the next one counted) at least, then 10 ms.
      assert.ok(seen.most >= 16 && seen.most < 256, JSON.stringify(seen));
    });
  } finally {
    await server.stop();
  }
});

Deno.test("sendUdp() holds a retried sentence's socket 10 timeouts after its last try, not its first", async () => {
  // The peer answers "s0" on its third try only, every other sentence at
  // once; with a 0.1 s timeout, s0's socket is held 1 s after its third try.
  const peer = udpSocket();
  let triesOfFirst = 0;
  const answering = (async () => {
    try {
      for await (const [message, from] of peer) {
        if (text(message) === "s0" && ++triesOfFirst < 3) continue;
        await peer.send(bytes(text(message).toUpperCase()), from);
      }
    } catch {
      // closed below
    }
  })();
  const logged: [number, string][] = [];
  async function* sentences() {
    for (let i = 0; i < 17; i++) yield `s${i}`;
    // Then one every 20 ms, until the first socket has gone.
    for (let i = 17; !logged.some(([, line]) => line === "close"); i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      yield `s${i}`;
      assert.ok(i < 200, "s0's socket was never closed");
    }
  }
  try {
    for await (
      const _ of sendUdp(sentences(), {
        hostname: "127.0.0.1",
        port: (peer.addr as Deno.NetAddr).port,
        timeout: 0.1,
        log: (line) => logged.push([Date.now(), line]),
      })
    ) {
      // each reply is s0's or later
    }
  } finally {
    peer.close();
    await answering;
  }
  const sends = logged.filter(([, line]) => line.startsWith("sendto"));
  const lastTryOfFirst = sends[2][0]; // s0's three sends come first
  const firstClose = logged.find(([, line]) => line === "close")![0];
  assert.equal(triesOfFirst, 3);
  assert.ok(
    firstClose - lastTryOfFirst >= 950,
    `closed ${firstClose - lastTryOfFirst} ms after its last try`,
  );
});
