/**
 * The UDP Heartbeat exercise: `udp_client.ts --heartbeat` and
 * `udp_server.ts --heartbeat SECONDS`, driven by hand-made heartbeats (lost,
 * duplicated, out of order, a client that stops), by many clients at once,
 * and through `--drop-rate`.
 *
 * @module
 */
import assert from "node:assert/strict";
import { heartbeatUdp } from "../udp_client.ts";
import {
  type HeartbeatClientStats,
  type HeartbeatReport,
  serveUdp,
} from "../udp_server.ts";
import {
  bytes,
  probeUntilAnswered,
  ROOT,
  script,
  startServer,
  text,
  udpSocket,
  withServer,
  withTimeout,
} from "./_helpers.ts";

/** A server watching heartbeats in this process, its reports collected. */
function heartbeatServer(heartbeat: number) {
  const controller = new AbortController();
  const reports: HeartbeatReport[] = [];
  let wanted: ((report: HeartbeatReport) => boolean) | undefined;
  let found: (() => void) | undefined;
  const server = serveUdp({
    hostname: "127.0.0.1",
    port: 0,
    heartbeat,
    signal: controller.signal,
    log: () => {},
    onHeartbeat(report) {
      reports.push(report);
      if (wanted?.(report)) found?.();
    },
  });
  return {
    port: server.addr.port,
    reports,
    /** Each report as its event and the heartbeat number it names, if any. */
    events() {
      return reports.map((r) => [r.event, (r as { seq?: number }).seq]);
    },
    /** Resolves when a report like that has come (bounded). */
    until(test: (report: HeartbeatReport) => boolean, what: string) {
      if (reports.some(test)) return Promise.resolve();
      wanted = test;
      return withTimeout(new Promise<void>((r) => found = r), what);
    },
    /** Stops the server (again, if stopped) and gives its statistics. */
    async stop() {
      controller.abort();
      return await server.finished;
    },
  };
}

/** A client socket of a heartbeat test, and the name the server knows it by. */
interface Peer {
  socket: Deno.DatagramConn;
  name: string;
  /** Sends one datagram to the server. */
  send(datagram: Uint8Array): Promise<number>;
}

/**
 * Runs `body` with a heartbeat server (`heartbeat` seconds) in this process
 * and `peerCount` client sockets on loopback; whatever `body` does, closes
 * the sockets and stops the server after it.
 */
async function withHeartbeatServer(
  heartbeat: number,
  peerCount: number,
  body: (
    server: ReturnType<typeof heartbeatServer>,
    peers: Peer[],
  ) => Promise<void>,
): Promise<void> {
  const server = heartbeatServer(heartbeat);
  const to = {
    transport: "udp" as const,
    hostname: "127.0.0.1",
    port: server.port,
  };
  const peers = Array.from({ length: peerCount }, () => {
    const socket = udpSocket();
    const name = `127.0.0.1:${(socket.addr as Deno.NetAddr).port}`;
    return { socket, name, send: (d: Uint8Array) => socket.send(d, to) };
  });
  try {
    await body(server, peers);
  } finally {
    for (const { socket } of peers) socket.close();
    await server.stop();
  }
}

/** A `Heartbeat SEQ TIME` datagram, stamped `sentMsAgo` ms in the past. */
function heartbeat(seq: number, sentMsAgo = 0): Uint8Array {
  const time = (performance.timeOrigin + performance.now() - sentMsAgo) / 1000;
  return bytes(`Heartbeat ${seq} ${time.toFixed(6)}`);
}

Deno.test("serveUdp() with heartbeat reports lost, late, duplicate, stopped and resumed, and still answers sentences", async () => {
  await withHeartbeatServer(0.3, 1, async (server, [peer]) => {
    const client = peer.name;
    // Out of order by hand: 1, 2, then 5 (3 and 4 lost), 3 late, 5 again.
    await peer.send(heartbeat(1));
    await peer.send(heartbeat(2, 250)); // sent 250 ms ago
    const late = heartbeat(3); // stamped before 5, as a client would
    const five = heartbeat(5);
    await peer.send(five);
    await peer.send(late);
    await peer.send(five);
    // A sentence is answered as always; heartbeats were not.
    await peer.send(bytes("hello"));
    const [reply] = await withTimeout(peer.socket.receive(), "the reply");
    assert.equal(text(reply), "HELLO");
    await server.until((r) => r.event === "duplicate", "the duplicate");
    await server.until((r) => r.event === "stopped", "the client stopped");
    await peer.send(heartbeat(6));
    await server.until((r) => r.event === "resumed", "the client resumed");
    const events = server.reports.map((r) => {
      const { delayMs: _, silentS: __, ...rest } = r as Record<string, unknown>;
      return rest;
    });
    assert.deepEqual(events, [
      { client, event: "heartbeat", seq: 1 },
      { client, event: "heartbeat", seq: 2 },
      { client, event: "lost", seqs: "3-4", count: 2 },
      { client, event: "heartbeat", seq: 5 },
      { client, event: "late", seq: 3 },
      { client, event: "duplicate", seq: 5 },
      { client, event: "stopped", lastSeq: 5 },
      { client, event: "resumed", seq: 6 },
      { client, event: "heartbeat", seq: 6 },
    ]);
    // Heartbeat 2 was stamped 250 ms before it was sent.
    const second = server.reports[1] as { delayMs: number };
    assert.ok(
      second.delayMs >= 250 && second.delayMs < 5000,
      `${second.delayMs}`,
    );
    const stopped = server.reports[6] as { silentS: number };
    // Said once the silence passes 0.3 s, and soon after (a sweep each
    // quarter of it): generous bound.
    assert.ok(
      stopped.silentS >= 0.3 && stopped.silentS < 1.5,
      `${stopped.silentS}`,
    );
    const stats = await server.stop();
    assert.equal(stats.replied, 1, "the sentence, no heartbeat");
    assert.deepEqual(stats.heartbeats, {
      received: 6,
      clients: [{
        client,
        received: 5,
        lost: 1,
        late: 1,
        duplicates: 1,
        tooOld: 0,
        stopped: false,
      }],
      forgotten: 0,
    });
  });
});

