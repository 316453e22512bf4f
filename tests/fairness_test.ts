/**
 * Fairness (DESIGN.md, Servers): however fast a client sends, and whatever
 * its bytes, every other client is answered, and timers and signals still
 * run. Each test floods a real server process from other processes
 * (tests/peers/flood.ts) and checks, with generous bounds, that what must
 * still happen does. Speed is measured by `deno task bench`, not here.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bytes,
  canRun,
  hasProgram,
  readAll,
  readExactly,
  residentKiB,
  RUN_FLAGS,
  script,
  startServer,
  tcpExchange,
  text,
  udpRoundTrip,
  udpSocket,
  withTimeout,
} from "./_helpers.ts";

/** Generous bound for one small exchange beside a flood (they take ms). */
const ANSWER_MS = 2_000;

/** A flooding client (tests/peers/flood.ts) in a process of its own. */
interface Flood {
  /** Waits for its end and returns its last line: `sent N received M`. */
  finished(): Promise<{ sent: number; received: number }>;
  /** Stops it now. */
  kill(): Promise<void>;
}

/**
 * Starts `flood.ts` and waits for its `flooding` (or `stalled`) line: by
 * then every one of its connections is being served.
 */
async function startFlood(
  transport: "tcp" | "udp",
  port: number,
  kind: "ascii" | "greek" | "invalid" | "codepoints",
  seconds: number,
  ...flags: string[]
): Promise<Flood> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...RUN_FLAGS,
      "tests/peers/flood.ts",
      transport,
      String(port),
      kind,
      String(seconds),
      ...flags,
    ],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  let printed = "";
  let markReady = () => {};
  const ready = new Promise<void>((resolve) => markReady = resolve);
  const output = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      printed += chunk;
      if (/^(flooding|stalled)$/m.test(printed)) markReady();
    }
    return printed;
  })();
  try {
    await withTimeout(
      Promise.race([
        ready,
        output.then((all) => {
          throw new Error(`flood.ts ended before it flooded: ${all}`);
        }),
      ]),
      `a ${kind} flood to start`,
    );
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await output;
    throw error;
  }
  return {
    async finished() {
      await withTimeout(
        child.status,
        "the flood to end",
        (seconds + 10) * 1000,
      );
      const last = (await output).trim().split("\n").at(-1) ?? "";
      const match = last.match(/^sent (\d+) received (\d+)$/);
      assert.ok(match, `flood.ts printed: ${last}`);
      return { sent: Number(match[1]), received: Number(match[2]) };
    },
    async kill() {
      child.kill("SIGKILL");
      await child.status;
      await output;
    },
  };
}

Deno.test("fairness: tcp_server CLI answers another client every time, beside clients streaming ASCII, Greek and invalid bytes", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    const floods: Flood[] = [];
    for (const kind of ["ascii", "greek", "invalid"] as const) {
      floods.push(await startFlood("tcp", server.port, kind, 4));
    }
    const took: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const reply = await withTimeout(
        tcpExchange(server.port, bytes(`probe ${i}\n`)),
        `probe ${i}, beside three floods`,
        ANSWER_MS,
      );
      took.push(performance.now() - started);
      assert.equal(text(reply), `PROBE ${i}\n`);
    }
    // Paced, 18 of 20 probes took under 5 ms here beside these floods;
    // unpaced (each loop working until it waits), a quarter took 350 ms to
    // 1 s. The bound is generous, 50 times the paced figure.
    const p90 = took.sort((a, b) => a - b)[17];
    assert.ok(p90 < 250, `18 of 20 probes within ${p90.toFixed(1)} ms`);
    // Each flood was served all along, not only the first one.
    for (const flood of floods) {
      const { sent, received } = await flood.finished();
      assert.ok(sent > 0 && received > 0, `sent ${sent}, received ${received}`);
    }
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("fairness: tcp_server CLI --idle-timeout still closes a silent connection during a flood of invalid bytes", async () => {
  const server = await startServer(
    script(
      "tcp_server.ts",
      "--host",
      "127.0.0.1",
      "-p",
      "0",
      "--idle-timeout",
      "1",
    ),
  );
  const silent = await Deno.connect({
    hostname: "127.0.0.1",
    port: server.port,
  });
  let flood: Flood | undefined;
  try {
    flood = await startFlood("tcp", server.port, "invalid", 60);
    // The idle sweep runs: the silent connection is closed after 1 s.
    const rest = await withTimeout(readAll(silent), "the idle timeout", 5_000);
    assert.equal(rest.length, 0);
  } finally {
    silent.close();
    const output = await server.stop("SIGTERM");
    assert.match(output.stderr, /timed out 1, /);
    await flood?.finished();
  }
});

