import assert from "node:assert/strict";
import { serveUdp, upperCase } from "../udp_server.ts";
import {
  bytes,
  canRun,
  probeUntilAnswered,
  runScript,
  script,
  startServer,
  udpRoundTrip,
  udpSocket,
  withServer,
  withTimeout,
} from "./_helpers.ts";

/** Resolves once `logs` holds `count` lines (the server logged them). */
async function logged(logs: string[], count: number): Promise<void> {
  await withTimeout(
    (async () => {
      while (logs.length < count) await new Promise((r) => setTimeout(r, 5));
    })(),
    `${count} log lines`,
  );
}

Deno.test("upperCase() upper-cases ASCII and Unicode and keeps invalid UTF-8", async (t) => {
  const cases: [string, number[], number[]][] = [
    ["ASCII", [...bytes("hello world 123!")], [...bytes("HELLO WORLD 123!")]],
    ["German sharp s grows", [...bytes("straße")], [...bytes("STRASSE")]],
    ["accents", [...bytes("é ñ ø")], [...bytes("É Ñ Ø")]],
    ["Greek expands to three", [...bytes("\u0390")], [
      ...bytes("\u0399\u0308\u0301"),
    ]],
    ["emoji unchanged", [...bytes("a😀b")], [...bytes("A😀B")]],
    ["BOM kept", [0xef, 0xbb, 0xbf, 0x61], [0xef, 0xbb, 0xbf, 0x41]],
    ["empty", [], []],
    ["lone byte 0xff", [0x61, 0xff, 0x62], [0x41, 0xff, 0x42]],
    ["truncated é at end", [0x61, 0xc3], [0x41, 0xc3]],
    ["truncated 3-byte", [0xe2, 0x82, 0x61], [0xe2, 0x82, 0x41]],
    ["overlong /", [0xc0, 0xaf, 0x61], [0xc0, 0xaf, 0x41]],
    ["surrogate", [0xed, 0xa0, 0x80, 0x61], [0xed, 0xa0, 0x80, 0x41]],
    ["above U+10FFFF", [0xf4, 0x90, 0x80, 0x80], [0xf4, 0x90, 0x80, 0x80]],
    ["lone continuation", [0x80, 0xc3, 0xa9], [0x80, 0xc3, 0x89]],
    [
      "valid runs around invalid",
      [...bytes("é"), 0xfe, ...bytes("ß")],
      [...bytes("É"), 0xfe, ...bytes("SS")],
    ],
  ];
  for (const [name, input, expected] of cases) {
    await t.step(name, () => {
      assert.deepEqual([...upperCase(new Uint8Array(input))], expected);
    });
  }
});

Deno.test("serveUdp() throws what onListen throws, and leaves nothing open", () => {
  let port = 0;
  assert.throws(
    () =>
      serveUdp({
        hostname: "127.0.0.1",
        port: 0,
        onListen: (addr) => {
          port = addr.port;
          throw new Error("no terminal to print on");
        },
      }),
    /no terminal to print on/,
  );
  // The port is free again; the sanitizers see no socket or timer left.
  Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port })
    .close();
  assert.ok(port > 0);
});

Deno.test("serveUdp() calls onListen once, with the bound address, where the textbook prints its ready line", async () => {
  const heard: Deno.NetAddr[] = [];
  await withServer(
    "udp",
    { onListen: (addr) => heard.push(addr) },
    async (port) => {
      assert.deepEqual(heard.map((addr) => addr.port), [port]);
      assert.equal(heard[0].hostname, "127.0.0.1");
      const socket = udpSocket();
      try {
        const reply = await udpRoundTrip(socket, bytes("ready?"), port);
        assert.equal(new TextDecoder().decode(reply), "READY?");
      } finally {
        socket.close();
      }
    },
  );
  assert.equal(heard.length, 1);
});

