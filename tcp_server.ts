#!/usr/bin/env -S deno run --allow-net
/**
 * TCP server of Kurose & Ross, section 2.7.2 (`TCPServer.py`), in Deno.
 *
 * A welcoming socket accepts clients; each gets a connection socket of its
 * own, served at the same time as every other. Every byte a client sends
 * comes back upper-cased as it arrives, until the client closes (or
 * half-closes) its side.
 *
 * ```sh
 * deno run --allow-net tcp_server.ts --port 12000
 * ```
 *
 * Run `deno run --allow-net tcp_server.ts --help` for the options. Imported
 * as a module, it exports {@linkcode serveTcp}.
 *
 * @module
 */
import { parseArgs } from "node:util";

/**
 * Bytes read at a time: a connection starts small, so thousands of idle
 * clients cost little, and the buffer grows while reads fill it, so bulk
 * text moves in large reads. With its reply, what a connection holds at most.
 */
const MIN_READ_SIZE = 2 * 1024;
const MAX_READ_SIZE = 256 * 1024;
/** Error lines logged per second at most, so a hostile peer cannot flood stderr. */
const ERROR_LINES_PER_SECOND = 10;
/** How long a pause in accepting lasts after a failed accept (out of files). */
const ACCEPT_RETRY_MS = 100;
const RUN_LINE = "deno run --allow-net tcp_server.ts";

/** Options of {@linkcode serveTcp}. */
export interface TcpServerOptions {
  /** Address to bind; `0.0.0.0` (every IPv4 address) as the textbook's `''`. */
  hostname?: string;
  /** Port to bind; 0 lets the system pick a free one. Default 12000. */
  port?: number;
  /** Connections served at once; more are closed at once. Default 1000. */
  maxConnections?: number;
  /** Seconds a connection may go without a byte moving; 0 never. Default 60. */
  idleTimeout?: number;
  /** Seconds replies in flight may take to finish at shutdown. Default 5. */
  shutdownTimeout?: number;
  /** Log each socket step: bind, listen, accept, every recv and send, close. */
  verbose?: boolean;
  /** Stops the server: no new connections, open ones finish, then it ends. */
  signal?: AbortSignal;
  /** Where log lines go; `console.error` by default. */
  log?: (line: string) => void;
}

/** What a server did, resolved by {@linkcode TcpServer.finished}. */
export interface TcpServerStats {
  /** Connections accepted and served. */
  connections: number;
  /** Connections closed at once because `maxConnections` were open. */
  refused: number;
  /** Connections closed by `idleTimeout`. */
  timedOut: number;
  /** Connections that failed (reset by the client, or an error). */
  failed: number;
  /** Bytes received from clients. */
  bytesIn: number;
  /** Bytes sent back. */
  bytesOut: number;
}

/** A running server, returned by {@linkcode serveTcp}. */
export interface TcpServer {
  /** The bound address; its `port` is the real one when 0 was asked for. */
  addr: Deno.NetAddr;
  /** Resolves with the statistics once the server and its connections end. */
  finished: Promise<TcpServerStats>;
}

/** One client's connection, as the server tracks it. */
interface Connection {
  socket: Deno.TcpConn;
  /** A byte moved since the last sweep. */
  active: boolean;
  /** When the sweeper last saw it active. */
  lastActive: number;
  /** A reply is being written; shutdown lets it finish. */
  writing: boolean;
  closed: boolean;
  /** Why the server closed it early, if it did. */
  closedBy?: "idle timeout" | "shutdown";
}