Deno.test("fairness: tcp_server CLI stops on SIGTERM during a flood of invalid bytes", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  let flood: Flood | undefined;
  try {
    flood = await startFlood("tcp", server.port, "invalid", 60);
    // Answered under the flood: the flood has reached the server.
    assert.equal(
      text(await tcpExchange(server.port, bytes("probe\n"))),
      "PROBE\n",
    );
  } finally {
    // The signal is handled: the server stops the flood and exits.
    const output = await server.stop("SIGTERM");
    assert.equal(output.code, 0);
    assert.match(output.stderr, /^tcp_server: served \d+ connections/m);
    await flood?.finished();
  }
});

Deno.test("fairness: udp_server CLI answers another client beside a flood of invalid-byte datagrams", async () => {
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  let flood: Flood | undefined;
  const socket = udpSocket();
  try {
    flood = await startFlood("udp", server.port, "invalid", 30);
    for (let i = 0; i < 5; i++) {
      const reply = await udpRoundTrip(
        socket,
        bytes(`probe ${i}`),
        server.port,
      );
      assert.equal(text(reply), `PROBE ${i}`);
    }
  } finally {
    socket.close();
    await server.stop("SIGTERM");
    await flood?.kill();
  }
});

Deno.test("fairness: udp_server CLI stops on SIGTERM during a flood of invalid-byte datagrams", async () => {
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  let flood: Flood | undefined;
  const socket = udpSocket();
  try {
    flood = await startFlood("udp", server.port, "invalid", 30);
    // Answered under the flood: the flood has reached the server.
    const reply = await udpRoundTrip(socket, bytes("probe"), server.port);
    assert.equal(text(reply), "PROBE");
  } finally {
    socket.close();
    // The signal is handled while the flood goes on.
    const output = await server.stop("SIGTERM");
    await flood?.kill();
    assert.equal(output.code, 0);
    assert.match(output.stderr, /udp_server: received \d+ datagrams/);
  }
});

const hasPython = await hasProgram("python3");

/** Whether the tests run as root (`id -u`), as raw sockets need. */
async function isRoot(): Promise<boolean> {
  try {
    const { stdout } = await new Deno.Command("id", {
      args: ["-u"],
      stdout: "piped",
    }).output();
    return text(stdout).trim() === "0";
  } catch {
    return false;
  }
}

Deno.test({
  name:
    "fairness: tcp_server CLI pays nothing for connections reset before they are accepted",
  ignore: !canRun(
    hasPython,
    "the reset storm (tests/peers/reset_storm.py) needs python3",
  ),
  async fn() {
    const server = await startServer(
      script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
    );
    try {
      const storm = await new Deno.Command("python3", {
        args: ["tests/peers/reset_storm.py", String(server.port), "300"],
        cwd: new URL("../", import.meta.url),
        stdout: "piped",
        signal: AbortSignal.timeout(10_000),
      }).output();
      assert.equal(text(storm.stdout), "reset 300\n");
      // A pause per failed accept (100 ms each) would keep this one waiting.
      const reply = await withTimeout(
        tcpExchange(server.port, bytes("after the storm\n")),
        "an exchange after 300 resets",
        ANSWER_MS,
      );
      assert.equal(text(reply), "AFTER THE STORM\n");
    } finally {
      const output = await server.stop();
      assert.equal(output.code, 0);
      assert.doesNotMatch(output.stderr, /accept failed/);
      // Gone before a word: no failure of anyone's, and none counted.
      assert.match(output.stderr, /, failed 0; /);
    }
  },
});