Deno.test("serveUdp() with heartbeat counts twenty clients at once, each on its own", async () => {
  await withHeartbeatServer(30, 20, async (server, peers) => {
    for (let seq = 1; seq <= 10; seq++) {
      // Client i skips heartbeat i % 10 + 1 (never its last: that would
      // look like a stop, not a gap).
      await Promise.all(
        peers.map((peer, i) =>
          seq === (i % 9) + 1 ? undefined : peer.send(heartbeat(seq))
        ),
      );
    }
    await server.until(
      () =>
        server.reports.filter((r) => r.event === "heartbeat").length === 180,
      "180 heartbeats",
    );
    const stats = await server.stop();
    assert.equal(stats.heartbeats?.received, 180);
    const byClient = new Map(
      stats.heartbeats!.clients.map((c) => [c.client, c]),
    );
    for (const [i, { name }] of peers.entries()) {
      assert.deepEqual(byClient.get(name), {
        client: name,
        received: 9,
        lost: 1,
        late: 0,
        duplicates: 0,
        tooOld: 0,
        stopped: false,
      });
      const lost = server.reports.find((r) =>
        r.client === name && r.event === "lost"
      );
      assert.deepEqual(lost, {
        client: name,
        event: "lost",
        seqs: String((i % 9) + 1),
        count: 1,
      });
    }
  });
});

Deno.test("heartbeatUdp() sends Heartbeat SEQ TIME on schedule, from one socket, needing no reply", async () => {
  const peer = udpSocket();
  try {
    const port = (peer.addr as Deno.NetAddr).port;
    const started = performance.now();
    const sent: number[] = [];
    for await (
      const beat of heartbeatUdp({
        hostname: "127.0.0.1",
        port,
        count: 4,
        interval: 0.05,
      })
    ) sent.push(beat.seq);
    assert.deepEqual(sent, [1, 2, 3, 4]);
    assert.ok(performance.now() - started >= 150, "three intervals at least");
    const sources = new Set<number>();
    for (let seq = 1; seq <= 4; seq++) {
      const [data, from] = await withTimeout(
        peer.receive(),
        `heartbeat ${seq}`,
      );
      sources.add((from as Deno.NetAddr).port);
      const [word, number, time] = text(data).split(" ");
      assert.equal(word, "Heartbeat");
      assert.equal(Number(number), seq);
      const age = Date.now() - Number(time) * 1000;
      assert.ok(age > -5 && age < 5000, `TIME is now: ${time}`);
      assert.match(time, /^\d+\.\d{6}$/);
    }
    assert.equal(sources.size, 1, "one socket, so the server knows the client");
  } finally {
    peer.close();
  }
});

Deno.test("heartbeatUdp() keeps its schedule from the first heartbeat, however long each one takes to go", async () => {
  const peer = udpSocket();
  try {
    const port = (peer.addr as Deno.NetAddr).port;
    const arrivals: number[] = [];
    const receiving = (async () => {
      for (let seq = 1; seq <= 11; seq++) {
        await withTimeout(peer.receive(), `heartbeat ${seq}`);
        arrivals.push(performance.now());
      }
    })();
    const beats = heartbeatUdp({
      hostname: "127.0.0.1",
      port,
      count: 11,
      interval: 0.1,
    });
    for await (const _beat of beats) {
      // A slow reader of each heartbeat (a stdout that lags): 80 ms each.
      await new Promise((resolve) => setTimeout(resolve, 80));
    }
    await receiving;
    // Ten intervals from the first to the last: 1 s, not 1 s + 10 x 80 ms.
    const span = arrivals[10] - arrivals[0];
    assert.ok(span > 950 && span < 1500, `${span} ms for ten 100 ms intervals`);
  } finally {
    peer.close();
  }
});

/**
 * Starts `udp_server.ts --json` with `args`, on 127.0.0.1 and a free port:
 * its ready line, read as JSON, and `stop`, which gives what it printed.
 */