/**
 * Binds a TCP welcoming socket and serves every client that connects until
 * `options.signal` aborts.
 *
 * Throws at once if the socket cannot be bound (address in use, no
 * permission).
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const server = serveTcp({ port: 0, signal: controller.signal });
 * console.log(server.addr.port);
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveTcp(options: TcpServerOptions = {}): TcpServer {
  const {
    hostname = "0.0.0.0",
    port = 12000,
    maxConnections = 1000,
    signal,
  } = options;
  const idleMs = (options.idleTimeout ?? 60) * 1000;
  const shutdownMs = (options.shutdownTimeout ?? 5) * 1000;
  const log = options.log ?? ((line: string) => console.error(line));
  const logError = rateLimited(log, ERROR_LINES_PER_SECOND);
  signal?.throwIfAborted();

  // serverSocket = socket(AF_INET, SOCK_STREAM)
  // serverSocket.bind(('', serverPort)); serverSocket.listen(1)
  const welcomingSocket = Deno.listen({ hostname, port });
  const addr = welcomingSocket.addr;
  // --verbose shows each socket call as it happens, in the textbook's words.
  const step = options.verbose ? log : undefined;
  step?.(`socket(AF_INET, SOCK_STREAM), bind, listen: ${formatAddress(addr)}`);

  const stats: TcpServerStats = {
    connections: 0,
    refused: 0,
    timedOut: 0,
    failed: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  const connections = new Set<Connection>();
  const serving = new Set<Promise<void>>();
  let stopping = false;

  function close(connection: Connection, reason?: Connection["closedBy"]) {
    if (connection.closed) return;
    connection.closed = true;
    connection.closedBy = reason;
    connection.socket.close();
  }

  // One sweep closes every idle connection: cheaper than a timer, or even a
  // clock reading, per read.
  const sweeper = idleMs > 0
    ? setInterval(() => {
      const now = Date.now();
      for (const connection of connections) {
        if (connection.active) {
          connection.active = false;
          connection.lastActive = now;
        } else if (now - connection.lastActive >= idleMs) {
          close(connection, "idle timeout");
        }
      }
    }, Math.min(1000, Math.max(10, idleMs / 4)))
    : undefined;

  let shutdownTimer: ReturnType<typeof setTimeout> | undefined;
  function stop() {
    if (stopping) return;
    stopping = true;
    try {
      welcomingSocket.close();
    } catch {
      // already closed: accept failed for good
    }
    // Connections waiting for a request close now; replies in flight may
    // finish, for `shutdownTimeout` at most.
    for (const connection of connections) {
      if (!connection.writing) close(connection, "shutdown");
    }
    shutdownTimer = setTimeout(() => {
      for (const connection of connections) close(connection, "shutdown");
    }, shutdownMs);
  }
  signal?.addEventListener("abort", stop, { once: true });

  async function serveConnection(connectionSocket: Deno.TcpConn) {
    const client = formatAddress(connectionSocket.remoteAddr);
    const connection: Connection = {
      socket: connectionSocket,
      active: false,
      lastActive: Date.now(),
      writing: false,
      closed: false,
    };
    connections.add(connection);
    stats.connections++;
    step?.(`accept: a connection socket for ${client}`);
    let buffer = new Uint8Array(MIN_READ_SIZE);
    const upperCaser = createUpperCaser();
    let bytesIn = 0;
    let bytesOut = 0;
    let ending = "closed by the client";

    async function send(data: Uint8Array) {
      connection.writing = true;
      for (let sent = 0; sent < data.length;) {
        const written = await connectionSocket.write(data.subarray(sent));
        sent += written;
        connection.active = true;
        step?.(`send: ${written} bytes to ${client}`);
      }
      connection.writing = false;
      bytesOut += data.length;
    }

    try {
      while (!stopping) {
        // sentence = connectionSocket.recv(1024)
        const received = await connectionSocket.read(buffer);
        if (received === null) {
          step?.(`recv: end of stream, ${client} closed its side`);
          break;
        }
        connection.active = true;
        step?.(`recv: ${received} bytes from ${client}`);
        bytesIn += received;
        // capitalizedSentence = sentence.upper()
        const capitalizedSentence = upperCaser.push(
          buffer.subarray(0, received),
        );
        // connectionSocket.send(capitalizedSentence.encode())
        await send(capitalizedSentence);
        // The reply may have been the buffer itself: grow only once it is sent.
        if (received === buffer.length && buffer.length < MAX_READ_SIZE) {
          buffer = new Uint8Array(buffer.length * 4);
        }
      }
      // An unfinished UTF-8 sequence at the very end goes back unchanged.
      await send(upperCaser.flush());
    } catch (error) {
      if (connection.closedBy === "idle timeout") {
        stats.timedOut++;
        ending = `idle for ${idleMs / 1000} s, closed`;
      } else if (connection.closedBy === "shutdown") {
        ending = "closed by the server's shutdown";
      } else {
        stats.failed++;
        ending = describe(error);
        if (
          !(error instanceof Deno.errors.ConnectionReset ||
            error instanceof Deno.errors.BrokenPipe)
        ) {
          logError(`${client}: ${ending}`);
        }
      }
    } finally {
      // connectionSocket.close()
      close(connection);
      connections.delete(connection);
      stats.bytesIn += bytesIn;
      stats.bytesOut += bytesOut;
      step?.(
        `close: ${client}, ${bytesIn} bytes in, ${bytesOut} out, ${ending}`,
      );
    }
  }

  async function acceptLoop() {
    while (!stopping) {
      let connectionSocket: Deno.TcpConn;
      try {
        // connectionSocket, addr = serverSocket.accept()
        connectionSocket = await welcomingSocket.accept();
      } catch (error) {
        if (stopping) break;
        if (error instanceof Deno.errors.BadResource) throw error;
        logError(`accept failed: ${describe(error)}`);
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
        continue;
      }
      if (connections.size >= maxConnections) {
        stats.refused++;
        logError(
          `${formatAddress(connectionSocket.remoteAddr)}: refused, ` +
            `${maxConnections} connections open (--max-connections)`,
        );
        connectionSocket.close();
        continue;
      }
      const task = serveConnection(connectionSocket);
      serving.add(task);
      task.finally(() => serving.delete(task));
    }
  }

  async function serve(): Promise<TcpServerStats> {
    try {
      await acceptLoop();
    } finally {
      stop();
      while (serving.size > 0) await Promise.all(serving);
      clearInterval(sweeper);
      clearTimeout(shutdownTimer);
      step?.(`close: the welcoming socket ${formatAddress(addr)}`);
      signal?.removeEventListener("abort", stop);
      const suppressed = logError.suppressed();
      if (suppressed > 0) log(`${suppressed} more error lines were suppressed`);
    }
    return stats;
  }

  return { addr, finished: serve() };
}

const NOTHING: Uint8Array = new Uint8Array(0);

/**
 * Upper-cases a byte stream chunk by chunk. A UTF-8 character split across
 * two reads is held back until its last byte arrives, so it is upper-cased
 * whole; everything else goes out as soon as it comes in. An ASCII chunk is
 * upper-cased where it lies, so the common case allocates nothing.
 */