Deno.test({
  name:
    "fairness: tcp_server CLI holds bounded memory for 60 clients that send Greek text and never read",
  ignore: !canRun(await hasProgram("ps"), "reads memory with ps"),
  async fn() {
    const server = await startServer(
      script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
    );
    try {
      const before = await residentKiB(server.pid);
      const flood = await startFlood(
        "tcp",
        server.port,
        "greek",
        3,
        "--connections",
        "60",
        "--no-read",
      );
      // Every connection is stalled: the server holds what it could not send.
      const grown = (await residentKiB(server.pid)) - before;
      // 16 MB once plus 400 KiB a connection with 60 (README): 40 MB, plus slack.
      assert.ok(grown < 48 * 1024, `the server grew by ${grown} KiB`);
      // Still serving others meanwhile.
      const reply = await withTimeout(
        tcpExchange(server.port, bytes("and me\n")),
        "an exchange beside 60 stalled clients",
        ANSWER_MS,
      );
      assert.equal(text(reply), "AND ME\n");
      await flood.finished();
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
  },
});

Deno.test("fairness: tcp_server CLI answers another client promptly, beside 100 connections streaming random characters", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    const flood = await startFlood(
      "tcp",
      server.port,
      "codepoints",
      4,
      "--connections",
      "100",
    );
    // Each busy connection takes its turn; the newcomer waits for one
    // cycle, not for a piece of work from every one of them.
    for (let i = 0; i < 10; i++) {
      const reply = await withTimeout(
        tcpExchange(server.port, bytes(`probe ${i}\n`)),
        `probe ${i}, beside 100 floods`,
        500,
      );
      assert.equal(text(reply), `PROBE ${i}\n`);
    }
    await flood.finished();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("fairness: tcp_server CLI answers another client promptly, beside 100 connections streaming ASCII", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    const flood = await startFlood(
      "tcp",
      server.port,
      "ascii",
      4,
      "--connections",
      "100",
    );
    // ASCII is upper-cased where it lies, with no pause inside a piece: only
    // waiting its turn between reads keeps 100 streams from holding every
    // newcomer for seconds (20 ms at the 90th percentile; with no turns, 2 s).
    for (let i = 0; i < 20; i++) {
      const reply = await withTimeout(
        tcpExchange(server.port, bytes(`probe ${i}\n`)),
        `probe ${i}, beside 100 ASCII streams`,
        500,
      );
      assert.equal(text(reply), `PROBE ${i}\n`);
    }
    await flood.finished();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("fairness: tcp_server CLI answers every byte it read before it closes the connection at SIGTERM", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
  // Greek lower case upper-cases to as many bytes: what comes back must
  // be exactly what the server says it read.
  const unit = bytes("αβγ δεζ\n");
  const chunk = new Uint8Array(64 * 1024 - (64 * 1024) % unit.length);
  for (let i = 0; i < chunk.length; i++) chunk[i] = unit[i % unit.length];
  let received = 0;
  const reading = (async () => {
    const buffer = new Uint8Array(256 * 1024);
    while (true) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) return;
      received += count;
    }
  })();
  const writing = (async () => {
    while (true) await conn.write(chunk);
  })().catch(() => {});
  try {
    while (received < 4 * 1024 * 1024) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  } finally {
    const output = await server.stop("SIGTERM");
    await reading;
    await writing;
    conn.close();
    assert.equal(output.code, 0);
    const match = output.stderr.match(/; (\d+) bytes in, (\d+) out\n/);
    assert.ok(match, output.stderr);
    assert.equal(
      Number(match[2]),
      Number(match[1]),
      "every byte read answered",
    );
    assert.equal(received, Number(match[2]), "and received");
  }
});

Deno.test("fairness: tcp_server CLI -v with a stderr nobody reads stalls neither clients nor SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "tcp_server.ts",
      "--host",
      "127.0.0.1",
      "-p",
      "0",
      "-v",
    ],
    cwd: new URL("../", import.meta.url),
    stdout: "piped",
    stderr: "piped", // never read until the end: the pipe fills
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const { value } = await withTimeout(lines.read(), "the ready line");
    const port = Number(value?.match(/:(\d+)\n/)?.[1]);
    // -v logs five lines an exchange: 2,000 exchanges fill the pipe many
    // times over.
    for (let i = 0; i < 2000; i++) {
      const reply = await withTimeout(
        tcpExchange(port, bytes("x\n")),
        `exchange ${i} with stderr full`,
        5_000,
      );
      assert.equal(text(reply), "X\n");
    }
    child.kill("SIGTERM");
    const status = await withTimeout(child.status, "SIGTERM with stderr full");
    assert.equal(status.code, 0);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await lines.cancel();
    await child.stderr.cancel();
  }
});