async function startJsonServer(...args: string[]) {
  const [program, ...rest] = script(
    "udp_server.ts",
    ...["--host", "127.0.0.1", "-p", "0", ...args, "--json"],
  );
  const child = new Deno.Command(program, {
    args: rest,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = new Response(child.stderr).text();
  let said = "";
  const stop = async (signal: Deno.Signal = "SIGTERM") => {
    child.kill(signal);
    const { code } = await withTimeout(child.status, "the server's exit");
    while (true) {
      const { value, done } = await lines.read();
      if (done) break;
      said += value;
    }
    return { code, stdout: said, stderr: await stderr };
  };
  try {
    await withTimeout(
      (async () => {
        while (!said.includes("\n")) {
          const { value, done } = await lines.read();
          if (done) throw new Error(`no ready line: ${await stderr}`);
          said += value;
        }
      })(),
      "the ready line",
    );
    const ready = JSON.parse(said.slice(0, said.indexOf("\n")));
    return { ready, port: ready.port as number, stop };
  } catch (error) {
    await stop("SIGKILL");
    throw error;
  }
}

Deno.test("udp_server CLI --heartbeat --drop-rate reports exactly its drops as the gaps from udp_client CLI --heartbeat", async () => {
  const server = await startJsonServer(
    ...["--heartbeat", "0.5", "--drop-rate", "0.3", "--seed", "7"],
  );
  // The ready line is JSON too, with the human line's words.
  assert.deepEqual(server.ready, {
    event: "ready",
    message: `The server is ready to receive on 127.0.0.1:${server.port}`,
    host: "127.0.0.1",
    port: server.port,
  });
  let stopped;
  const client = await new Deno.Command(Deno.execPath(), {
    args: script(
      "udp_client.ts",
      ...["--host", "127.0.0.1", "-p", String(server.port)],
      ...["--heartbeat", "--count", "30", "--interval", "0.01"],
    ).slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).output();
  try {
    assert.equal(client.code, 0, text(client.stderr));
    const lines = text(client.stdout).trimEnd().split("\n");
    assert.equal(lines.length, 32);
    assert.match(lines[0], /^Heartbeat 1 \d+\.\d{6} to 127\.0\.0\.1:\d+$/);
    assert.equal(lines.at(-1), "30 heartbeats sent");
  } finally {
    stopped = await server.stop("SIGINT");
  }
  assert.equal(stopped.code, 0, stopped.stderr);
  const reports = stopped.stdout.trimEnd().split("\n").slice(1).map((line) =>
    JSON.parse(line)
  );
  const seen = reports.filter((r) => r.event === "heartbeat").map((r) => r.seq);
  const lost = reports.filter((r) => r.event === "lost").flatMap((r) => {
    const [from, to = from] = r.seqs.split("-").map(Number);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  });
  const last = Math.max(...seen);
  // Every heartbeat up to the last one heard: heard once, or reported lost.
  assert.deepEqual(
    [...seen, ...lost].sort((a, b) => a - b),
    Array.from({ length: last }, (_, i) => i + 1),
  );
  assert.ok(lost.length > 0, "30% dropped, some lost");
  const summary = stopped.stderr.match(
    /received (\d+) datagrams, replied (\d+), dropped (\d+), failed 0, heartbeats (\d+)/,
  );
  assert.ok(summary, stopped.stderr);
  // The server dropped exactly the heartbeats lost, and those after the last.
  assert.equal(Number(summary[3]), lost.length + (30 - last));
  assert.equal(Number(summary[4]), seen.length);
  assert.equal(Number(summary[2]), 0, "heartbeats get no reply");
  // Each client's counts close the reports, for a grader.
  const summaries = reports.filter((r) => r.event === "summary");
  assert.equal(summaries.length, 1);
  assert.deepEqual(summaries[0], {
    event: "summary",
    client: summaries[0].client,
    received: seen.length,
    lost: lost.length,
    late: 0,
    duplicates: 0,
    tooOld: 0,
    stopped: summaries[0].stopped,
  });
});

Deno.test("udp_client CLI --heartbeat runs until Ctrl-C, then prints its summary, exit 0", async () => {
  const peer = udpSocket();
  const child = new Deno.Command(Deno.execPath(), {
    args: script(
      "udp_client.ts",
      ...[
        "--host",
        "127.0.0.1",
        "-p",
        String((peer.addr as Deno.NetAddr).port),
      ],
      ...["--heartbeat", "--interval", "0.05", "--json"],
    ).slice(1),
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    // Two heartbeats arrive: it is running.
    await withTimeout(peer.receive(), "heartbeat 1");
    await withTimeout(peer.receive(), "heartbeat 2");
    child.kill("SIGINT");
    const { code, stdout, stderr } = await withTimeout(child.output(), "exit");
    assert.equal(code, 0, text(stderr));
    const objects = text(stdout).trimEnd().split("\n").map((l) =>
      JSON.parse(l)
    );
    const summary = objects.pop();
    assert.ok(summary.heartbeats >= 2);
    assert.equal(summary.heartbeats, objects.length);
    assert.deepEqual(objects.map((o) => o.seq), objects.map((_, i) => i + 1));
  } finally {
    peer.close();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
  }
});

Deno.test("serveUdp() with heartbeat counts from 0, and a heartbeat older than it remembers as too old to tell, however often it comes", async () => {
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    await peer.send(heartbeat(0)); // a pinger's range(10) starts at 0
    await peer.send(heartbeat(1));
    const two = heartbeat(2); // stamped before 600, as a client would
    await peer.send(heartbeat(600)); // 2 to 599 lost
    // Long gone from memory: late, or a duplicate? Not counted either way.
    await peer.send(two);
    await peer.send(two);
    await server.until(
      () => server.reports.filter((r) => r.event === "old").length === 2,
      "the two old ones",
    );
    assert.deepEqual(server.reports.map((r) => r.event), [
      "heartbeat",
      "heartbeat",
      "lost",
      "heartbeat",
      "old",
      "old",
    ]);
    const [client] = (await server.stop()).heartbeats!.clients;
    assert.equal(client.lost, 598);
    assert.equal(client.late, 0);
    assert.equal(client.tooOld, 2);
    assert.equal(client.duplicates, 0);
  });
});

Deno.test("serveUdp() with heartbeat takes 1, 3, 2, 2 as a loss, then late, then a duplicate", async () => {
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    // Stamped as a client would: 2 before 3.
    const [one, two, three] = [1, 2, 3].map((seq) => heartbeat(seq));
    for (const sent of [one, three, two, two]) await peer.send(sent);
    await server.until((r) => r.event === "duplicate", "the second 2");
    assert.deepEqual(server.events(), [
      ["heartbeat", 1],
      ["lost", undefined],
      ["heartbeat", 3],
      ["late", 2],
      ["duplicate", 2],
    ]);
    const [client] = (await server.stop()).heartbeats!.clients;
    assert.deepEqual(
      { ...client, client: "" },
      {
        client: "",
        received: 3,
        lost: 0,
        late: 1,
        duplicates: 1,
        tooOld: 0,
        stopped: false,
      },
    );
  });
});