function createUpperCaser() {
  let held = NOTHING;
  return {
    push(chunk: Uint8Array): Uint8Array {
      let done: Uint8Array = NOTHING;
      if (held.length === 0) {
        const ascii = upperCaseAsciiPrefixInPlace(chunk);
        if (ascii === chunk.length) return chunk;
        done = chunk.subarray(0, ascii);
        chunk = chunk.subarray(ascii);
      }
      const data = held.length > 0 ? concat(held, chunk) : chunk;
      const complete = completeLength(data);
      held = complete === data.length ? NOTHING : data.slice(complete);
      const upper = upperCase(data.subarray(0, complete));
      return done.length > 0 ? concat(done, upper) : upper;
    },
    flush(): Uint8Array {
      const rest = held;
      held = NOTHING;
      return rest;
    },
  };
}

/**
 * Upper-cases the ASCII bytes at the start of `bytes` where they lie and
 * returns how many there were: all of them, for ASCII text.
 */
function upperCaseAsciiPrefixInPlace(bytes: Uint8Array): number {
  let i = 0;
  if (bytes.byteOffset % 4 === 0) {
    // Four bytes at a time: a high bit in `lower` marks each byte from "a"
    // (0x61) to "z" (0x7a), and 0x80 >>> 2 is the 0x20 that upper-cases it.
    const words = new Uint32Array(
      bytes.buffer,
      bytes.byteOffset,
      bytes.length >>> 2,
    );
    for (; i < words.length; i++) {
      const word = words[i];
      if (word & 0x80808080) break;
      const lower = (word + 0x1f1f1f1f) & ~(word + 0x05050505) & 0x80808080;
      words[i] = word ^ (lower >>> 2);
    }
    i *= 4;
  }
  for (; i < bytes.length; i++) {
    const byte = bytes[i];
    if (byte >= 0x80) return i;
    if (byte >= 0x61 && byte <= 0x7a) bytes[i] = byte - 0x20;
  }
  return bytes.length;
}

