/**
 * A client that floods a server with one kind of bytes, as fast as it can:
 * the hostile or merely busy peer of the fairness tests. A separate process,
 * so that the server under test shares nothing with it.
 *
 *   deno run --allow-net tests/peers/flood.ts tcp|udp PORT KIND SECONDS [--connections N] [--no-read]
 *
 * KIND is `ascii`, `greek`, `invalid` (the bytes ff 61 repeated) or
 * `codepoints` (random characters, the costliest to upper-case). Over TCP
 * each connection streams KIND and reads its replies, or with `--no-read`
 * never reads: it writes until the server stops taking bytes. Over UDP it
 * sends datagrams of 65,507 bytes and reads what comes back.
 *
 * Prints `flooding` once every connection has had a reply (with `--no-read`:
 * `stalled` once every connection's writes have waited 0.5 s), then, after
 * SECONDS, `sent N received M` (bytes) and exits.
 *
 * @module
 */

const [transport, portText, kind, secondsText, ...flags] = Deno.args;
const port = Number(portText);
const connections = flags.includes("--connections")
  ? Number(flags[flags.indexOf("--connections") + 1])
  : 1;
const noRead = flags.includes("--no-read");
const until = Date.now() + Number(secondsText) * 1000;

const units: Record<string, Uint8Array> = {
  ascii: new TextEncoder().encode("plain ascii text\n"),
  greek: new TextEncoder().encode("ΐ αβγ δεζ\n"),
  invalid: new Uint8Array([0xff, 0x61]),
};
// `codepoints`: random characters from U+0080 to U+FFFF, the costliest
// text to upper-case, one table look-up each.
units.codepoints = new TextEncoder().encode(
  Array.from({ length: 4096 }, () => {
    const codePoint = 0x80 + Math.floor(Math.random() * (0xffff - 0x80));
    return codePoint >= 0xd800 && codePoint <= 0xdfff
      ? "\u00e9"
      : String.fromCharCode(codePoint);
  }).join(""),
);
const unit = units[kind];
const payload = new Uint8Array(
  transport === "udp" ? 65_506 : 64 * 1024 - (64 * 1024) % unit.length,
);
for (let i = 0; i < payload.length; i++) payload[i] = unit[i % unit.length];

let sent = 0;
let received = 0;

/** Prints `line` once each of `count` connections has called `ready` once. */
function whenAll(count: number, line: string): () => () => void {
  let left = count;
  return () => {
    let called = false;
    return () => {
      if (called) return;
      called = true;
      if (--left === 0) console.log(line);
    };
  };
}

/** What `promise` resolves with, or `null` if it fails or SECONDS are up first. */
async function beforeTheEnd<T>(promise: Promise<T>): Promise<T | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const end = new Promise<null>((resolve) => {
    timer = setTimeout(() => resolve(null), Math.max(0, until - Date.now()));
  });
  try {
    return await Promise.race([promise, end]).catch(() => null);
  } finally {
    clearTimeout(timer);
  }
}

async function floodTcp(ready: () => void) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reading = (async () => {
    if (noRead) return;
    const buffer = new Uint8Array(256 * 1024);
    while (true) {
      const count = await conn.read(buffer).catch(() => null);
      if (count === null) return;
      received += count;
      ready();
    }
  })();
  try {
    while (Date.now() < until) {
      const stalled = noRead ? setTimeout(ready, 500) : undefined;
      const written = await beforeTheEnd(conn.write(payload));
      clearTimeout(stalled);
      if (written === null) break;
      sent += written;
    }
  } finally {
    conn.close();
    await reading;
  }
}

async function floodUdp(ready: () => void) {
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "127.0.0.1",
    port: 0,
  });
  const server = { transport: "udp" as const, hostname: "127.0.0.1", port };
  const reading = (async () => {
    while (true) {
      const [data] = await socket.receive().catch(() => [null]);
      if (data === null) return;
      received += data.length;
      ready();
    }
  })();
  try {
    for (let count = 1; Date.now() < until; count++) {
      // Refused (the server is gone): the flood is over.
      const written = await socket.send(payload, server).catch(() => null);
      if (written === null) break;
      sent += written;
      // Sends complete at once: let the replies be read now and then.
      if (count % 16 === 0) await new Promise((r) => setTimeout(r, 0));
    }
  } finally {
    socket.close();
    await reading;
  }
}

const readyFor = whenAll(connections, noRead ? "stalled" : "flooding");
const floods = Array.from(
  { length: connections },
  () => transport === "udp" ? floodUdp(readyFor()) : floodTcp(readyFor()),
);
await Promise.allSettled(floods);
console.log(`sent ${sent} received ${received}`);
Deno.exit(0);