Deno.test("serveUdp() with heartbeat takes a late 0 after 1 as received, never a duplicate", async () => {
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    const zero = heartbeat(0);
    // The same datagram twice: a second 0 sent later would be a restart.
    for (const sent of [heartbeat(1), heartbeat(2), zero, zero]) {
      await peer.send(sent);
    }
    await server.until((r) => r.event === "duplicate", "the second 0");
    assert.deepEqual(
      server.events(),
      [["heartbeat", 1], ["heartbeat", 2], ["heartbeat", 0], ["duplicate", 0]],
    );
    const [client] = (await server.stop()).heartbeats!.clients;
    assert.equal(client.received, 3);
    assert.equal(client.lost, 0);
    assert.equal(client.duplicates, 1);
  });
});

Deno.test("serveUdp() with heartbeat forgets the longest silent of over 1,000 clients, says so, and claims no loss for it when it comes back", async () => {
  await withHeartbeatServer(30, 1001, async (server, [first, ...others]) => {
    await first.send(heartbeat(1));
    await server.until((r) => r.client === first.name, "the first client");
    // One at a time: a burst of a thousand would overflow the socket buffer.
    for (const other of others) {
      await other.send(heartbeat(1));
      await server.until((r) => r.client === other.name, other.name);
    }
    // Forgotten, it comes back at 2: nothing before it is known lost.
    await first.send(heartbeat(2));
    await server.until(
      (r) => r.client === first.name && (r as { seq?: number }).seq === 2,
      "its return",
    );
    assert.deepEqual(
      server.reports.filter((r) => r.client === first.name).map((r) => r.event),
      ["heartbeat", "heartbeat"],
    );
    const stats = (await server.stop()).heartbeats!;
    assert.equal(stats.clients.length, 1000);
    assert.equal(stats.forgotten, 2, "the first, then the next longest silent");
    assert.ok(stats.clients.every((client) => client.lost === 0));
  });
});

/** Starts `udp_server.ts --heartbeat 30` on loopback; `to` is its address. */
async function startHeartbeatCli() {
  const server = await startServer(script(
    "udp_server.ts",
    ...["--host", "127.0.0.1", "-p", "0", "--heartbeat", "30"],
  ));
  const to = {
    transport: "udp" as const,
    hostname: "127.0.0.1",
    port: server.port,
  };
  return { server, to };
}

Deno.test("udp_server CLI --heartbeat goes on answering, and stops, with a stdout nobody reads", async () => {
  const { server, to } = await startHeartbeatCli();
  const socket = udpSocket();
  try {
    // Far more report lines than a pipe holds (64 KiB), never read.
    for (let seq = 1; seq <= 20_000; seq++) {
      await socket.send(heartbeat(seq), to);
    }
    // The flood can fill the server's receive buffer, and the system then
    // drops datagrams: ask again until answered (20 tries, 0.5 s apart).
    const reply = await probeUntilAnswered(bytes("still there"), server.port);
    assert.equal(text(reply), "STILL THERE");
  } finally {
    socket.close();
    const stopped = await server.stop();
    assert.equal(stopped.code, 0, stopped.stderr);
  }
});