Deno.test({
  name:
    "fairness: tcp_server CLI out of files before --max-connections still makes room by closing idle clients",
  ignore: !canRun(await hasProgram("bash"), "sets ulimit -n with bash"),
  async fn() {
    // 64 files at most: the default --max-connections 1000 cannot be reached.
    const server = await startServer([
      "bash",
      "-c",
      `ulimit -n 64 && exec "$0" run --allow-net tcp_server.ts --host 127.0.0.1 -p 0`,
      Deno.execPath(),
    ]);
    const idle: Deno.TcpConn[] = [];
    try {
      for (let i = 0; i < 80; i++) {
        idle.push(
          await Deno.connect({ hostname: "127.0.0.1", port: server.port }),
        );
      }
      const reply = await withTimeout(
        tcpExchange(server.port, bytes("room\n")),
        "an exchange with the files all used",
        ANSWER_MS,
      );
      assert.equal(text(reply), "ROOM\n");
    } finally {
      for (const conn of idle) conn.close();
      assert.equal((await server.stop()).code, 0);
    }
  },
});

Deno.test({
  name:
    "fairness: tcp_server CLI out of files: each newcomer costs at most one open connection",
  ignore: !canRun(
    await hasProgram("bash") && Deno.build.os === "linux",
    "sets ulimit -n with bash and counts descriptors in /proc",
  ),
  async fn() {
    const server = await startServer([
      "bash",
      "-c",
      `ulimit -n 48 && exec "$0" run --allow-net tcp_server.ts --host 127.0.0.1 -p 0`,
      Deno.execPath(),
    ]);
    // Room for this many clients: the limit less what the server holds idle.
    const held = await new Deno.Command("bash", {
      args: ["-c", `ls /proc/${server.pid}/fd | wc -l`],
      stdout: "piped",
    }).output();
    const room = 48 - Number(text(held.stdout).trim());
    const clients: Deno.TcpConn[] = [];
    try {
      // One at a time, each answered before the next comes.
      for (let i = 0; i < 40; i++) {
        const client = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        });
        clients.push(client);
        await client.write(bytes(`client ${i}\n`));
        const reply = await withTimeout(
          readExactly(client, `CLIENT ${i}\n`.length),
          `client ${i}, with the files all used`,
          ANSWER_MS,
        );
        assert.equal(text(reply), `CLIENT ${i}\n`);
      }
      // Who is still served: a closed connection ends at once.
      let open = 0;
      for (const client of clients) {
        const answered = await withTimeout(
          client.write(bytes("still there\n")).then(() =>
            readExactly(client, 12)
          ).then(() => true, () => false),
          "a client asked if it is still served",
          ANSWER_MS,
        );
        if (answered) open++;
      }
      assert.ok(room < 40, `the limit left room for ${room} clients`);
      // 40 - room newcomers came with the files all used: one each gave way.
      assert.ok(open >= room - 1, `${open} open, room for ${room}`);
    } finally {
      for (const client of clients) client.close();
    }
    const { code, stderr } = await server.stop();
    assert.equal(code, 0);
    // Each newcomer waited for its place: none of them failed.
    assert.match(stderr, /closed \d+ to make room, timed out 0, failed 0;/);
  },
});

Deno.test("fairness: tcp_server CLI full, a storm of connections closed at once evicts no one", async () => {
  const server = await startServer(
    script(
      "tcp_server.ts",
      ...["--host", "127.0.0.1", "-p", "0", "--max-connections", "20"],
    ),
  );
  const waiting: Deno.TcpConn[] = [];
  try {
    // 20 clients between two sentences, long settled: the server is full.
    for (let i = 0; i < 20; i++) {
      const client = await Deno.connect({
        hostname: "127.0.0.1",
        port: server.port,
      });
      waiting.push(client);
      await client.write(bytes("settled\n"));
      await readExactly(client, 8);
    }
    // 300 connections from the same address, each closed at once.
    for (let round = 0; round < 30; round++) {
      const storm = await Promise.all(
        Array.from(
          { length: 10 },
          () => Deno.connect({ hostname: "127.0.0.1", port: server.port }),
        ),
      );
      for (const conn of storm) conn.close();
    }
    for (const [i, client] of waiting.entries()) {
      await client.write(bytes(`client ${i}\n`));
      const reply = await withTimeout(
        readExactly(client, `CLIENT ${i}\n`.length),
        `client ${i} after the storm`,
        ANSWER_MS,
      );
      assert.equal(text(reply), `CLIENT ${i}\n`);
    }
  } finally {
    for (const client of waiting) client.close();
    const output = await server.stop();
    assert.equal(output.code, 0);
    assert.match(output.stderr, /closed 0 to make room/);
  }
});

