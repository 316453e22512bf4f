/**
 * Hostile peers and faults: no input or fault may stop a server, hang a
 * client, or lose or alter a byte (other than upper-casing).
 */
import assert from "node:assert/strict";
import { upperCase } from "../udp_server.ts";
import {
  bytes,
  probeUntilAnswered,
  readAll,
  readExactly,
  ROOT,
  script,
  startServer,
  tcpExchange,
  text,
  udpSocket,
  untilLogged,
  withServer,
  withTimeout,
} from "./_helpers.ts";

/** A deterministic pseudo-random source, so a failure can be replayed. */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

/** Bytes that mix ASCII, valid multi-byte UTF-8 and every kind of invalid. */
function messyBytes(next: () => number, length: number): Uint8Array {
  const pieces = [
    bytes("abc xyz "),
    bytes("straße"),
    bytes("é"),
    bytes("ŉ"),
    bytes("😀"),
    new Uint8Array([0xff]),
    new Uint8Array([0xc3]), // a lead byte alone
    new Uint8Array([0xe2, 0x82]), // a truncated 3-byte sequence
    new Uint8Array([0x80]), // a lone continuation byte
    new Uint8Array([0xed, 0xa0, 0x80]), // a surrogate
    new Uint8Array([0xc0, 0xaf]), // an overlong "/"
    new Uint8Array([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
  ];
  const out: number[] = [];
  while (out.length < length) {
    out.push(...pieces[Math.floor(next() * pieces.length)]);
  }
  return new Uint8Array(out);
}

Deno.test("stress: serveUdp() answers normally after thousands of garbage datagrams, sizes 0 to 65,507", async () => {
  const stats = await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    const next = random(1);
    try {
      const sizes = [];
      for (let size = 0; size <= 1024; size++) sizes.push(size);
      for (let i = 0; i < 2000; i++) sizes.push(Math.floor(next() * 65_508));
      sizes.push(65_506, 65_507);
      for (const size of sizes) {
        const garbage = new Uint8Array(size).map(() =>
          Math.floor(next() * 256)
        );
        await socket.send(garbage, {
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
      }
      // Replies to the flood pile up unread; a new socket asks until answered.
      const reply = await probeUntilAnswered(bytes("still alive?"), port);
      assert.equal(text(reply), "STILL ALIVE?");
    } finally {
      socket.close();
    }
  });
  assert.ok(stats.received >= 1, "the server received the flood");
});

Deno.test("stress: serveUdp() sends messy UTF-8 back exactly as upperCase() says, datagram by datagram", async () => {
  await withServer("udp", {}, async (port) => {
    const socket = udpSocket();
    const next = random(2);
    try {
      for (let i = 0; i < 200; i++) {
        const message = messyBytes(next, Math.floor(next() * 300));
        await socket.send(message, {
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
        const [reply] = await withTimeout(socket.receive(), "a reply");
        assert.deepEqual(reply, upperCase(message));
      }
    } finally {
      socket.close();
    }
  });
});

Deno.test("stress: serveTcp() sends messy UTF-8 back whole, in chunks of every size, one byte at a time too", async () => {
  await withServer("tcp", {}, async (port) => {
    const next = random(3);
    for (const chunkSize of [1, 2, 3, 5, 7, 64, 1000]) {
      const message = messyBytes(next, 3000);
      const expected = upperCase(message); // the same as upper-casing it whole
      const conn = await Deno.connect({
        hostname: "127.0.0.1",
        port,
      });
      try {
        const reading = readAll(conn);
        for (let offset = 0; offset < message.length; offset += chunkSize) {
          await conn.write(message.subarray(offset, offset + chunkSize));
        }
        await conn.closeWrite();
        assert.deepEqual(await reading, expected, `chunks of ${chunkSize}`);
      } finally {
        conn.close();
      }
    }
  });
});

Deno.test("stress: serveTcp() with maxConnections 300 serves 300 idle clients and one more, then times them out at idleTimeout 0.5", async () => {
  const stats = await withServer(
    "tcp",
    { maxConnections: 300, idleTimeout: 0.5 },
    async (port, logs) => {
      const idle: Deno.TcpConn[] = [];
      try {
        for (let i = 0; i < 300; i++) {
          idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        }
        // Every one of the 300 is served...
        await idle[299].write(bytes("last"));
        assert.equal(text(await readExactly(idle[299], 4)), "LAST");
        // ...the 301st is served too: the connection idle longest makes room...
        // (It stays connected until then: one gone at once frees its own.)
        const extra = await Deno.connect({ hostname: "127.0.0.1", port });
        try {
          await extra.write(bytes("extra"));
          assert.equal(text(await readExactly(extra, 5)), "EXTRA");
          await untilLogged(logs, "to make room");
        } finally {
          extra.close();
        }
        assert.match(
          logs.join("\n"),
          /to make room for .* \(--max-connections 300\)/,
        );
        // ...and once idle for 0.5 s, all are closed, which makes room again.
        for (const conn of idle) assert.equal((await readAll(conn)).length, 0);
        assert.equal(
          text(await tcpExchange(port, bytes("room again\n"))),
          "ROOM AGAIN\n",
        );
      } finally {
        for (const conn of idle) conn.close();
      }
    },
  );
  assert.equal(stats.evicted, 1);
  assert.equal(stats.timedOut, 299);
});

/** Spawns a client script with piped stdin, for tests that feed it slowly. */
function spawnClient(args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net", "--unstable-net", ...args],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).spawn();
}

Deno.test("stress: tcp_client CLI --stream fails in one line, in bounded time, when tcp_server CLI is killed mid-stream", async () => {
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  const client = spawnClient([
    "tcp_client.ts",
    "-p",
    String(server.port),
    "--stream",
    "--timeout",
    "5",
  ]);
  const writer = client.stdin.getWriter();
  const reader = client.stdout.getReader();
  let stopped = false;
  try {
    await writer.write(bytes("before the crash\n"));
    const first = await withTimeout(reader.read(), "the first reply");
    assert.ok(!first.done);
    await server.stop("SIGKILL");
    stopped = true;
    // The client keeps sending into a dead connection.
    for (let i = 0; i < 50; i++) {
      const ok = await writer.write(new Uint8Array(64 * 1024).fill(0x61)).then(
        () => true,
        () => false,
      );
      if (!ok) break;
    }
    await writer.close().catch(() => {});
    while (!(await reader.read()).done) {
      // drain what came before the crash
    }
    const status = await withTimeout(client.status, "the client's exit");
    const stderr = text(
      new Uint8Array(await new Response(client.stderr).arrayBuffer()),
    );
    assert.equal(status.code, 1);
    assert.match(stderr, /^tcp_client: [^\n]+\n$/);
  } finally {
    if (!stopped) await server.stop("SIGKILL");
  }
});

Deno.test("stress: udp_client CLI fails in one line, in bounded time, when udp_server CLI is killed between sentences", async () => {
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  const client = spawnClient([
    ...["udp_client.ts", "--host", "127.0.0.1", "-p", String(server.port)],
    ...["--timeout", "0.2", "--retries", "2"],
  ]);
  const writer = client.stdin.getWriter();
  const reader = client.stdout.pipeThrough(new TextDecoderStream()).getReader();
  await writer.write(bytes("first\n"));
  assert.equal(
    (await withTimeout(reader.read(), "the first reply")).value,
    "FIRST\n",
  );
  await server.stop("SIGKILL");
  await writer.write(bytes("second\n"));
  await writer.close();
  const started = performance.now();
  const status = await withTimeout(client.status, "the client's exit");
  assert.ok(performance.now() - started < 5_000);
  while (!(await reader.read()).done) {
    // nothing more is printed
  }
  const stderr = text(
    new Uint8Array(await new Response(client.stderr).arrayBuffer()),
  );
  assert.equal(status.code, 1);
  assert.match(
    stderr,
    /^udp_client: no reply from 127\.0\.0\.1:\d+ after 3 tries[^\n]*\n$/,
  );
});

Deno.test("stress: tcp_server and udp_server CLI exit cleanly on SIGTERM under load, with their summaries, the ports released", async () => {
  const tcp = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  const udp = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  // 32 TCP clients exchanging lines and a UDP flood, while the signals land.
  let loading = true;
  let exchanges = 0;
  let loaded: () => void;
  const underLoad = new Promise<void>((resolve) => loaded = resolve);
  const tcpLoad = Array.from({ length: 32 }, async () => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: tcp.port });
    try {
      while (loading) {
        await conn.write(bytes("load\n"));
        await readExactly(conn, 5);
        if (++exchanges === 1000) loaded();
      }
    } catch {
      // the server went away under us: expected
    } finally {
      conn.close();
    }
  });
  const flood = udpSocket();
  const udpLoad = (async () => {
    while (loading) {
      await flood.send(bytes("flood"), {
        transport: "udp",
        hostname: "127.0.0.1",
        port: udp.port,
      });
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  })();
  try {
    await withTimeout(underLoad, "1,000 exchanges under load");
    const [tcpOut, udpOut] = await Promise.all([
      tcp.stop("SIGTERM"),
      udp.stop("SIGTERM"),
    ]);
    assert.equal(tcpOut.code, 0);
    assert.match(tcpOut.stderr, /tcp_server: served 32 connections/);
    assert.equal(udpOut.code, 0);
    assert.match(udpOut.stderr, /udp_server: received [1-9]\d* datagrams/);
  } finally {
    loading = false;
    await Promise.all(tcpLoad);
    await udpLoad;
    flood.close();
  }
  Deno.listen({ hostname: "127.0.0.1", port: tcp.port }).close();
  Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: udp.port,
  }).close();
});