Deno.test("udp_client CLI --ping ends on Ctrl-C with ping's summary, as ping does", async () => {
  await withServer("udp", {}, async (port) => {
    const child = new Deno.Command(Deno.execPath(), {
      args: script(
        "udp_client.ts",
        ...["--host", "127.0.0.1", "-p", String(port)],
        ...["--ping", "1000", "--interval", "0.05"],
      ).slice(1),
      cwd: ROOT,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      // Two replies printed: it is pinging.
      const reader = child.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let shown = "";
      await withTimeout(
        (async () => {
          while ((shown.match(/^Reply /gm) ?? []).length < 2) {
            const { value, done } = await reader.read();
            if (done) break;
            shown += value;
          }
        })(),
        "two replies",
      );
      child.kill("SIGINT");
      while (true) {
        const { value, done } = await withTimeout(reader.read(), "the summary");
        if (done) break;
        shown += value;
      }
      const { code } = await withTimeout(child.status, "the exit");
      assert.equal(code, 0);
      const summary = shown.match(
        /\n--- 127\.0\.0\.1:\d+ ping statistics ---\n(\d+) packets transmitted, (\d+) received, [\d.]+% packet loss\nrtt min\/avg\/max\/mdev = [\d./]+ ms\nEstimatedRTT = /,
      );
      assert.ok(summary, shown);
      // The ping in flight at Ctrl-C, if one was, counts as transmitted.
      assert.ok([0, 1].includes(Number(summary[1]) - Number(summary[2])));
    } finally {
      try {
        child.kill("SIGKILL");
      } catch { /* exited */ }
      await child.stderr.cancel().catch(() => {});
    }
  });
});

Deno.test("udp_server CLI --heartbeat --json with stdout read late: every line JSON, the dropped reports an object with their count", async () => {
  const [program, ...args] = script(
    "udp_server.ts",
    ...["--host", "127.0.0.1", "-p", "0", "--heartbeat", "30", "--json"],
  );
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const socket = udpSocket();
  try {
    const stdout = child.stdout.getReader();
    const { value } = await withTimeout(stdout.read(), "the ready line");
    // The ready line, an object like every other line.
    const { port } = JSON.parse(text(value!).split("\n")[0]);
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port };
    // 12,000 reports, more than the pipe and the 10,000-line queue hold;
    // sent in batches, each made sure of by a sentence answered after it.
    for (let seq = 1; seq <= 12_000; seq++) {
      await socket.send(heartbeat(seq), to);
      if (seq % 200 === 0) {
        await socket.send(bytes(`batch ${seq}`), to);
        const [reply] = await withTimeout(socket.receive(), `batch ${seq}`);
        assert.equal(text(reply), `BATCH ${seq}`);
      }
    }
    child.kill("SIGTERM");
    // Read late: two seconds after the stop, longer than the reports' wait.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const rest = await withTimeout(
      new Response(
        new ReadableStream({
          async pull(controller) {
            const { value, done } = await stdout.read();
            if (done) controller.close();
            else controller.enqueue(value);
          },
        }),
      ).text(),
      "stdout after SIGTERM",
    );
    const objects = rest.trimEnd().split("\n").map((line) => JSON.parse(line));
    const dropped = objects.find((o) => o.event === "dropped");
    assert.ok(dropped?.reports > 0, JSON.stringify(dropped));
    assert.equal(objects.at(-1).event, "summary");
    assert.equal((await child.status).code, 0);
  } finally {
    socket.close();
    try {
      child.kill("SIGKILL");
    } catch {
      // already gone
    }
    await child.status;
    await child.stderr.cancel();
  }
});

Deno.test("serveUdp() with heartbeat takes a forged jump far ahead as a jump, not as heartbeats lost, and counting goes on", async () => {
  await withHeartbeatServer(30, 2, async (server, [forgedOn, jumper]) => {
    // One forged heartbeat among a client's: 10^15 - 1 once, then 3, 4.
    for (const seq of [1, 2, 1e15 - 1, 3, 4]) {
      await forgedOn.send(heartbeat(seq));
    }
    // A client that really jumps: the next one follows the jump.
    for (const seq of [1, 5000, 5001]) await jumper.send(heartbeat(seq));
    await server.until(
      (r) => r.event === "heartbeat" && r.seq === 5001,
      "heartbeat 5001",
    );
    await server.until((r) => r.event === "heartbeat" && r.seq === 4, "4");
    const events = (client: string) =>
      server.reports.filter((r) => r.client === client).map((r) =>
        r.event === "jumped"
          ? ["jumped", r.from, r.seq]
          : [r.event, (r as { seq: number }).seq]
      );
    assert.deepEqual(events(forgedOn.name), [
      ["heartbeat", 1],
      ["heartbeat", 2],
      ["jumped", 2, 1e15 - 1],
      ["renumbered", 3], // sent after the jump, numbered in its gap
      ["heartbeat", 3],
      ["heartbeat", 4],
    ]);
    assert.deepEqual(
      events(jumper.name),
      [["heartbeat", 1], ["jumped", 1, 5000], ["heartbeat", 5001]],
    );
    const { clients } = (await server.stop()).heartbeats!;
    for (const client of clients) {
      assert.deepEqual(
        [client.lost, client.late, client.duplicates, client.tooOld],
        [0, 0, 0, 0],
        client.client,
      );
    }
    assert.deepEqual(clients.map((c) => c.received), [5, 3]);
  });
});