// On ::, IPv4 clients come as ::ffff:127.0.0.1 and ::ffff:127.0.0.2: each
// its own address still, not one /64 of IPv6.
for (const host of ["127.0.0.1", "::"]) {
  Deno.test({
    name:
      `fairness: tcp_server CLI --host ${host} full with a slowloris from one address evicts its places first: a client elsewhere may wait before it sends`,
    ignore: !canRun(
      hasPython,
      "the slowloris (tests/peers/slowloris.py) needs python3",
    ),
    async fn() {
      const server = await startServer(
        script(
          "tcp_server.ts",
          ...["--host", host, "-p", "0", "--max-connections", "50"],
        ),
      );
      // Every place held from 127.0.0.2, 20 more a second, none idle.
      const slowloris = new Deno.Command("python3", {
        args: [
          "tests/peers/slowloris.py",
          ...[String(server.port), "50", "20", "127.0.0.2"],
        ],
        cwd: new URL("../", import.meta.url),
        stdout: "piped",
      }).spawn();
      try {
        const lines = slowloris.stdout.pipeThrough(new TextDecoderStream())
          .getReader();
        let said = "";
        while (!said.includes("\n")) {
          const { value, done } = await withTimeout(
            lines.read(),
            "the slowloris",
          );
          if (done) break;
          said += value;
        }
        assert.equal(said, "holding 50\n");
        lines.releaseLock();
        const client = await Deno.connect({
          hostname: "127.0.0.1",
          port: server.port,
        });
        try {
          // A second between connect() and send(): twenty newcomers meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 1000));
          await client.write(bytes("real client\n"));
          const reply = await withTimeout(
            readExactly(client, 12),
            "the client that waited",
            ANSWER_MS,
          );
          assert.equal(text(reply), "REAL CLIENT\n");
        } finally {
          client.close();
        }
      } finally {
        slowloris.kill("SIGKILL");
        await slowloris.status;
        await slowloris.stdout.cancel().catch(() => {});
        assert.equal((await server.stop()).code, 0);
      }
    },
  });
}