Deno.test("serveUdp() answers each datagram upper-cased", async () => {
  await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    try {
      const reply = await udpRoundTrip(socket, bytes("hello world"), port);
      assert.equal(new TextDecoder().decode(reply), "HELLO WORLD");
      const unicode = await udpRoundTrip(socket, bytes("straße é"), port);
      assert.equal(new TextDecoder().decode(unicode), "STRASSE É");
      const invalid = new Uint8Array([0x61, 0xff, 0xc3, 0xa9, 0xe2, 0x82]);
      const kept = await udpRoundTrip(socket, invalid, port);
      assert.deepEqual([...kept], [0x41, 0xff, 0xc3, 0x89, 0xe2, 0x82]);
      const empty = await udpRoundTrip(socket, new Uint8Array(0), port);
      assert.equal(empty.length, 0);
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() answers a 65,507-byte datagram whole", async () => {
  await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    try {
      const big = new Uint8Array(65_507).map((_, i) => 0x61 + (i % 26));
      const reply = await udpRoundTrip(socket, big, port);
      assert.equal(reply.length, 65_507);
      assert.deepEqual(reply, big.map((b) => b - 0x20));
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() logs a reply too big for a datagram and goes on", async () => {
  await withServer("udp", {}, async (port, logs) => {
    const socket = udpSocket();
    try {
      // "ŉ" (2 bytes) upper-cases to "ʼN" (3 bytes): 65,506 bytes become 98,259.
      await socket.send(bytes("ŉ".repeat(32_753)), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      await logged(logs, 1);
      assert.match(
        logs[0],
        /reply is larger than one datagram \(65507 bytes\), not sent/,
      );
      const reply = await udpRoundTrip(socket, bytes("still here"), port);
      assert.equal(new TextDecoder().decode(reply), "STILL HERE");
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() bound to :: holds an IPv4 client's reply to IPv4's datagram size", async () => {
  await withServer("udp", { hostname: "::" }, async (port, logs) => {
    const socket = udpSocket();
    try {
      // 65,500 bytes in, 65,520 out: too big for IPv4, not for IPv6.
      const message = bytes("ΐ".repeat(5) + "a".repeat(65_490));
      await socket.send(message, {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      await logged(logs, 1);
      assert.match(
        logs[0],
        /^\[::ffff:127\.0\.0\.1\]:\d+: the reply is larger than one datagram \(65507 bytes\), not sent$/,
      );
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() goes on answering after garbage of every size", async () => {
  await withServer("udp", { verbose: true }, async (port, logs) => {
    const socket = udpSocket();
    try {
      const sizes = [0, 1, 2, 3, 4, 65_507];
      for (let i = 0; i < 300; i++) {
        sizes.push(Math.floor(Math.random() * 65_508));
      }
      for (const size of sizes) {
        const garbage = crypto.getRandomValues(new Uint8Array(size));
        await socket.send(garbage, {
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
      }
      // The flood may have filled the server's socket buffer, so the probe
      // is sent until answered, as a UDP client would.
      const reply = await probeUntilAnswered(bytes("alive?"), port);
      assert.equal(new TextDecoder().decode(reply), "ALIVE?");
      assert.ok(logs.length >= 1);
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() with dropRate 1 drops every datagram, and verbose says so", async () => {
  await withServer(
    "udp",
    { dropRate: 1, verbose: true },
    async (port, logs) => {
      const socket = udpSocket();
      try {
        for (let i = 0; i < 5; i++) {
          await socket.send(bytes(`ping ${i}`), {
            transport: "udp",
            hostname: "127.0.0.1",
            port,
          });
        }
        await logged(logs, 1 + 5 * 2);
        assert.match(
          logs[0],
          /^socket\(AF_INET, SOCK_DGRAM\), bind: 127\.0\.0\.1:\d+$/,
        );
        assert.equal(
          logs.filter((line) => line.startsWith("recvfrom: ")).length,
          5,
        );
        assert.equal(
          logs.filter((line) =>
            line.startsWith("dropped on purpose (--drop-rate)")
          ).length,
          5,
        );
        assert.equal(
          logs.filter((line) => line.startsWith("sendto")).length,
          0,
        );
      } finally {
        socket.close();
      }
    },
  );
});

Deno.test("serveUdp() counts what it did", async () => {
  const stats = await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    try {
      await udpRoundTrip(socket, bytes("one"), port);
      await udpRoundTrip(socket, bytes("two"), port);
    } finally {
      socket.close();
    }
  });
  assert.deepEqual(stats, {
    received: 2,
    replied: 2,
    dropped: 0,
    failed: 0,
  });
});

Deno.test("serveUdp() answers over IPv6", async () => {
  await withServer("udp", { hostname: "::1" }, async (port) => {
    const socket = udpSocket("::1");
    try {
      const reply = await udpRoundTrip(socket, bytes("v6"), port, "::1");
      assert.equal(new TextDecoder().decode(reply), "V6");
    } finally {
      socket.close();
    }
  });
});

Deno.test("serveUdp() throws when the port is taken", () => {
  const taken = udpSocket();
  try {
    assert.throws(
      () =>
        serveUdp({
          hostname: "127.0.0.1",
          port: (taken.addr as Deno.NetAddr).port,
        }),
      Deno.errors.AddrInUse,
    );
  } finally {
    taken.close();
  }
});

Deno.test("udp_server CLI prints its ready line, answers, and on SIGTERM its summary, the port released", async () => {
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "--port", "0"),
  );
  assert.match(
    server.readyLine,
    /^The server is ready to receive on 127\.0\.0\.1:\d+$/,
  );
  const socket = udpSocket();
  let output;
  try {
    const reply = await udpRoundTrip(socket, bytes("hello"), server.port);
    assert.equal(new TextDecoder().decode(reply), "HELLO");
  } finally {
    socket.close();
    output = await server.stop("SIGTERM");
  }
  assert.equal(output.code, 0);
  assert.equal(output.stdout.trim(), server.readyLine);
  assert.equal(
    output.stderr,
    "udp_server: received 1 datagrams, replied 1, dropped 0, failed 0\n",
  );
  // The port is free again.
  const again = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: server.port,
  });
  again.close();
});

Deno.test("udp_server CLI stops cleanly on SIGINT too, its IPv6 ready line in brackets", async () => {
  const server = await startServer(
    script("udp_server.ts", "--host", "::1", "-p", "0", "--verbose"),
  );
  assert.match(
    server.readyLine,
    /^The server is ready to receive on \[::1\]:\d+$/,
  );
  const socket = udpSocket("::1");
  try {
    await udpRoundTrip(socket, bytes("x"), server.port, "::1");
  } finally {
    socket.close();
  }
  const output = await server.stop("SIGINT");
  assert.equal(output.code, 0);
  assert.match(
    output.stderr.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, ""), // each -v line after its time
    /^socket\(AF_INET6, SOCK_DGRAM\), bind: \[::1\]:\d+\nrecvfrom: 1 byte from (\[::1\]:\d+)\nsendto: 1 byte to \1\nclose: \[::1\]:\d+\n/,
  );
  assert.match(output.stderr, /received 1 datagrams/);
});

Deno.test("udp_server CLI prints one line and exits 2 on a usage error", async (t) => {
  const cases = [
    ["--port", "65536"],
    ["--port", "abc"],
    ["--bogus"],
    ["--drop-rate", "1.5"],
    ["--drop-rate", "-0.1"],
    ["--drop-rate=-0.1"],
    ["--seed", "x"],
    ["extra"],
  ];
  for (const args of cases) {
    await t.step(args.join(" "), async () => {
      const { code, stdout, stderr } = await runScript("udp_server.ts", args);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /^udp_server: [^\n]+ \(see --help\)\n$/);
    });
  }
});

Deno.test("udp_server CLI refuses a --seed without --drop-rate", async () => {
  const { code, stderr } = await runScript("udp_server.ts", ["--seed", "1"]);
  assert.equal(code, 2);
  assert.match(stderr, /^udp_server: --seed picks the datagrams --drop-rate/);
});

Deno.test("udp_server CLI refuses an option given twice", async () => {
  const { code, stderr } = await runScript("udp_server.ts", [
    "--port",
    "0",
    "-p",
    "0",
  ]);
  assert.equal(code, 2);
  assert.match(stderr, /^udp_server: --port is given twice/);
});

Deno.test("udp_server CLI takes --seed with an explicit --drop-rate 0", async () => {
  const server = await startServer(
    script("udp_server.ts", "-p", "0", "--drop-rate", "0", "--seed", "1"),
  );
  assert.equal((await server.stop()).code, 0);
});

Deno.test("udp_server CLI --help shows the exact deno run line", async () => {
  const { code, stdout } = await runScript("udp_server.ts", ["--help"]);
  assert.equal(code, 0);
  assert.match(stdout, /deno run --allow-net --unstable-net udp_server\.ts/);
  assert.match(stdout, /--drop-rate/);
});

Deno.test("udp_server CLI prints one line and exits 1 on a runtime failure", async (t) => {
  await t.step("address in use", async () => {
    const taken = udpSocket();
    try {
      const port = String((taken.addr as Deno.NetAddr).port);
      const { code, stderr } = await runScript("udp_server.ts", [
        ...["--host", "127.0.0.1", "--port", port],
      ]);
      assert.equal(code, 1);
      assert.match(
        stderr,
        /^udp_server: 127\.0\.0\.1:\d+ is already in use: [^\n]+\n$/,
      );
    } finally {
      taken.close();
    }
  });
  await t.step("without --unstable-net", async () => {
    const { code, stderr } = await runScript("udp_server.ts", [], {
      flags: ["run", "--no-config", "--allow-net"],
    });
    assert.equal(code, 1);
    assert.equal(
      stderr,
      "udp_server: UDP sockets need Deno's --unstable-net flag: " +
        "deno run --allow-net --unstable-net udp_server.ts\n",
    );
  });
  await t.step("without --allow-net", async () => {
    const { code, stderr } = await runScript("udp_server.ts", [], {
      flags: ["run", "--unstable-net", "--no-prompt"],
    });
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^udp_server: network access to 0\.0\.0\.0:12000 was not granted: deno run --allow-net[^\n]*\n$/,
    );
  });
  await t.step("address not on this machine", async () => {
    const { code, stderr } = await runScript("udp_server.ts", [
      ...["--host", "192.0.2.1", "--port", "0"],
    ]);
    assert.equal(code, 1);
    assert.match(
      stderr,
      /^udp_server: 192\.0\.2\.1:0 is not an address of this machine[^\n]*\n$/,
    );
  });
});

/** Whether UDP port 12000 on loopback is free now. */
function udp12000Free(): boolean {
  try {
    Deno.listenDatagram({
      transport: "udp",
      hostname: "127.0.0.1",
      port: 12000,
    })
      .close();
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "udp_server CLI listens on the textbook's 12000 with no --port",
  ignore: !canRun(udp12000Free(), "UDP port 12000 is in use here"),
  async fn() {
    const server = await startServer(
      script("udp_server.ts", "--host", "127.0.0.1"),
    );
    const socket = udpSocket();
    try {
      assert.equal(
        server.readyLine,
        "The server is ready to receive on 127.0.0.1:12000",
      );
      const reply = await udpRoundTrip(socket, bytes("default"), 12000);
      assert.equal(new TextDecoder().decode(reply), "DEFAULT");
    } finally {
      socket.close();
      assert.equal((await server.stop()).code, 0);
    }
  },
});

Deno.test("udp_server CLI answers with --allow-net for only its own address and its clients' range", async () => {
  const server = await startServer([
    Deno.execPath(),
    "run",
    "--allow-net=127.0.0.1:0,127.0.0.0/8",
    "--unstable-net",
    "udp_server.ts",
    ...["--host", "127.0.0.1", "-p", "0"],
  ]);
  const socket = udpSocket();
  try {
    const reply = await udpRoundTrip(socket, bytes("hi"), server.port);
    assert.equal(new TextDecoder().decode(reply), "HI");
  } finally {
    socket.close();
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("udp_server CLI says what to allow when --allow-net lacks the clients' range and a reply is refused", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1:0",
      "--unstable-net",
      "udp_server.ts",
      ...["--host", "127.0.0.1", "-p", "0"],
    ],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const socket = udpSocket();
  try {
    const { value } = await withTimeout(stdout.read(), "the ready line");
    const port = Number(value?.match(/:(\d+)\n/)?.[1]);
    await socket.send(bytes("hi"), {
      transport: "udp",
      hostname: "127.0.0.1",
      port,
    });
    // The server says why it did not answer, as soon as it tried.
    let said = "";
    await withTimeout(
      (async () => {
        while (!said.includes("\n")) {
          const { value, done } = await stderr.read();
          if (done) break;
          said += value;
        }
      })(),
      "the server's log line",
    );
    assert.match(
      said,
      /^127\.0\.0\.1:\d+: reply not sent: network access to 127\.0\.0\.1:\d+ was not granted: a UDP server sends each reply to its client, so --allow-net must name the clients' addresses too, e\.g\. --no-prompt --allow-net=127\.0\.0\.1:\d+,127\.0\.0\.1\n/,
    );
  } finally {
    socket.close();
    child.kill("SIGTERM");
    await child.status;
    await stdout.cancel();
    await stderr.cancel();
  }
});

const hasScript = await new Deno.Command("sh", {
  args: ["-c", "command -v script"],
  stdout: "null",
}).output().then((output) => output.success, () => false);

Deno.test({
  name:
    "udp_server CLI at a terminal refuses a client outside --allow-net without a prompt, and goes on answering",
  ignore: !canRun(
    hasScript && Deno.build.os === "linux",
    "needs script (util-linux) for a pseudo-terminal, and Linux for 127.0.0.2",
  ),
  async fn() {
    // The terminal is script's: a prompt there would wait for an answer.
    const child = new Deno.Command("script", {
      args: [
        "-qec",
        `echo PID $$; exec '${Deno.execPath()}' run ` +
        "--allow-net=127.0.0.1 --unstable-net udp_server.ts " +
        "--host 127.0.0.1 -p 0",
        "/dev/null",
      ],
      cwd: new URL("../", import.meta.url),
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = child.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let shown = "";
    const untilShown = (pattern: RegExp) =>
      withTimeout(
        (async () => {
          while (!pattern.test(shown)) {
            const { value, done } = await lines.read();
            if (done) break;
            shown += value;
          }
          return shown.match(pattern);
        })(),
        `${pattern} on the terminal`,
      );
    const outsider = udpSocket("127.0.0.2");
    const client = udpSocket();
    try {
      const pid = Number((await untilShown(/PID (\d+)/))?.[1]);
      const port = Number((await untilShown(/receive on [\d.]+:(\d+)/))?.[1]);
      await outsider.send(bytes("outside"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      const reply = await udpRoundTrip(client, bytes("inside"), port);
      assert.equal(new TextDecoder().decode(reply), "INSIDE");
      Deno.kill(pid, "SIGTERM");
      await untilShown(/received 2 datagrams.*\n/);
      assert.doesNotMatch(shown, /Allow\?|\[y\/n/);
      assert.match(shown, /127\.0\.0\.2:\d+: reply not sent: network access/);
      assert.match(shown, /replied 1, dropped 0, failed 1\r?\n/);
    } finally {
      outsider.close();
      client.close();
      try {
        child.kill("SIGKILL");
      } catch {
        // script ended with the server
      }
      await child.stdin.close().catch(() => {});
      await withTimeout(child.status, "script's exit");
      await lines.cancel().catch(() => {});
    }
  },
});

/** Runs a command in the network namespace of process `pid`; its output. */
async function inNamespaceOf(pid: number, ...args: string[]) {
  const output = await new Deno.Command("nsenter", {
    args: ["-t", String(pid), "-n", ...args],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

const namespaceReason = await (async () => {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  const probe = await new Deno.Command("sh", {
    args: [
      "-c",
      "command -v python3 && command -v nsenter && unshare -n sh -c " +
      "'ip link add d0 type veth peer name d1'",
    ],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return probe.success ? undefined : "needs root, unshare -n, nsenter, ip " +
    "(a veth pair) and python3 (to forge senders)";
})();

Deno.test({
  name:
    "udp_server CLI on :: never answers itself from a link-local address, answers a remote client on its own port number each time, and not once that address is its own",
  ignore: !canRun(namespaceReason === undefined, namespaceReason ?? ""),
  async fn() {
    // A namespace of its own: fe80::1 on lo, 10.9.9.1/24 on a veth pair,
    // so that 10.9.9.2 is a remote client until the test adds it.
    const server = await startServer([
      ...["unshare", "-n", "sh", "-c"],
      "ip link set lo up && ip -6 addr add fe80::1/64 dev lo nodad && " +
      "ip link add d0 type veth peer name d1 && ip link set d1 up && " +
      "ip link set d0 up && ip addr add 10.9.9.1/24 dev d0 && " +
      `exec '${Deno.execPath()}' run --allow-net --unstable-net ` +
      "udp_server.ts --host :: -p 0",
    ]);
    const port = String(server.port);
    const forge = async (source: string, destination: string, count = 1) => {
      const forged = await inNamespaceOf(
        server.pid,
        ...["python3", "tests/peers/forge_udp.py", source, port],
        ...[destination, port, String(count)],
      );
      assert.equal(forged.stdout, "sent\n", forged.stderr);
    };
    // Answered: the datagrams before it have been dealt with.
    const probe = async () => {
      const answered = await inNamespaceOf(
        server.pid,
        ...[Deno.execPath(), "run", "--allow-net", "--unstable-net"],
        ...["udp_client.ts", "--host", "::1", "-p", port, "probe"],
      );
      assert.equal(answered.stdout, "PROBE\n", answered.stderr);
    };
    let output;
    try {
      await forge("fe80::1%lo", "fe80::1%lo");
      await forge("10.9.9.2", "127.0.0.1", 3);
      await probe();
      const added = await inNamespaceOf(
        server.pid,
        ...["ip", "addr", "add", "10.9.9.2/24", "dev", "d0"],
      );
      assert.equal(added.code, 0, added.stderr);
      await forge("10.9.9.2", "127.0.0.1");
      await probe();
    } finally {
      output = await server.stop();
    }
    assert.match(output.stderr, /\[fe80::1\]:\d+: a link-local address/);
    assert.match(
      output.stderr,
      /\[::ffff:10\.9\.9\.2\]:\d+: this server's own address, not answered/,
    );
    // No self-replies: the three remote datagrams and the two probes.
    assert.match(
      output.stderr,
      /received 7 datagrams, replied 5, dropped 0, failed 2\n/,
    );
  },
});

Deno.test("udp_server CLI --help says what -v shows (sizes in bytes) and the heartbeat format it reads", async () => {
  const help = await runScript("udp_server.ts", ["-h"]);
  const said = help.stdout.replace(/\s+/g, " ");
  assert.match(said, /recvfrom and sendto with its size in bytes/);
  assert.match(
    said,
    /"Heartbeat SEQ TIME" datagrams, TIME in seconds since 1970/,
  );
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0", "-v"),
  );
  const socket = udpSocket();
  try {
    await udpRoundTrip(socket, bytes("hi"), server.port);
  } finally {
    socket.close();
  }
  const { stderr } = await server.stop();
  assert.match(stderr, /^\S+Z recvfrom: 2 bytes from 127\.0\.0\.1:\d+$/m);
  assert.match(stderr, /^\S+Z sendto: 2 bytes to 127\.0\.0\.1:\d+$/m);
});

Deno.test("serveUdp() replies with at most 3 times the request's bytes, 3 only for ΐ and ΰ, as the README's caveat says", async () => {
  const encoder = new TextEncoder();
  const tripled: string[] = [];
  for (let codePoint = 0x80; codePoint <= 0x10ffff; codePoint++) {
    if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue; // surrogates
    const request = encoder.encode(String.fromCodePoint(codePoint));
    const growth = upperCase(request).length / request.length;
    assert.ok(growth <= 3, `U+${codePoint.toString(16)}`);
    if (growth === 3) tripled.push(String.fromCodePoint(codePoint));
  }
  assert.deepEqual(tripled, ["ΐ", "ΰ"]);
  await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    try {
      const request = bytes("ΐ".repeat(10_917));
      const reply = await udpRoundTrip(socket, request, port);
      assert.deepEqual([request.length, reply.length], [21_834, 65_502]);
    } finally {
      socket.close();
    }
  });
});