Deno.test("serveUdp() with heartbeat takes a client back at 1 with a later send time as a restart, not duplicates, and says when its clock is off", async () => {
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    const first = heartbeat(1, 50);
    for (const sent of [first, heartbeat(2, 40), heartbeat(3, 30)]) {
      await peer.send(sent);
    }
    await peer.send(first); // the same datagram again: a duplicate
    await peer.send(heartbeat(1)); // sent after 3: a restart
    await peer.send(heartbeat(2));
    // Stamped by a clock 8,595 ms ahead of this one.
    await peer.send(heartbeat(3, -8595));
    await server.until((r) =>
      r.event === "heartbeat" && r.seq === 3 &&
      r.delayMs < 0, "the heartbeat from the future");
    assert.deepEqual(server.events(), [
      ["heartbeat", 1],
      ["heartbeat", 2],
      ["heartbeat", 3],
      ["duplicate", 1],
      ["renumbered", 1],
      ["heartbeat", 1],
      ["heartbeat", 2],
      ["heartbeat", 3],
    ]);
    assert.equal((server.reports[4] as { from: number }).from, 3);
    assert.ok(
      server.reports[5].event === "heartbeat" && "delayMs" in server.reports[5],
    );
    const unsynchronised = server.reports.filter((r) =>
      (r as { clockNotSynchronised?: true }).clockNotSynchronised
    );
    assert.equal(unsynchronised.length, 1);
    assert.ok((unsynchronised[0] as { delayMs: number }).delayMs < -8000);
    const [client] = (await server.stop()).heartbeats!.clients;
    assert.deepEqual(
      [client.received, client.lost, client.duplicates, client.tooOld],
      [6, 0, 1, 0],
    );
  });
});

Deno.test("udp_server CLI --heartbeat answers a near heartbeat as a sentence and says it was not read, and says which delay is a clock's", async () => {
  const { server, to } = await startHeartbeatCli();
  const socket = udpSocket();
  const now = Math.floor(Date.now() / 1000);
  const near = [
    `heartbeat 1 ${now}`,
    `Heartbeat 1,${now}`,
    `Heartbeat 1 ${now}123`, // milliseconds
  ];
  let output;
  try {
    for (const sentence of near) {
      await socket.send(bytes(sentence), to);
      const [reply] = await withTimeout(socket.receive(), sentence);
      assert.equal(text(reply), sentence.toUpperCase());
    }
    await socket.send(heartbeat(1, -8595), to);
    await socket.send(bytes("after"), to);
    await withTimeout(socket.receive(), "the reply after the heartbeat");
  } finally {
    socket.close();
    output = await server.stop();
  }
  const lines = output.stdout.trimEnd().split("\n").slice(1);
  assert.deepEqual(
    lines.slice(0, 3),
    near.map((sentence) =>
      `Not read as a heartbeat from 127.0.0.1:${
        (socket.addr as Deno.NetAddr).port
      }: ${
        JSON.stringify(sentence)
      } (read: "Heartbeat SEQ TIME", TIME in seconds since 1970): answered as a sentence`
    ),
  );
  assert.match(
    lines[3],
    /^Heartbeat from 127\.0\.0\.1:\d+: seq=1 delay=-85\d\d\.\d{3} ms \(clock not synchronised: no network delay\)$/,
  );
});

Deno.test("serveUdp() with heartbeat undoes a forged restart when the client's numbering goes on", async () => {
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    const sent = [heartbeat(1, 50), heartbeat(2, 40), heartbeat(3, 30)];
    sent.push(heartbeat(1, -1000)); // forged: stamped after the others
    sent.push(heartbeat(4, 20), heartbeat(5, 10));
    for (const datagram of sent) await peer.send(datagram);
    await server.until((r) => r.event === "heartbeat" && r.seq === 5, "5");
    assert.deepEqual(server.events(), [
      ["heartbeat", 1],
      ["heartbeat", 2],
      ["heartbeat", 3],
      ["renumbered", 1],
      ["heartbeat", 1],
      ["renumbered", 4], // back to the numbering it left
      ["heartbeat", 4],
      ["heartbeat", 5],
    ]);
    const [client] = (await server.stop()).heartbeats!.clients;
    assert.deepEqual([client.lost, client.duplicates], [0, 0]);
  });
});

/**
 * `Heartbeat SEQ TIME` sent `atMs` ms after a start 10 s ago: a schedule
 * where each datagram's TIME is set, not read from the clock as it goes.
 */
function beatAt(start: number, seq: number, atMs: number): Uint8Array {
  return bytes(`Heartbeat ${seq} ${((start + atMs) / 1000).toFixed(6)}`);
}

/**
 * Sends `sent` from one client socket, one at a time (a burst would overflow
 * the socket buffer), each once the one before it is reported; gives the
 * reports and the client's summary.
 */