Deno.test({
  name:
    "fairness: udp_server CLI does not answer a datagram forged to come from itself",
  ignore: !canRun(
    hasPython && await isRoot(),
    "forging a sender takes a raw socket: python3, as root",
  ),
  async fn() {
    const server = await startServer(
      script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
    );
    const socket = udpSocket();
    try {
      const spoof = await new Deno.Command("python3", {
        args: ["tests/peers/spoof_udp.py", String(server.port)],
        cwd: new URL("../", import.meta.url),
        stdout: "piped",
        signal: AbortSignal.timeout(10_000),
      }).output();
      assert.equal(text(spoof.stdout), "sent\n");
      // Answered at once beside it: the server is not busy answering itself.
      const reply = await udpRoundTrip(socket, bytes("probe"), server.port);
      assert.equal(text(reply), "PROBE");
    } finally {
      socket.close();
      const output = await server.stop();
      assert.equal(output.code, 0);
      assert.match(output.stderr, /this server's own address, not answered/);
      // One forged datagram and one probe: not thousands of self-replies.
      assert.match(output.stderr, /received 2 datagrams, replied 1/);
    }
  },
});

/**
 * A storm of clients that connect and close at once, from two loops in a
 * process of its own, until killed; prints `storming` once under way.
 */
const CONNECT_STORM = `
const port = Number(Deno.args[0]);
async function storm() {
  while (true) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
    } catch { /* refused or reset: the storm goes on */ }
  }
}
storm();
storm();
console.log("storming");
`;

Deno.test("fairness: tcp_server CLI full, a newcomer is answered at once beside a storm of connections closed at once", async () => {
  const server = await startServer(
    script(
      "tcp_server.ts",
      ...["--host", "127.0.0.1", "-p", "0", "--max-connections", "20"],
    ),
  );
  // Every place held by a client between connect() and send().
  const idle: Deno.TcpConn[] = [];
  for (let i = 0; i < 20; i++) {
    idle.push(await Deno.connect({ hostname: "127.0.0.1", port: server.port }));
  }
  const storm = new Deno.Command(Deno.execPath(), {
    args: ["eval", CONNECT_STORM, String(server.port)],
    stdout: "piped",
  }).spawn();
  try {
    const said = storm.stdout.pipeThrough(new TextDecoderStream()).getReader();
    assert.equal(
      (await withTimeout(said.read(), "the storm")).value,
      "storming\n",
    );
    said.releaseLock();
    // Each newcomer is accepted while the storm goes on: never left in a
    // backlog that overflows, its SYN sent again a second later, and again.
    const started = performance.now();
    for (let i = 0; i < 10; i++) {
      const reply = await withTimeout(
        tcpExchange(server.port, bytes(`probe ${i}\n`)),
        `probe ${i}, full, beside the storm`,
        ANSWER_MS,
      );
      assert.equal(text(reply), `PROBE ${i}\n`);
    }
    const seconds = (performance.now() - started) / 1000;
    assert.ok(seconds < 5, `10 probes took ${seconds.toFixed(1)} s`);
  } finally {
    storm.kill("SIGKILL");
    await storm.status;
    await storm.stdout.cancel().catch(() => {});
    for (const conn of idle) conn.close();
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test({
  name:
    "fairness: tcp_server CLI out of files for good: one connection gives way, not one at every failed accept",
  ignore: !canRun(
    Deno.build.os === "linux" && await hasProgram("prlimit"),
    "lowers the server's open-file limit with prlimit (util-linux, Linux)",
  ),
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "tcp_server.ts", "--host", "127.0.0.1"],
      cwd: new URL("../", import.meta.url),
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const prlimit = (limit: string) =>
      new Deno.Command("prlimit", {
        args: ["--pid", String(child.pid), `--nofile=${limit}`],
      }).output();
    let stderr = "";
    const errors = (async () => {
      for await (
        const chunk of child.stderr.pipeThrough(new TextDecoderStream())
      ) stderr += chunk;
    })();
    const lines = child.stdout.pipeThrough(new TextDecoderStream());
    const said = lines.getReader();
    const clients: Deno.TcpConn[] = [];
    let newcomer: Deno.TcpConn | undefined;
    try {
      const ready = (await withTimeout(said.read(), "the ready line")).value;
      const port = Number(ready?.match(/:(\d+)\n/)?.[1]);
      for (let i = 0; i < 10; i++) {
        const client = await Deno.connect({ hostname: "127.0.0.1", port });
        clients.push(client);
        await client.write(bytes("settled\n"));
        await readExactly(client, 8);
      }
      // Below stdin, stdout and stderr: no descriptor a connection frees
      // lets accept() through, so it fails again and again.
      const [soft, hard] = text(
        (await new Deno.Command("prlimit", {
          args: [
            "--pid",
            String(child.pid),
            "--nofile",
            "--output",
            "SOFT,HARD",
            "--noheadings",
          ],
          stdout: "piped",
        }).output()).stdout,
      ).trim().split(/\s+/);
      assert.ok((await prlimit("3:")).success);
      newcomer = await Deno.connect({ hostname: "127.0.0.1", port });
      await newcomer.write(bytes("newcomer\n"));
      await withTimeout(
        (async () => {
          while ((stderr.match(/accept failed/g) ?? []).length < 3) {
            await new Promise((resolve) => setTimeout(resolve, 20));
          }
        })(),
        "three failed accepts",
      );
      let open = 0;
      for (const client of clients) {
        await client.write(bytes("there?\n")).catch(() => {});
        const answered = await withTimeout(
          readExactly(client, 7).then(() => true, () => false),
          "a client asked if it is still served",
        );
        if (answered) open++;
      }
      assert.equal(open, 9, "one connection gave way, and one only");
      // Files again: the newcomer is accepted and answered.
      assert.ok((await prlimit(`${soft}:${hard}`)).success);
      assert.equal(text(await readExactly(newcomer, 9)), "NEWCOMER\n");
    } finally {
      for (const client of clients) client.close();
      newcomer?.close();
      child.kill("SIGTERM");
      await withTimeout(child.status, "the server's exit");
      await said.cancel();
      await errors;
    }
    assert.match(stderr, /closed 1 to make room, timed out 0, failed 0;/);
  },
});
