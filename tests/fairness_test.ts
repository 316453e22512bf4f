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
  kind: "ascii" | "greek" | "invalid",
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

Deno.test("tcp_server: beside clients streaming ASCII, Greek and invalid bytes, another is answered every time", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    const floods: Flood[] = [];
    for (const kind of ["ascii", "greek", "invalid"] as const) {
      floods.push(await startFlood("tcp", server.port, kind, 4));
    }
    for (let i = 0; i < 20; i++) {
      const reply = await withTimeout(
        tcpExchange(server.port, bytes(`probe ${i}\n`)),
        `probe ${i}, beside three floods`,
        ANSWER_MS,
      );
      assert.equal(text(reply), `PROBE ${i}\n`);
    }
    // Each flood was served all along, not only the first one.
    for (const flood of floods) {
      const { sent, received } = await flood.finished();
      assert.ok(sent > 0 && received > 0, `sent ${sent}, received ${received}`);
    }
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("tcp_server: --idle-timeout and SIGTERM still work during a flood of invalid bytes", async () => {
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
    // The signal is handled: the server stops the flood and exits.
    const output = await server.stop("SIGTERM");
    assert.equal(output.code, 0);
    assert.match(output.stderr, /timed out 1, /);
    await flood?.finished();
  }
});

Deno.test("udp_server: beside a flood of invalid-byte datagrams, another client is answered and SIGTERM works", async () => {
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
    // The signal is handled while the flood goes on.
    const output = await server.stop("SIGTERM");
    await flood?.kill();
    assert.equal(output.code, 0);
    assert.match(output.stderr, /udp_server: received \d+ datagrams/);
  }
});

const hasPython = await hasProgram("python3");

Deno.test({
  name: "tcp_server: connections reset before they are accepted cost nothing",
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
    }
  },
});

/** Resident memory of a process in KiB, from `ps`. */
async function residentKiB(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return Number(text(stdout).trim());
}

Deno.test({
  name:
    "tcp_server: 60 clients that send Greek text and never read hold bounded memory",
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
      // 320 KiB a connection at most (README): 60 hold 19 MiB, plus slack.
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