async function oneByOne(sent: Uint8Array[]) {
  let summary: HeartbeatClientStats | undefined;
  let events: ReturnType<ReturnType<typeof heartbeatServer>["events"]> = [];
  let reports: HeartbeatReport[] = [];
  await withHeartbeatServer(30, 1, async (server, [peer]) => {
    // Each heartbeat gets one report besides "lost" and "renumbered".
    const notes = ["lost", "renumbered"];
    const answered = () =>
      server.reports.filter((r) => !notes.includes(r.event)).length;
    for (const [i, datagram] of sent.entries()) {
      await peer.send(datagram);
      await server.until(() => answered() > i, `datagram ${i + 1}`);
    }
    events = server.events();
    reports = server.reports;
    [summary] = (await server.stop()).heartbeats!.clients;
  });
  return { summary: summary!, events, reports };
}

/**
 * Sends a client's real heartbeats `real` (one each 20 ms of TIME) with
 * `forged` ones (same address and port) after the first `after` of them,
 * stamped before the real ones that follow, as the red team's repros do;
 * gives the client's summary once the last has come.
 */
function realAndForged(real: number[], after: number, forged: number[]) {
  const start = Date.now() - 10_000;
  const sent = real.map((seq, i) => beatAt(start, seq, 20 * i + 20));
  sent.splice(
    after,
    0,
    ...forged.map((seq) => beatAt(start, seq, 20 * after + 10)),
  );
  return oneByOne(sent);
}

const range = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

Deno.test("serveUdp() with heartbeat takes one forged heartbeat 1,000 past the highest as a jump, and the real ones after it as received, none old (red team hb5)", async () => {
  const { summary, events } = await realAndForged(range(1, 53), 3, [1003]);
  assert.deepEqual(events.slice(0, 6), [
    ["heartbeat", 1],
    ["heartbeat", 2],
    ["heartbeat", 3],
    ["jumped", 1003], // exactly 1,000 past: a jump, never 999 lost
    ["renumbered", 4],
    ["heartbeat", 4],
  ]);
  assert.deepEqual(
    [
      summary.received,
      summary.lost,
      summary.late,
      summary.duplicates,
      summary.tooOld,
    ],
    [54, 0, 0, 0, 0],
  );
});

Deno.test("serveUdp() with heartbeat undoes the loss a forged heartbeat's gap counted once a real one in that gap is sent after it", async () => {
  // 999 past: under a jump, so 4-1001 are counted lost, until real 4 comes.
  const { summary, events } = await realAndForged(range(1, 53), 3, [1002]);
  assert.deepEqual(events.slice(3, 7), [
    ["lost", undefined],
    ["heartbeat", 1002],
    ["renumbered", 4],
    ["heartbeat", 4],
  ]);
  assert.deepEqual([summary.received, summary.lost, summary.tooOld], [
    54,
    0,
    0,
  ]);
});

Deno.test("serveUdp() with heartbeat follows the real numbering after two forged consecutive huge numbers (red team hb2, hb4)", async () => {
  for (const forged of [[500000, 500001], [999999999999998, 999999999999999]]) {
    const { summary, events } = await realAndForged(range(1, 53), 3, forged);
    assert.deepEqual(events.slice(3, 7), [
      ["jumped", forged[0]],
      ["heartbeat", forged[1]],
      ["renumbered", 4],
      ["heartbeat", 4],
    ]);
    assert.equal(events.filter(([event]) => event === "old").length, 0);
    assert.deepEqual(
      [summary.received, summary.lost, summary.duplicates, summary.tooOld],
      [55, 0, 0, 0],
      `${forged}`,
    );
  }
});

Deno.test("serveUdp() with heartbeat goes back to the real numbering after a forged restart pair, and counts nothing lost (red team hb3)", async () => {
  const { summary, events } = await realAndForged(range(1, 303), 300, [1, 2]);
  assert.deepEqual(events.slice(300), [
    ["renumbered", 1],
    ["heartbeat", 1],
    ["heartbeat", 2],
    ["renumbered", 301], // goes on from 300: back to it
    ["heartbeat", 301],
    ["heartbeat", 302],
    ["heartbeat", 303],
  ]);
  assert.deepEqual([summary.received, summary.lost, summary.duplicates], [
    305,
    0,
    0,
  ]);
});

Deno.test("serveUdp() with heartbeat still counts a real loss after a forged jump is left", async () => {
  // 4-9 really lost: the real 10 leaves the forged 1003, its gap counted now.
  const { summary, events } = await realAndForged([1, 2, 3, 10, 11], 3, [
    1003,
  ]);
  assert.deepEqual(events.slice(3), [
    ["jumped", 1003],
    ["renumbered", 10],
    ["lost", undefined],
    ["heartbeat", 10],
    ["heartbeat", 11],
  ]);
  assert.deepEqual([summary.received, summary.lost], [6, 6]);
});

/** The counts of a client's summary that a forged heartbeat must not spoil. */
const counts = (s: HeartbeatClientStats) => ({
  received: s.received,
  lost: s.lost,
  late: s.late,
  duplicates: s.duplicates,
  tooOld: s.tooOld,
});

/**
 * Real heartbeats 1-53 stamped now (one each 2 ms), and after 3 one forged
 * heartbeat `seq` stamped `aheadMs` ahead of the server's clock.
 */
function withFutureForged(seq: number, aheadMs: number) {
  const start = Date.now();
  const sent = range(1, 53).map((n) => beatAt(start, n, 2 * n - 200));
  sent.splice(3, 0, beatAt(start, seq, aheadMs));
  return oneByOne(sent);
}