/** All of `data` but a UTF-8 sequence that its last bytes start and leave unfinished. */
function completeLength(data: Uint8Array): number {
  for (let back = 1; back <= Math.min(3, data.length); back++) {
    const byte = data[data.length - back];
    if ((byte & 0xc0) === 0x80) continue; // a continuation byte: look further
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? data.length - back : data.length;
  }
  return data.length;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

const encoder = new TextEncoder();
// fatal: invalid bytes are handled by hand; ignoreBOM: a leading BOM is kept.
const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * Upper-cases UTF-8 text as Python's `str.upper()` does (`"straße"` becomes
 * `"STRASSE"`), returning bytes that are not valid UTF-8 unchanged.
 */
export function upperCase(message: Uint8Array): Uint8Array {
  let ascii = true;
  for (let i = 0; i < message.length; i++) {
    if (message[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    // Most traffic is ASCII: one pass, no decoding.
    const upper = new Uint8Array(message.length);
    for (let i = 0; i < message.length; i++) {
      const byte = message[i];
      upper[i] = byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte;
    }
    return upper;
  }
  try {
    return encoder.encode(decoder.decode(message).toUpperCase());
  } catch {
    return upperCaseMixed(message);
  }
}

/** Upper-cases each valid UTF-8 run and copies every invalid byte as it is. */
function upperCaseMixed(message: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let runStart = 0;
  let i = 0;
  while (i < message.length) {
    const length = utf8SequenceLength(message, i);
    if (length > 0) {
      i += length;
      continue;
    }
    if (i > runStart) {
      const text = decoder.decode(message.subarray(runStart, i));
      parts.push(encoder.encode(text.toUpperCase()));
    }
    parts.push(message.subarray(i, i + 1));
    i++;
    runStart = i;
  }
  if (i > runStart) {
    const text = decoder.decode(message.subarray(runStart, i));
    parts.push(encoder.encode(text.toUpperCase()));
  }
  const upper = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    upper.set(part, offset);
    offset += part.length;
  }
  return upper;
}

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[start]`
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF), or 0.
 */
function utf8SequenceLength(bytes: Uint8Array, start: number): number {
  const lead = bytes[start];
  if (lead < 0x80) return 1;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    length = 2;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (start + length > bytes.length) return 0;
  const second = bytes[start + 1];
  if (second < low || second > high) return 0;
  for (let k = 2; k < length; k++) {
    if ((bytes[start + k] & 0xc0) !== 0x80) return 0;
  }
  return length;
}

/** Wraps `log` so that at most `perSecond` lines pass each second. */
function rateLimited(log: (line: string) => void, perSecond: number) {
  let windowStart = 0;
  let inWindow = 0;
  let suppressed = 0;
  function limited(line: string) {
    const now = Date.now();
    if (now - windowStart >= 1000) {
      windowStart = now;
      inWindow = 0;
    }
    if (inWindow++ < perSecond) log(line);
    else suppressed++;
  }
  limited.suppressed = () => suppressed;
  return limited;
}

/** `HOST:PORT`, with IPv6 hosts in brackets as in URLs. */
function formatAddress(addr: { hostname: string; port: number }): string {
  const host = addr.hostname.includes(":")
    ? `[${addr.hostname}]`
    : addr.hostname;
  return `${host}:${addr.port}`;
}

/** The command that runs this program with its permissions. */
function runHint(): string {
  return Deno.build.standalone
    ? "rebuild it with deno compile --allow-net tcp_server.ts"
    : RUN_LINE;
}

/** One line that says what went wrong and, where it helps, what to do. */
function describe(error: unknown, hostname?: string, port?: number): string {
  const where = hostname === undefined
    ? "the address"
    : formatAddress({ hostname, port: port ?? 0 });
  if (error instanceof Deno.errors.NotCapable) {
    return `network access was not granted: ${runHint()}`;
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return `${where} is already in use: stop the other server or choose another --port`;
  }
  if (error instanceof Deno.errors.AddrNotAvailable) {
    return `${where} is not an address of this machine: use 0.0.0.0, :: or one of its addresses`;
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return `not allowed to bind ${where}: ports below 1024 need root, choose --port 1024 or above`;
  }
  if (error instanceof Deno.errors.ConnectionReset) {
    return "connection reset by the client";
  }
  const message = error instanceof Error ? error.message : String(error);
  if (message.includes("failed to lookup address")) {
    return `cannot resolve host ${hostname}: check --host`;
  }
  return message;
}

const HELP = `Usage: tcp_server.ts [options]

The TCP server of Kurose & Ross 2.7.2 (TCPServer.py): every client gets a
connection of its own; every byte it sends comes back upper-cased, until it
closes its side.

Options:
      --host HOST             address to bind (default 0.0.0.0, every IPv4
                              address; :: for IPv6 too; 127.0.0.1 for this
                              machine only)
  -p, --port PORT             port to bind, 0 for any free one (default 12000)
      --max-connections N     clients served at once; more are closed at
                              once (default 1000)
      --idle-timeout SECONDS  close a connection when no byte has moved for
                              this long, 0 never (default 60)
  -v, --verbose               show each socket step on stderr: bind, listen,
                              accept, every recv and send with its bytes,
                              close
  -h, --help                  show this help

Prints "The server is ready to receive on HOST:PORT" once bound; stops on
Ctrl-C or SIGTERM, letting replies in flight finish, with a one-line summary
on stderr.

Example:
  ${RUN_LINE} --port 12000
`;

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        host: { type: "string", default: "0.0.0.0" },
        port: { type: "string", short: "p", default: "12000" },
        "max-connections": { type: "string", default: "1000" },
        "idle-timeout": { type: "string", default: "60" },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return usageError((error as Error).message.split(/\.\s/)[0]);
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port > 65535) {
    return usageError(
      `--port must be a number from 0 to 65535, not ${values.port}`,
    );
  }
  const maxConnections = Number(values["max-connections"]);
  if (!/^\d+$/.test(values["max-connections"]) || maxConnections < 1) {
    return usageError(
      `--max-connections must be a whole number above 0, not ${
        values["max-connections"]
      }`,
    );
  }
  const idleTimeout = Number(values["idle-timeout"]);
  if (values["idle-timeout"].trim() === "" || !(idleTimeout >= 0)) {
    return usageError(
      `--idle-timeout must be seconds, 0 or more, not ${
        values["idle-timeout"]
      }`,
    );
  }

  const controller = new AbortController();
  const signals: Deno.Signal[] = Deno.build.os === "windows"
    ? ["SIGINT"]
    : ["SIGINT", "SIGTERM"];
  function onSignal() {
    // A second Ctrl-C stops at once, in case shutting down takes too long.
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  }
  for (const name of signals) Deno.addSignalListener(name, onSignal);

  let server: TcpServer;
  try {
    server = serveTcp({
      hostname: values.host,
      port,
      maxConnections,
      idleTimeout,
      verbose: values.verbose,
      signal: controller.signal,
    });
  } catch (error) {
    console.error(`tcp_server: ${describe(error, values.host, port)}`);
    return 1;
  }
  // print('The server is ready to receive')
  console.log(
    `The server is ready to receive on ${formatAddress(server.addr)}`,
  );

  const stats = await server.finished;
  for (const name of signals) Deno.removeSignalListener(name, onSignal);
  console.error(
    `tcp_server: served ${stats.connections} connections, ` +
      `refused ${stats.refused}, timed out ${stats.timedOut}, ` +
      `failed ${stats.failed}; ${stats.bytesIn} bytes in, ${stats.bytesOut} out`,
  );
  return 0;
}

function usageError(message: string): number {
  console.error(`tcp_server: ${message} (see --help)`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