/**
 * How counting takes the real 4 on after a forged TIME `aheadMs` ahead: at
 * once when that TIME is too far ahead to be a client's, else by the third
 * heartbeat in a row below it.
 */
function assertHealed(
  events: ReturnType<ReturnType<typeof heartbeatServer>["events"]>,
  aheadMs: number,
) {
  const i = events.findIndex(([, seq]) => seq === 4);
  assert.deepEqual(
    events.slice(i, i + 4),
    aheadMs > 60_000
      ? [["renumbered", 4], ["heartbeat", 4], ["heartbeat", 5], [
        "heartbeat",
        6,
      ]]
      : [["old", 4], ["old", 5], ["renumbered", 6], ["heartbeat", 6]],
    `${aheadMs} ms ahead`,
  );
}

Deno.test("serveUdp() with heartbeat heals from one forged jump with a TIME in the future: the real ones after it received, none left counted old (red team hb_future jump)", async () => {
  const year2100 = Date.UTC(2100, 0, 1) - Date.now();
  for (const aheadMs of [year2100, 86_400_000, 5000]) {
    const { summary, events } = await withFutureForged(1e15 - 1, aheadMs);
    assertHealed(events, aheadMs);
    assert.deepEqual(
      counts(summary),
      { received: 54, lost: 0, late: 0, duplicates: 0, tooOld: 0 },
      `${aheadMs} ms ahead`,
    );
  }
});

Deno.test("serveUdp() with heartbeat heals from one forged heartbeat 1002 with a TIME in the future: nothing left counted lost or old (red team hb_future gap, near)", async () => {
  for (const aheadMs of [86_400_000, 5000]) {
    const { summary, events } = await withFutureForged(1002, aheadMs);
    assertHealed(events, aheadMs);
    assert.deepEqual(
      counts(summary),
      { received: 54, lost: 0, late: 0, duplicates: 0, tooOld: 0 },
      `${aheadMs} ms ahead`,
    );
    // Within three heartbeats, counting follows the real ones again.
    assert.deepEqual(
      events.slice(-3),
      [["heartbeat", 51], ["heartbeat", 52], ["heartbeat", 53]],
    );
  }
});

Deno.test("serveUdp() with heartbeat takes a forger sending each SEQ just before the client as duplicates, each number received once, never renumbered (red team hb_preempt)", async () => {
  for (const aheadMs of [-1, 50]) {
    const start = Date.now() - 10_000;
    const sent = [beatAt(start, 1, 0)];
    for (const seq of range(2, 11)) {
      sent.push(beatAt(start, seq, 100 * seq + aheadMs)); // forged
      sent.push(beatAt(start, seq, 100 * seq)); // the client's
    }
    // The forger stops; the client goes on.
    for (const seq of range(12, 14)) sent.push(beatAt(start, seq, 100 * seq));
    const { summary, events } = await oneByOne(sent);
    assert.equal(events.filter(([event]) => event === "renumbered").length, 0);
    assert.deepEqual(
      counts(summary),
      { received: 14, lost: 0, late: 0, duplicates: 10, tooOld: 0 },
      `forged ${aheadMs} ms ahead`,
    );
    assert.deepEqual(
      events.slice(-3),
      [["heartbeat", 12], ["heartbeat", 13], ["heartbeat", 14]],
    );
  }
});

Deno.test("serveUdp() with heartbeat reads a TIME with any number of decimals (red team hb_near)", async () => {
  const seconds = (Date.now() / 1000).toFixed(6);
  const { reports } = await oneByOne([
    bytes(`Heartbeat 1 ${seconds}1234`), // 10 decimals
    bytes(`Heartbeat 2 ${seconds}${"0".repeat(30)}`),
    bytes(`Heartbeat 3 ${seconds.split(".")[0]}.5`),
  ]);
  assert.deepEqual(
    reports.map((r) => [r.event, (r as { seq?: number }).seq]),
    [["heartbeat", 1], ["heartbeat", 2], ["heartbeat", 3]],
  );
  const { delayMs } = reports[0] as { delayMs: number };
  assert.ok(delayMs >= 0 && delayMs < 5000, `${delayMs}`);
});

Deno.test("serveUdp() with heartbeat counts three real heartbeats overtaken by a later one as received, nothing lost, and goes back to its numbering", async () => {
  const start = Date.now() - 10_000;
  const at = (seq: number) => beatAt(start, seq, 20 * seq);
  // 4, 5, 6 overtaken by 7: the third in a row below 7 is taken as a
  // numbering (it may be a forger's 7); 8 goes on from 7, back to it.
  const { summary, events } = await oneByOne([1, 2, 3, 7, 4, 5, 6, 8].map(at));
  assert.deepEqual(events.slice(3), [
    ["lost", undefined],
    ["heartbeat", 7],
    ["late", 4],
    ["late", 5],
    ["renumbered", 6],
    ["heartbeat", 6],
    ["renumbered", 8],
    ["heartbeat", 8],
  ]);
  assert.deepEqual(
    counts(summary),
    { received: 8, lost: 0, late: 0, duplicates: 0, tooOld: 0 },
  );
});
