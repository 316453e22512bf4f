#!/usr/bin/env -S deno run --allow-net --unstable-net
/**
 * `UDPServer.py` of Kurose & Ross, section 2.7.1, in Deno. One UDP socket
 * receives datagrams from any client, upper-cases each one and sends it
 * back to the address it came from.
 *
 * ```sh
 * deno run --allow-net --unstable-net udp_server.ts --port 12000
 * ```
 *
 * `--help` lists the options. As a module it exports {@linkcode serveUdp}.
 * The textbook's program alone: `textbook/UDPServer.ts`. Licence: 0BSD.
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

// ===========================================================================
// The main flow: UDPServer.py, in the order it runs
// ===========================================================================

/**
 * Binds a UDP socket and serves it until `options.signal` aborts: every
 * datagram is answered with its upper-cased copy, sent to its source address.
 * Throws at once if the socket cannot be bound (address in use, no
 * permission, `--unstable-net` missing).
 *
 * @example
 * ```ts
 * const controller = new AbortController();
 * const server = serveUdp({ port: 0, signal: controller.signal });
 * console.log(server.addr.port);
 * controller.abort();
 * await server.finished;
 * ```
 */
export function serveUdp(options: UdpServerOptions = {}): UdpServer {
  requireUdp();
  options.signal?.throwIfAborted();
  // UDPServer.py: serverPort = 12000
  const { hostname = "0.0.0.0", port = 12000 } = options;
  // UDPServer.py: serverSocket = socket(AF_INET, SOCK_DGRAM)
  // UDPServer.py: serverSocket.bind(('', serverPort))
  const serverSocket = Deno.listenDatagram({
    transport: "udp",
    hostname,
    port,
  });
  // UDPServer.py: print("The server is ready to receive")
  announce(serverSocket, options.onListen);
  const server = new Server(serverSocket, options);
  return { addr: server.addr, finished: serve(server) };
}

/** Answers every datagram until the server stops. */
async function serve(server: Server): Promise<UdpServerStats> {
  const serverSocket = server.serverSocket;
  // One buffer for every datagram: no allocation per receive.
  const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
  // UDPServer.py: while True:
  while (!server.stopping) {
    let received: [Uint8Array, Deno.Addr];
    try {
      // UDPServer.py: message, clientAddress = serverSocket.recvfrom(2048)
      received = await serverSocket.receive(buffer);
    } catch (error) {
      if (server.receiveFailed(error)) break;
      continue;
    }
    const [message, from] = received;
    const clientAddress = from as Deno.NetAddr;
    if (!server.wantsReply(message, clientAddress)) continue;
    // UDPServer.py: modifiedMessage = message.decode().upper()
    const modifiedMessage = server.upperCase(message, clientAddress);
    if (modifiedMessage === undefined) continue; // larger than a datagram
    // UDPServer.py: serverSocket.sendto(modifiedMessage.encode(), clientAddress)
    const sending = serverSocket.send(modifiedMessage, clientAddress);
    await server.whenSent(sending, modifiedMessage.length, clientAddress);
    // No turns to hand out, unlike tcp_server: every receive waits on the
    // event loop, where timers and signals run, and the clients share one
    // queue in the system, answered in the order their datagrams came.
  }
  server.finish();
  return server.stats;
}

// ===========================================================================
// The command line
// ===========================================================================

const PROGRAM = "udp_server";
const RUN_LINE = "deno run --allow-net --unstable-net udp_server.ts";
/** How the help names it: the script, or a compiled binary by its name. */
const RUN_AS = Deno.build.standalone
  ? `./${Deno.execPath().split(/[\\/]/).pop()}`
  : RUN_LINE;

const HELP = `Usage: ${
  Deno.build.standalone ? RUN_AS.slice(2) : "udp_server.ts"
} [options]

The UDP server of Kurose & Ross 2.7.1 (UDPServer.py): every datagram that
arrives is sent back upper-cased to the address it came from.

Options:
      --host HOST        address to bind (default 0.0.0.0, every IPv4
                         address; :: for IPv6 too; 127.0.0.1 for this
                         machine only)
  -p, --port PORT        port to bind, 0 for any free one (default 12000)
      --drop-rate R      drop this fraction of datagrams, 0 to 1 (default 0)
      --seed N           make --drop-rate drop the same datagrams every run
      --heartbeat SECONDS
                         the UDP Heartbeat exercise: watch "Heartbeat SEQ
                         TIME" datagrams, TIME in seconds since 1970 (no
                         reply): report each one's delay, the heartbeats
                         lost, and a client silent this long as stopped;
                         one near that format is answered, said unread
      --json             heartbeat reports as JSON, one object a line
  -v, --verbose          show each socket step on stderr, each line starting
                         with its time (ISO 8601, UTC): bind, every recvfrom
                         and sendto with its size in bytes, close
  -h, --help             show this help

Prints "The server is ready to receive on HOST:PORT" once bound; stops on
Ctrl-C or SIGTERM with a one-line summary on stderr.

Example:
  ${RUN_AS} --port 12000
  ${RUN_AS} --drop-rate 0.36 --seed 1   # the UDP Pinger lab's loss
  ${RUN_AS} --heartbeat 3   # with udp_client.ts --heartbeat
`;

const OPTIONS = {
  host: { type: "string", default: "0.0.0.0" },
  port: { type: "string", short: "p", default: "12000" },
  "drop-rate": { type: "string" },
  seed: { type: "string" },
  heartbeat: { type: "string" },
  json: { type: "boolean", default: false },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  let options: UdpServerOptions;
  let json: boolean;
  try {
    const { values } = parseCommandLine(args, OPTIONS, false);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    checkHost(values.host);
    const numbers = parseNumbers(values, {
      port: { min: 0, max: 65535 },
      "drop-rate": { min: 0, max: 1, decimals: 6, unit: "a fraction" },
      seed: { min: 0, max: 4_294_967_295 },
      heartbeat: { min: 0.01, max: 86_400, decimals: 3, unit: "seconds" },
    });
    if (numbers.seed !== undefined && numbers["drop-rate"] === undefined) {
      throw new UsageError(
        "--seed picks the datagrams --drop-rate drops: add --drop-rate",
      );
    }
    if (values.json && numbers.heartbeat === undefined) {
      throw new UsageError("--json prints heartbeat reports: add --heartbeat");
    }
    json = values.json;
    options = {
      hostname: values.host,
      port: numbers.port,
      dropRate: numbers["drop-rate"],
      seed: numbers.seed,
      heartbeat: numbers.heartbeat,
      onHeartbeat: values.json
        ? (report) => printReport(JSON.stringify(report), true)
        : undefined,
      verbose: values.verbose,
    };
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    throw error;
  }
  return await run(options, json);
}

/** Serves until Ctrl-C or SIGTERM, then prints the summary. */
async function run(options: UdpServerOptions, json: boolean): Promise<number> {
  const shutdown = shutdownSignal();
  let server: UdpServer;
  try {
    requireNetAccess(options); // a one-line error, never Deno's prompt
    server = serveUdp({
      ...options,
      signal: shutdown.signal,
      onListen: (addr) => console.log(readyLine(addr, json)),
    });
  } catch (error) {
    shutdown.dispose();
    console.error(
      `${PROGRAM}: ${explainError(error, options.hostname, options.port)}`,
    );
    return 1;
  }
  const stats = await server.finished;
  // Never dropped, however many log lines wait for a slow reader.
  stderrLog.pushKept(
    `${PROGRAM}: received ${stats.received} datagrams, replied ${stats.replied}, ` +
      `dropped ${stats.dropped}, failed ${stats.failed}` +
      (stats.heartbeats ? `, heartbeats ${stats.heartbeats.received}` : ""),
  );
  printHeartbeatSummaries(stats.heartbeats, json);
  // Stopping stays prompt even when nobody reads: 1 s for the reports and
  // the log, then 4 s more for the summaries alone.
  await Promise.all([
    reports?.finish(1000, 4000),
    stderrLog.finish(1000, 4000),
  ]);
  // Only now: a second signal while the log waits must still exit at once.
  shutdown.dispose();
  return 0;
}

/** The ready line; with `json`, an object like the reports, saying it too. */
function readyLine(addr: Deno.NetAddr, json: boolean): string {
  const line = `The server is ready to receive on ${formatAddress(addr)}`;
  return json
    ? JSON.stringify({
      event: "ready",
      message: line,
      host: addr.hostname,
      port: addr.port,
    })
    : line;
}

// ===========================================================================
// Robustness: options and limits, the server's state
// ===========================================================================

/** Options of {@linkcode serveUdp}. */
export interface UdpServerOptions {
  /** Address to bind; `0.0.0.0` (every IPv4 address) as the textbook's `''`. */
  hostname?: string;
  /** Port to bind; 0 lets the system pick a free one. Default 12000. */
  port?: number;
  /** Fraction of datagrams (0 to 1) to drop unanswered, to show UDP loss. */
  dropRate?: number;
  /** Seed that makes the drops reproducible; random when absent. */
  seed?: number;
  /** Log each socket step: bind, every receive and send, close. */
  verbose?: boolean;
  /** Stops the server: the socket is closed and `finished` resolves. */
  signal?: AbortSignal;
  /** Where log lines go; stderr by default, never waited for. */
  log?: (line: string) => void;
  /**
   * Seconds of silence after which a client sending heartbeats is reported
   * stopped. When set, `Heartbeat SEQ TIME` datagrams are watched, not
   * answered (the UDP Heartbeat exercise); every other one is answered.
   */
  heartbeat?: number;
  /** Where heartbeat reports go; stdout, one line each, by default. */
  onHeartbeat?: (report: HeartbeatReport) => void;
  /** Called once the socket is bound, with its address (the ready line). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** What a server did, resolved by {@linkcode UdpServer.finished}. */
export interface UdpServerStats {
  /** Datagrams received. */
  received: number;
  /** Replies sent. */
  replied: number;
  /** Datagrams dropped on purpose by `dropRate`. */
  dropped: number;
  /** Replies that could not be sent, and failed receives. */
  failed: number;
  /** With `heartbeat`: the heartbeats received, and each client's counts. */
  heartbeats?: {
    received: number;
    clients: HeartbeatClientStats[];
    /** Clients forgotten to keep at most 1,000: not in `clients`. */
    forgotten: number;
  };
}

/** A running server, returned by {@linkcode serveUdp}. */
export interface UdpServer {
  /** The bound address; its `port` is the real one when 0 was asked for. */
  addr: Deno.NetAddr;
  /** Resolves with the statistics once the server has stopped. */
  finished: Promise<UdpServerStats>;
}

/** The largest UDP payload over IPv4: 65,535 less the IP and UDP headers. */
const MAX_DATAGRAM_IPV4 = 65_507;
/** The largest UDP payload over IPv6, whose length field leaves out its header. */
const MAX_DATAGRAM_IPV6 = 65_527;
/** Big enough for any datagram, IPv6 included, so none is ever truncated. */
const RECEIVE_BUFFER_SIZE = 65_536;
/** Error lines logged per second at most, so a hostile peer cannot flood stderr. */
const ERROR_LINES_PER_SECOND = 10;

/**
 * The server's state and limits: its socket, the statistics, the drops and
 * heartbeats, and stopping, which lets a reply being sent finish first.
 */
class Server {
  readonly serverSocket: Deno.DatagramConn;
  readonly addr: Deno.NetAddr;
  readonly stats: UdpServerStats = {
    received: 0,
    replied: 0,
    dropped: 0,
    failed: 0,
  };
  stopping = false;
  /** `--verbose`: each socket step as it happens, in the textbook's words. */
  #trace?: (line: string) => void;
  #log: (line: string) => void;
  #logError: ReturnType<typeof rateLimited>;
  #shouldDrop: () => boolean;
  #heartbeats?: HeartbeatMonitor;
  /** Tells a datagram forged to come from this server: see `OwnAddresses`. */
  #ownAddresses: OwnAddresses;
  /** Whether `--allow-net` names every host: no need to ask per client. */
  #everyHostAllowed: boolean;
  #signal?: AbortSignal;
  /** One reply buffer for every datagram, as large as a datagram can be. */
  #replyBuffer = new Uint8Array(MAX_DATAGRAM_IPV6);
  #sending = false;
  #closed = false;

  constructor(serverSocket: Deno.DatagramConn, options: UdpServerOptions) {
    this.serverSocket = serverSocket;
    this.addr = serverSocket.addr as Deno.NetAddr;
    this.#log = options.log ?? logToStderr;
    this.#logError = rateLimited(this.#log, ERROR_LINES_PER_SECOND);
    this.#trace = options.verbose ? (options.log ?? traceToStderr) : undefined;
    const ipv6 = this.addr.hostname.includes(":");
    this.#trace?.(
      `socket(AF_INET${ipv6 ? "6" : ""}, SOCK_DGRAM), bind: ` +
        formatAddress(this.addr),
    );
    this.#shouldDrop = createDropper(options.dropRate ?? 0, options.seed);
    this.#ownAddresses = new OwnAddresses(this.addr);
    this.#everyHostAllowed =
      Deno.permissions.querySync({ name: "net" }).state === "granted";
    if (options.heartbeat !== undefined) {
      this.#heartbeats = new HeartbeatMonitor(
        options.heartbeat * 1000,
        options.onHeartbeat ?? ((report) => printReport(formatReport(report))),
      );
    }
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.stop, { once: true });
  }

  /** Counts a failed receive; says whether the server must stop. */
  receiveFailed(error: unknown): boolean {
    if (this.stopping) return true;
    this.stats.failed++;
    this.#logError(`receive failed: ${explainError(error)}`);
    return error instanceof Deno.errors.BadResource;
  }

  /**
   * Counts a datagram and says whether it is answered: not when dropped on
   * purpose, forged to come from the server itself, or a heartbeat.
   */
  wantsReply(message: Uint8Array, clientAddress: Deno.NetAddr): boolean {
    this.stats.received++;
    // Formatted only for a log line: most datagrams are never logged.
    const client = () => formatAddress(clientAddress);
    this.#trace?.(`recvfrom: ${bytesOf(message.length)} from ${client()}`);
    if (this.#shouldDrop()) {
      this.stats.dropped++;
      this.#trace?.(
        `dropped on purpose (--drop-rate): no reply to ${client()}`,
      );
      return false;
    }
    if (this.#heartbeats?.take(message, client)) return false; // watched
    if (!this.#mayReplyTo(clientAddress)) {
      this.stats.failed++;
      this.#logError(
        `${client()}: reply not sent: network access to ${client()} was ` +
          `not granted: a UDP server sends each reply to its client, so ` +
          `--allow-net must name the clients' addresses too, e.g. ` +
          `--no-prompt --allow-net=${formatAddress(this.addr)},${
            formatHost(clientAddress.hostname.replace(/^::ffff:/i, ""))
          }`,
      );
      return false;
    }
    const forged = this.#ownAddresses.includes(clientAddress);
    if (forged) {
      // Answering would have the server answer itself for ever.
      this.stats.failed++;
      this.#logError(`${client()}: ${forged}, not answered`);
      return false;
    }
    return true;
  }

  /**
   * Whether `--allow-net` lets a reply go to the client, asked without a
   * prompt: sending would otherwise ask at the terminal, and the question
   * would stop the server until someone answered it.
   */
  #mayReplyTo(clientAddress: Deno.NetAddr): boolean {
    if (this.#everyHostAllowed) return true;
    const host = formatAddress(clientAddress);
    return Deno.permissions.querySync({ name: "net", host }).state ===
      "granted";
  }

  /**
   * `message` upper-cased, in the one reply buffer; `undefined` (counted and
   * logged) if the reply would not fit in one datagram.
   */
  upperCase(
    message: Uint8Array,
    clientAddress: Deno.NetAddr,
  ): Uint8Array | undefined {
    // An IPv4 client of a server bound to `::` comes as ::ffff:a.b.c.d,
    // and its datagrams are IPv4's.
    const limit = /^(?!::ffff:\d).*:/i.test(clientAddress.hostname)
      ? MAX_DATAGRAM_IPV6
      : MAX_DATAGRAM_IPV4;
    const { read, written } = upperCaseInto(
      message,
      this.#replyBuffer.subarray(0, limit),
    );
    if (read === message.length) return this.#replyBuffer.subarray(0, written);
    this.stats.failed++;
    this.#logError(
      `${formatAddress(clientAddress)}: the reply is larger than one ` +
        `datagram (${bytesOf(limit)}), not sent`,
    );
  }

  /**
   * Waits for a reply the socket is sending (`sending`, what its `send`
   * returned) to the client; a failure is counted and logged.
   */
  async whenSent(
    sending: Promise<number>,
    length: number,
    clientAddress: Deno.NetAddr,
  ) {
    // Formatted only for a log line: most replies are never logged.
    const client = () => formatAddress(clientAddress);
    this.#sending = true;
    try {
      // Logged as the call is made, as the other steps are: in order.
      this.#trace?.(`sendto: ${bytesOf(length)} to ${client()}`);
      await sending;
      this.stats.replied++;
    } catch (error) {
      this.stats.failed++;
      this.#logError(`${client()}: reply not sent: ${explainError(error)}`);
    } finally {
      this.#sending = false;
    }
  }

  /** Stops receiving; a reply being sent finishes first. */
  stop = () => {
    this.stopping = true;
    if (!this.#sending) this.#close();
  };

  /** Closes the socket and completes the statistics. */
  finish() {
    this.#close();
    this.#trace?.(`close: ${formatAddress(this.addr)}`);
    this.#signal?.removeEventListener("abort", this.stop);
    if (this.#heartbeats) this.stats.heartbeats = this.#heartbeats.finish();
    const suppressed = this.#logError.suppressed();
    if (suppressed > 0) {
      this.#log(`${suppressed} more error lines were suppressed`);
    }
  }

  #close() {
    if (!this.#closed) this.serverSocket.close();
    this.#closed = true;
  }
}

/** Fails at once, with the command that works, without `--unstable-net`. */
function requireUdp() {
  if (typeof Deno.listenDatagram !== "function") {
    throw new Error(
      `UDP sockets need Deno's --unstable-net flag: ${runHint()}`,
    );
  }
}

/** Addresses tested per second at most by binding: see `OwnAddresses`. */
const OWN_ADDRESS_TESTS_PER_SECOND = 100;

/**
 * Tells a datagram forged to come from the server's own socket, which the
 * server would answer, and then its own reply, for ever. Only a datagram
 * from the server's own port can be one, so every other costs a comparison.
 * One from that port is this server's if its address is a loopback one, the
 * one bound, or an address of this machine, which binding a socket to it
 * tells (no permission beyond `--allow-net`). Nothing is remembered: an
 * address may become this machine's at any time (DHCP, a VPN). The binds
 * are at most `OWN_ADDRESS_TESTS_PER_SECOND`, so a flood from rotating
 * sources costs little; past them, and for a link-local address (Deno
 * gives no interface, without which it cannot be bound, nor told), such a
 * datagram is not answered: a client on the server's port number is rare.
 */
class OwnAddresses {
  #server: Deno.NetAddr;
  #second = 0;
  #tests = 0;

  constructor(server: Deno.NetAddr) {
    this.#server = server;
  }

  /** Why `from` may be the server itself, or `undefined` if it is not. */
  includes(from: Deno.NetAddr): string | undefined {
    if (from.port !== this.#server.port) return undefined;
    const hostname = from.hostname.replace(/^::ffff:(?=\d+\.)/i, "");
    if (
      hostname === this.#server.hostname || /^127\./.test(hostname) ||
      hostname === "::1"
    ) {
      return "this server's own address";
    }
    if (/^fe[89ab]/i.test(hostname)) {
      return "a link-local address on this server's port, which may be its " +
        "own (Deno gives no interface to tell)";
    }
    const second = Math.floor(performance.now() / 1000);
    if (second !== this.#second) [this.#second, this.#tests] = [second, 0];
    if (++this.#tests > OWN_ADDRESS_TESTS_PER_SECOND) {
      return "on this server's port, too many such to check this second " +
        "whether the address is its own";
    }
    const bind = `${formatHost(hostname)}:0`;
    if (
      Deno.permissions.querySync({ name: "net", host: bind }).state !==
        "granted"
    ) {
      return "on this server's port at an address --allow-net does not " +
        "let it check is not its own";
    }
    try {
      Deno.listenDatagram({ transport: "udp", hostname, port: 0 }).close();
      return "this server's own address";
    } catch {
      return undefined; // not an address of this machine
    }
  }
}

/**
 * Returns a function that answers `true` for the given fraction of calls.
 * With a seed the answers are the same on every run (xorshift32), so a
 * grader sees the same datagrams lost each time.
 */
function createDropper(rate: number, seed?: number): () => boolean {
  if (rate <= 0) return () => false;
  if (seed === undefined) return () => Math.random() < rate;
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  function next(): number {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  }
  // Stir the seed so that neighbouring seeds give unrelated sequences.
  for (let i = 0; i < 8; i++) next();
  return () => next() < rate;
}

// ===========================================================================
// The lab kit: UDP Heartbeat, the UDP Pinger assignment's optional exercise
// ===========================================================================

/** What the server reports of heartbeats, as they come or fail to. */
export type HeartbeatReport =
  | ({ client: string; event: "heartbeat"; seq: number } & Delay)
  | { client: string; event: "lost"; seqs: string; count: number }
  | ({ client: string; event: "late"; seq: number } & Delay)
  | { client: string; event: "duplicate"; seq: number }
  | ({ client: string; event: "old"; seq: number } & Delay)
  | { client: string; event: "stopped"; lastSeq: number; silentS: number }
  | { client: string; event: "resumed"; seq: number; silentS: number }
  | { client: string; event: "jumped"; from: number; seq: number }
  | {
    client: string;
    event: "renumbered";
    from: number;
    seq: number;
    /** Whether it went back to the numbering left before. */
    back: boolean;
    /** Why: sent after the highest, or the third in a row below it. */
    by: "time" | "run";
    lostUndone: number;
  }
  | { client: string; event: "unread"; text: string };

/**
 * A heartbeat's delay from its TIME; `clockNotSynchronised` when no network
 * could give it (negative, or over an hour): the client's clock is off.
 */
export interface Delay {
  /** Milliseconds from the heartbeat's TIME to its arrival. */
  delayMs: number;
  /** Present when no network could give that delay. */
  clockNotSynchronised?: true;
}

/** One client's heartbeats, in the server's summary. */
export interface HeartbeatClientStats {
  /** The client's address and port. */
  client: string;
  /** Heartbeats received, each sequence number once. */
  received: number;
  /** Sequence numbers skipped and not received since. */
  lost: number;
  /** Heartbeats that came after a later one (and were counted lost first). */
  late: number;
  /** Heartbeats received again. */
  duplicates: number;
  /**
   * Heartbeats older than the lost ones remembered: late or a duplicate,
   * which cannot be told (`lost` is not lowered for them).
   */
  tooOld: number;
  /** Whether the client was silent for the heartbeat time when it ended. */
  stopped: boolean;
}

/**
 * `Heartbeat SEQ TIME`, TIME in seconds since 1970, as the exercise sends,
 * with any number of decimals (read to the nearest double: a microsecond).
 */
const HEARTBEAT = /^Heartbeat (\d{1,15}) (\d{1,12}(?:\.\d+)?)$/;
/** What a client may have meant as a heartbeat: said to be unread. */
const NEAR_HEARTBEAT = /^\s*heart\s*beat/i;
/**
 * A TIME further ahead of the server's clock than this is no client's (a
 * clock may be seconds off, not minutes): never the highest's TIME.
 */
const LATEST_AHEAD_MS = 60_000;
/** Heartbeats in a row below the highest taken as the client's numbering. */
const RUN_RENUMBERS = 3;
/** A sequence number this far past the highest or more is a jump, not a loss. */
const LARGEST_GAP = 1000;
/** A delay past an hour is no network's: the client's clock is off. */
const LONGEST_DELAY_MS = 3_600_000;
const heartbeatDecoder = new TextDecoder();
/** Lost sequence numbers remembered per client, to tell a late one. */
const LOST_REMEMBERED = 256;
/** Clients watched at most; the longest silent is forgotten for a new one. */
const HEARTBEAT_CLIENTS = 1000;
/** Report lines waiting for a slow stdout, at most; the rest are dropped. */
const REPORT_QUEUE_LINES = 10_000;

/** A heartbeat's TIME in ms, and whether it may be a client's (not ahead). */
interface SentAt {
  sentAt: number;
  trusted: boolean;
}

/** Where a client's numbering stands. */
interface Numbering {
  highest: number;
  /** The TIME of the highest, in ms: the client sends nothing before it. */
  highestSentAt: number;
  /** The highest before the highest came: numbers between are its gap. */
  opened: number;
  /** Whether the highest's gap was counted lost (not when it jumped). */
  gapCounted: boolean;
  /** Whether heartbeat 0 came (a client may count from 0 or from 1). */
  zeroSeen: boolean;
  /** Lost sequence numbers, the latest `LOST_REMEMBERED` of them. */
  missing: Set<number>;
}

/** A heartbeat at or below the highest: how it was counted. */
interface Below {
  seq: number;
  sentAt: number;
  counted: "late" | "duplicate" | "old";
}

interface HeartbeatClient extends HeartbeatClientStats, Numbering {
  /** The numbering left for a lower one, until the new one passes it. */
  left?: Numbering;
  /** When the last heartbeat came, from `performance.now()`. */
  heardAt: number;
  /** The last heartbeats, if each at or below the highest and the next. */
  run: Below[];
}

/**
 * Watches heartbeats: a gap in a client's sequence numbers is reported as
 * the heartbeats lost, each one's delay from its send time is measured, and
 * a client silent for `silenceMs` is reported stopped (once) by a sweep.
 */
class HeartbeatMonitor {
  #clients = new Map<string, HeartbeatClient>();
  #received = 0;
  /** Clients forgotten to keep at most `HEARTBEAT_CLIENTS`. */
  #forgotten = 0;
  #sweeper: ReturnType<typeof setInterval>;
  #silenceMs: number;
  #report: (report: HeartbeatReport) => void;

  constructor(silenceMs: number, report: (report: HeartbeatReport) => void) {
    this.#silenceMs = silenceMs;
    this.#report = report;
    this.#sweeper = setInterval(
      () => this.#sweep(),
      Math.min(1000, Math.max(10, silenceMs / 4)),
    );
  }

  /**
   * Takes a datagram if it is a heartbeat (then it gets no reply); one that
   * looks meant as one is reported unread, and answered as a sentence.
   */
  take(message: Uint8Array, client: () => string): boolean {
    const text = heartbeatDecoder.decode(message);
    const match = text.match(HEARTBEAT);
    if (!match) {
      // Only a short one is quoted: a long one is a sentence.
      if (message.length <= 64 && NEAR_HEARTBEAT.test(text)) {
        this.#report({ client: client(), event: "unread", text });
      }
      return false;
    }
    const sentAt = Number(match[2]) * 1000;
    const wallNow = performance.timeOrigin + performance.now();
    const delayMs = Math.round((wallNow - sentAt) * 1000) / 1000;
    const now = performance.now();
    const name = client();
    let state = this.#clients.get(name);
    const seq = Number(match[1]);
    if (!state) {
      // Numbers start at 1 (a first 3 means 1 and 2 lost); some count from
      // 0. Once clients have been forgotten, a newcomer may be one of them:
      // what came before its first heartbeat is unknown.
      const next = this.#forgotten > 0 ? seq : Math.min(seq, 1);
      state = this.#newClient(name, now, next);
    } else if (state.stopped) {
      state.stopped = false;
      const silentS = Math.round(now - state.heardAt) / 1000;
      this.#report({ client: name, event: "resumed", seq, silentS });
    }
    state.heardAt = now;
    this.#received++;
    const delay: Delay = delayMs < 0 || delayMs > LONGEST_DELAY_MS
      ? { delayMs, clockNotSynchronised: true }
      : { delayMs };
    const trusted = sentAt <= wallNow + LATEST_AHEAD_MS;
    this.#count(state, seq, { sentAt, trusted }, delay);
    return true;
  }

  /** Counts heartbeat `seq` of a client, sent at `time`, and reports it. */
  #count(state: HeartbeatClient, seq: number, time: SentAt, delay: Delay) {
    const client = state.client;
    this.#renumber(state, seq, time);
    const from = state.highest;
    if (seq > from || (seq === 0 && !state.zeroSeen)) {
      // New; a 0 after 1 was never counted lost (it may count from 1).
      const jumped = seq >= from + LARGEST_GAP;
      if (!jumped && seq > from + 1) this.#lost(state, from + 1, seq - 1);
      if (seq > from) {
        state.highest = seq;
        // A TIME too far ahead is no client's: the highest keeps the last.
        if (time.trusted) state.highestSentAt = time.sentAt;
        [state.opened, state.gapCounted] = [from, !jumped && seq > from + 1];
      }
      state.zeroSeen ||= seq === 0;
      state.received++;
      state.run = [];
      this.#report(
        jumped
          ? { client, event: "jumped", from, seq }
          : { client, event: "heartbeat", seq, ...delay },
      );
      return;
    }
    let counted: Below["counted"] = "duplicate";
    if (state.missing.delete(seq)) {
      counted = "late";
      state.lost--;
      state.late++;
      state.received++;
      this.#report({ client, event: "late", seq, ...delay });
    } else if (seq <= from - LOST_REMEMBERED) {
      // Older than the lost numbers remembered: late or again, unknown.
      counted = "old";
      state.tooOld++;
      this.#report({ client, event: "old", seq, ...delay });
    } else {
      state.duplicates++; // the highest's number sent again counts here too
      this.#report({ client, event: "duplicate", seq });
    }
    if (!this.#followsRun(state, seq, time.sentAt)) state.run = [];
    state.run.push({ seq, sentAt: time.sentAt, counted });
  }

  /** Whether `seq`, sent at `sentAt`, comes next in the run below the highest. */
  #followsRun(state: HeartbeatClient, seq: number, sentAt: number): boolean {
    const last = state.run.at(-1);
    return last !== undefined && seq === last.seq + 1 && sentAt > last.sentAt;
  }

  /**
   * Follows the client's numbering: a heartbeat numbered below the highest
   * but sent after it (a client's TIME only goes forward), or the third in a
   * row below it, numbered and sent one after the other, whatever the
   * highest's TIME (a forger's may be ahead), means the numbering changed.
   * Within the highest's gap, the highest was not the client's: its gap
   * from there up is no longer counted lost; at or below the gap, a new
   * numbering (a restart, or forged). The numbering left is kept: a
   * heartbeat that goes on from it goes back to it.
   */
  #renumber(state: HeartbeatClient, seq: number, time: SentAt) {
    const from = state.highest;
    if (state.left && from >= state.left.highest) state.left = undefined;
    const left = state.left;
    const back = left !== undefined && seq > left.highest &&
      seq < left.highest + LARGEST_GAP;
    const byTime = time.trusted && time.sentAt > state.highestSentAt;
    const byRun = state.run.length >= RUN_RENUMBERS - 1 &&
      this.#followsRun(state, seq, time.sentAt);
    if (left && back) {
      state.left = undefined;
      Object.assign(state, left);
    } else if (seq >= from || !(byTime || byRun)) {
      return; // goes on, or late, or again
    }
    // The run's first: those before this one are now counted received.
    const first = !back && byRun ? this.#recount(state) : seq;
    const inGap = !back && first > state.opened;
    const jumped = inGap && !state.gapCounted;
    const lostUndone = inGap && !jumped ? this.#undoGap(state, first) : 0;
    const opened = state.opened;
    if (!back) {
      state.left = this.#numbering(state);
      if (!inGap) Object.assign(state, this.#numberingFrom(first));
      [state.highest, state.highestSentAt] = [seq - 1, NaN];
    }
    state.run = [];
    const client = state.client;
    const by = byRun && !back ? "run" : "time";
    this.#report({
      client,
      event: "renumbered",
      from,
      seq,
      back,
      by,
      lostUndone,
    });
    // A jump's gap below the client's numbering is counted lost now.
    if (jumped && first > opened + 1) this.#lost(state, opened + 1, first - 1);
  }

  /** Counts the run below the highest as received; gives its first. */
  #recount(state: HeartbeatClient): number {
    for (const { counted } of state.run) {
      if (counted === "late") state.late--; // received already
      else {
        if (counted === "old") state.tooOld--;
        else state.duplicates--;
        state.received++;
      }
    }
    return state.run[0].seq;
  }

  /** Where a client's numbering stands now. */
  #numbering(state: HeartbeatClient): Numbering {
    const { highest, highestSentAt, opened, gapCounted, zeroSeen, missing } =
      state;
    return { highest, highestSentAt, opened, gapCounted, zeroSeen, missing };
  }

  /** Un-counts lost the highest's gap from `seq` up, as far as still lost. */
  #undoGap(state: HeartbeatClient, seq: number): number {
    // Only the top of a gap is remembered; below it, none came late.
    const remembered = Math.max(seq, state.highest - LOST_REMEMBERED);
    let undone = remembered - seq;
    for (let n = remembered; n < state.highest; n++) {
      if (state.missing.delete(n)) undone++;
    }
    state.lost -= undone;
    return undone;
  }

  /** A numbering where `seq` comes next. */
  #numberingFrom(seq: number): Numbering {
    return {
      highest: seq - 1,
      highestSentAt: NaN, // unknown: nothing is sent after it
      opened: seq - 1,
      gapCounted: false,
      zeroSeen: false,
      missing: new Set(),
    };
  }

  /** Stops watching; the counts, per client. */
  finish(): NonNullable<UdpServerStats["heartbeats"]> {
    clearInterval(this.#sweeper);
    this.#sweep();
    const clients = [...this.#clients.values()].map((
      { client, received, lost, late, duplicates, tooOld, stopped },
    ) => ({ client, received, lost, late, duplicates, tooOld, stopped }));
    return { received: this.#received, clients, forgotten: this.#forgotten };
  }

  #newClient(name: string, now: number, next: number): HeartbeatClient {
    if (this.#clients.size >= HEARTBEAT_CLIENTS) {
      let oldest: HeartbeatClient | undefined;
      for (const state of this.#clients.values()) {
        if (!oldest || state.heardAt < oldest.heardAt) oldest = state;
      }
      this.#clients.delete(oldest!.client);
      this.#forgotten++;
    }
    const state: HeartbeatClient = {
      client: name,
      received: 0,
      lost: 0,
      late: 0,
      duplicates: 0,
      tooOld: 0,
      stopped: false,
      ...this.#numberingFrom(next),
      heardAt: now,
      run: [],
    };
    this.#clients.set(name, state);
    return state;
  }

  #lost(state: HeartbeatClient, from: number, to: number) {
    const count = to - from + 1;
    state.lost += count;
    for (let seq = Math.max(from, to - LOST_REMEMBERED + 1); seq <= to; seq++) {
      state.missing.add(seq);
    }
    // The oldest go first (a Set keeps insertion order).
    for (const seq of state.missing) {
      if (state.missing.size <= LOST_REMEMBERED) break;
      state.missing.delete(seq);
    }
    const seqs = count === 1 ? `${from}` : `${from}-${to}`;
    this.#report({ client: state.client, event: "lost", seqs, count });
  }

  #sweep() {
    const now = performance.now();
    for (const state of this.#clients.values()) {
      if (!state.stopped && now - state.heardAt >= this.#silenceMs) {
        state.stopped = true;
        this.#report({
          client: state.client,
          event: "stopped",
          lastSeq: state.highest,
          silentS: Math.round(now - state.heardAt) / 1000,
        });
      }
    }
  }
}

let reports: LineQueue | undefined;

/**
 * Writes a heartbeat report line to stdout, queued so that a flood of
 * heartbeats to a pipe nobody reads never makes the server wait; with
 * `json`, the note of reports dropped is a JSON object too.
 */
function printReport(line: string, json = false) {
  reportQueue(json).push(line);
}

/** The queue of report lines on stdout, made at the first report. */
function reportQueue(json: boolean): LineQueue {
  return reports ??= new LineQueue(
    Deno.stdout,
    REPORT_QUEUE_LINES,
    (count) =>
      json
        ? JSON.stringify({ event: "dropped", reports: count })
        : `(${count} reports dropped: stdout was not read)`,
  );
}

/** A heartbeat report as one line of text. */
function formatReport(report: HeartbeatReport): string {
  const { client } = report;
  switch (report.event) {
    case "heartbeat":
      return `Heartbeat from ${client}: seq=${report.seq} ${delayOf(report)}`;
    case "late":
      return `Late heartbeat from ${client}: seq=${report.seq} ${
        delayOf(report)
      }, no longer counted lost`;
    case "lost":
      return `Lost from ${client}: ${
        report.count === 1 ? "heartbeat" : `${report.count} heartbeats,`
      } seq=${report.seqs}`;
    case "duplicate":
      return `Duplicate heartbeat from ${client}: seq=${report.seq}`;
    case "old":
      return `Old heartbeat from ${client}: seq=${report.seq} ${
        delayOf(report)
      }, older than the ${LOST_REMEMBERED} lost ones remembered: late ` +
        `or a duplicate, not counted either way`;
    case "stopped":
      return `Client ${client} stopped: no heartbeat for ${
        report.silentS.toFixed(1)
      } s (last seq=${report.lastSeq})`;
    case "resumed":
      return `Client ${client} resumed: seq=${report.seq} after ${
        report.silentS.toFixed(1)
      } s of silence`;
    case "jumped":
      return `Heartbeat from ${client} jumped from seq=${report.from} to ` +
        `seq=${report.seq}: the gap is not counted lost`;
    case "renumbered":
      return `Client ${client} renumbered from seq=${report.from} to ` +
        `seq=${report.seq}${
          report.back
            ? ": back to the numbering it left"
            : report.by === "time"
            ? `, sent after seq=${report.from} with a lower number`
            : `: the third in a row below seq=${report.from}, sent in turn`
        }${
          report.lostUndone > 0
            ? `: ${report.lostUndone} counted lost no longer`
            : ""
        }`;
    case "unread":
      return `Not read as a heartbeat from ${client}: ${
        JSON.stringify(report.text)
      } (read: "Heartbeat SEQ TIME", TIME in seconds since 1970): answered ` +
        `as a sentence`;
  }
}

/** `delay=12.345 ms`, and what it says of the client's clock. */
function delayOf({ delayMs, clockNotSynchronised }: Delay): string {
  return `delay=${delayMs.toFixed(3)} ms${
    clockNotSynchronised ? " (clock not synchronised: no network delay)" : ""
  }`;
}

/**
 * Each client's heartbeat counts at the end: on stdout, where a grader
 * reads, never dropped however many reports wait.
 */
function printHeartbeatSummaries(
  heartbeats: UdpServerStats["heartbeats"],
  json: boolean,
) {
  const queue = reportQueue(json);
  for (const client of heartbeats?.clients ?? []) {
    queue.pushKept(
      json
        ? JSON.stringify({ event: "summary", ...client })
        : `Heartbeats from ${client.client}: received ${client.received}, ` +
          `lost ${client.lost}, late ${client.late}, duplicates ` +
          `${client.duplicates}, ${
            client.tooOld > 0 ? `${client.tooOld} too old to tell, ` : ""
          }${client.stopped ? "stopped" : "still beating"}`,
    );
  }
  const forgotten = heartbeats?.forgotten ?? 0;
  if (forgotten > 0) {
    queue.pushKept(
      json
        ? JSON.stringify({ event: "forgotten", clients: forgotten })
        : `${forgotten} clients forgotten (over ${HEARTBEAT_CLIENTS} heard ` +
          `at once, the longest silent went): not in the counts above`,
    );
  }
}

// ===========================================================================
// Shared helpers
// ===========================================================================

// Shared by all four scripts, word for word down to the line that ends it
// (tests/shared_test.ts compares the copies): addresses, the command line,
// numeric options. Each script defines PROGRAM and RUN_LINE for it.

/** `hostname`, in brackets if it is an IPv6 address, as in URLs. */
function formatHost(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
}

/** `HOST:PORT`, with an IPv6 host in brackets, as in URLs. */
function formatAddress(addr: { hostname: string; port: number }): string {
  return `${formatHost(addr.hostname)}:${addr.port}`;
}

/** The command that runs this program with its permissions. */
function runHint(): string {
  return Deno.build.standalone
    ? `rebuild it with ${RUN_LINE.replace("deno run", "deno compile")}`
    : RUN_LINE;
}

/** A command-line mistake: one line, exit status 2. */
class UsageError extends Error {}

/** Prints a command-line mistake in one line; returns exit status 2. */
function usageError(message: string): number {
  console.error(`${PROGRAM}: ${message} (see --help)`);
  return 2;
}

/**
 * The command line read by `parseArgs` of `node:util`, strictly: an unknown
 * option, a missing value or an option given two values is a `UsageError`
 * of one line.
 */
function parseCommandLine<T extends ParseArgsOptionsConfig>(
  args: string[],
  options: T,
  allowPositionals: boolean,
) {
  let parsed;
  try {
    args = joinNegativeValues(args, options);
    parsed = parseArgs({
      args,
      options,
      strict: true,
      allowPositionals,
      tokens: true,
    });
  } catch (error) {
    throw new UsageError((error as Error).message.split(/\.\s/)[0]);
  }
  // parseArgs keeps the last value silently: `--ping 5 --ping 50` is a slip.
  const given = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== "option" || token.value === undefined) continue;
    if (given.has(token.name)) {
      throw new UsageError(`--${token.name} is given twice: give it once`);
    }
    given.add(token.name);
  }
  return parsed;
}

/**
 * `--port -1` as `--port=-1`: a negative number after an option that takes
 * a value is that value, so that its range refuses it by name, rather than
 * an option `parseArgs` calls ambiguous.
 */
function joinNegativeValues(
  args: string[],
  options: ParseArgsOptionsConfig,
): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const name = args[i].startsWith("--")
      ? args[i].slice(2)
      : Object.keys(options).find((key) =>
        `-${options[key].short}` === args[i]
      );
    const value = args[i + 1];
    if (
      name !== undefined && options[name]?.type === "string" &&
      /^-\d/.test(value ?? "")
    ) {
      joined.push(`--${name}=${value}`);
      i++;
    } else {
      joined.push(args[i]);
    }
    if (args[i] === "--") return [...joined, ...args.slice(i + 1)];
  }
  return joined;
}

/** What a numeric option may be; see {@linkcode parseNumber}. */
interface NumberRange {
  min: number;
  max: number;
  /** Digits allowed after the decimal point; 0 (whole numbers) by default. */
  decimals?: number;
  /** What the value is, for the error: "seconds", "a fraction". */
  unit?: string;
}

/**
 * The numeric options of `values` that `ranges` names, each read by
 * {@linkcode parseNumber}; one that was not given stays `undefined`.
 */
function parseNumbers<
  V extends { [P in K]?: string | boolean },
  K extends keyof V & string,
>(
  values: V,
  ranges: { [P in K]: NumberRange },
): { [P in K]: V[P] extends string ? number : number | undefined } {
  const numbers: { [name: string]: number | undefined } = {};
  for (const name in ranges) {
    const text = values[name];
    numbers[name] = typeof text === "string"
      ? parseNumber(name, text, ranges[name])
      : undefined;
  }
  return numbers as {
    [P in K]: V[P] extends string ? number : number | undefined;
  };
}

/**
 * The value of a numeric option: plain decimal digits only (no hex, no
 * exponent, no `Infinity`), with at most `decimals` digits after the point,
 * from `min` to `max`. Anything else is a `UsageError` that names the range.
 */
function parseNumber(
  name: string,
  text: string,
  range: NumberRange,
): number {
  const decimals = range.decimals ?? 0;
  const pattern = decimals > 0
    ? new RegExp(`^\\d+(\\.\\d{1,${decimals}})?$`)
    : /^\d+$/;
  const value = Number(text);
  if (!pattern.test(text) || value < range.min || value > range.max) {
    const what = range.unit ??
      (decimals > 0 ? "a number" : "a whole number");
    throw new UsageError(
      `--${name} must be ${what} from ${range.min} to ${range.max}` +
        (decimals > 0 ? ` (up to ${decimals} decimals)` : "") +
        `, not ${text}`,
    );
  }
  return value;
}

/**
 * Checks `--host`: an empty name is a mistake, not "this machine", and a
 * port or a URL belongs elsewhere.
 */
function checkHost(host: string) {
  if (host.trim() === "") {
    throw new UsageError("--host must name a host or an address, not nothing");
  }
  if (/^[^:]+:\d*$|^\[.*\]:\d*$|^[a-z]+:\/\//i.test(host)) {
    throw new UsageError(
      `--host takes a name or an address alone, not ${host}: give the port ` +
        `with --port`,
    );
  }
}

/** `count` bytes in words: "1 byte", "2 bytes". */
function bytesOf(count: number): string {
  return count === 1 ? "1 byte" : `${count} bytes`;
}

/**
 * Throws `Deno.errors.NotCapable`, worded as Deno's own, unless network
 * access to `hostname` and `port` is granted (to `hostname` alone for a
 * `lookup` of it): asked for, it would be Deno's interactive prompt, which
 * stops the whole program until someone answers, so it counts as refused.
 */
function requireNetAccess(
  { hostname = "0.0.0.0", port = 12000 },
  lookup = false,
) {
  const host = lookup ? hostname : formatAddress({ hostname, port });
  if (Deno.permissions.querySync({ name: "net", host }).state !== "granted") {
    throw new Deno.errors.NotCapable(`Requires net access to "${host}"`);
  }
}

// End of the part shared by all four scripts.

// Shared by udp_server.ts and tcp_server.ts, word for word down to the line
// that ends it (tests/shared_test.ts compares the copies): logging,
// upper-casing, error lines, signals.

/**
 * Lines written to a stream without ever making the server wait: a reader
 * that stops (a paused `less`, Ctrl-S at a terminal, a pipe nobody reads)
 * must not stop the server. Lines queue while a write is under way,
 * `maxLines` at most; the rest are dropped, and the next write says how
 * many.
 */
class LineQueue {
  #lines: string[] = [];
  /** Lines never dropped (a summary), written after the rest. */
  #kept: string[] = [];
  #dropped = 0;
  #writing: Promise<void> | undefined;
  #stream: { write(data: Uint8Array): Promise<number> };
  #maxLines: number;
  #droppedNote: (count: number) => string;

  constructor(
    stream: { write(data: Uint8Array): Promise<number> },
    maxLines: number,
    droppedNote: (count: number) => string,
  ) {
    this.#stream = stream;
    this.#maxLines = maxLines;
    this.#droppedNote = droppedNote;
  }

  /** Queues a line; returns at once. */
  push(line: string) {
    if (this.#lines.length < this.#maxLines) this.#lines.push(line);
    else this.#dropped++;
    this.#writing ??= this.#write();
  }

  /** Queues a line that is never dropped, however full the queue. */
  pushKept(line: string) {
    this.#kept.push(line);
    this.#writing ??= this.#write();
  }

  /** Waits until the queued lines are written, `ms` at most. */
  async flush(ms: number) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#writing,
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
    clearTimeout(timer);
  }

  /**
   * At the end: waits `ms` for every line; then counts those still queued
   * as dropped, and waits `keptMs` more for the note and the kept lines.
   */
  async finish(ms: number, keptMs: number) {
    await this.flush(ms);
    if (this.#writing === undefined) return;
    this.#dropped += this.#lines.length;
    this.#lines.length = 0;
    await this.flush(keptMs);
  }

  async #write() {
    const encoder = new TextEncoder();
    while (
      this.#lines.length > 0 || this.#dropped > 0 || this.#kept.length > 0
    ) {
      const data = encoder.encode(this.#nextWrite());
      try {
        for (let written = 0; written < data.length;) {
          written += await this.#stream.write(data.subarray(written));
        }
      } catch {
        // the stream is gone: nobody to tell
        this.#lines.length = 0;
        this.#kept.length = 0;
        this.#dropped = 0;
      }
    }
    this.#writing = undefined;
  }

  /**
   * The next whole lines to write, in order: the queued ones, the note of
   * those dropped, the kept ones. At most `ATOMIC_LINES` characters (unless
   * one line is longer), which a pipe takes whole: if the process ends
   * while a reader is slow, no line is left cut in half.
   */
  #nextWrite(): string {
    let text = "";
    const fits = (line: string) =>
      text === "" || text.length + line.length < ATOMIC_LINES;
    let count = 0;
    while (count < this.#lines.length && fits(this.#lines[count])) {
      text += `${this.#lines[count++]}\n`;
    }
    this.#lines.splice(0, count);
    if (this.#lines.length > 0) return text;
    const note = this.#dropped > 0 ? this.#droppedNote(this.#dropped) : "";
    if (note !== "") {
      if (!fits(note)) return text;
      text += `${note}\n`;
      this.#dropped = 0;
    }
    count = 0;
    while (count < this.#kept.length && fits(this.#kept[count])) {
      text += `${this.#kept[count++]}\n`;
    }
    this.#kept.splice(0, count);
    return text;
  }
}

/**
 * Characters written at once at most: 1,365 are at most 4,095 bytes of
 * UTF-8, and a pipe takes up to 4,096 bytes in one piece (PIPE_BUF).
 */
const ATOMIC_LINES = 1365;

/** Log lines on stderr: 100 may wait while it is slow; more are counted. */
const stderrLog = new LineQueue(
  Deno.stderr,
  100,
  (count) => `(${count} more log lines dropped: stderr did not keep up)`,
);

/** Writes a line to stderr without ever making the server wait. */
function logToStderr(line: string) {
  stderrLog.push(line);
}

/**
 * Writes a `--verbose` line to stderr after the time it happened, in UTC
 * (ISO 8601, to the millisecond), as log files and `journalctl` read it.
 */
function traceToStderr(line: string) {
  stderrLog.push(`${new Date().toISOString()} ${line}`);
}

// Upper-casing in one pass over the bytes, linear on any input: ASCII byte
// by byte, each other character through a table filled in as characters are
// met, and every byte that is not valid UTF-8 copied as it is.

/** Upper-casing makes UTF-8 at most 3 times longer ("ΐ", 2 bytes, becomes 6). */
const MAX_UPPER_CASE_GROWTH = 3;

const encoder = new TextEncoder();

/**
 * The upper case of each code point in UTF-8, `null` where it is the code
 * point itself, in blocks of 64 code points; each one is worked out the
 * first time it is met, so a message of thousands of different characters
 * costs one `toUpperCase` each, never a whole block's.
 */
const upperCaseBlocks: ((Uint8Array | null | undefined)[] | undefined)[] = [];

/**
 * How many characters met for the first time one call works out, unless
 * `final`: each costs a few microseconds, so a message of thousands of
 * different characters is worked through a millisecond at a time, its
 * sender waiting its turn like any other.
 */
const NEW_CHARACTERS_AT_ONCE = 200;

/**
 * Where the upper cases' bytes are kept, 64 KiB at a time: a buffer of its
 * own for each would cost each character ten times as much.
 */
let upperCaseBytes = new Uint8Array(64 * 1024);
let upperCaseBytesUsed = 0;

/** The upper case of one code point in UTF-8, `null` if it is unchanged. */
function upperCaseCodePoint(codePoint: number): Uint8Array | null {
  const character = String.fromCodePoint(codePoint);
  // toUpperCase maps code point by code point as Python's str.upper() does.
  const upper = character.toUpperCase();
  if (upper === character) return null;
  // At most 3 characters of 4 bytes ("ΐ" becomes 3 characters).
  if (upperCaseBytesUsed + 12 > upperCaseBytes.length) {
    upperCaseBytes = new Uint8Array(64 * 1024);
    upperCaseBytesUsed = 0;
  }
  const start = upperCaseBytesUsed;
  upperCaseBytesUsed +=
    encoder.encodeInto(upper, upperCaseBytes.subarray(start)).written;
  return upperCaseBytes.subarray(start, upperCaseBytesUsed);
}

/**
 * Upper-cases UTF-8 text as Python's `str.upper()` does (`"straße"` becomes
 * `"STRASSE"`), returning bytes that are not valid UTF-8 unchanged.
 */
export function upperCase(message: Uint8Array): Uint8Array {
  const upper = new Uint8Array(message.length * MAX_UPPER_CASE_GROWTH);
  return upper.subarray(0, upperCaseInto(message, upper).written);
}

/**
 * Upper-cases the UTF-8 bytes of `source` into `destination`, as many whole
 * characters as fit, and says how many bytes it read and wrote, as
 * `TextEncoder.encodeInto` does. Bytes that are not valid UTF-8 are copied
 * unchanged. A character cut off at the end of `source` is left unread unless
 * `final`: the rest of it may come with the next read; and unless `final`,
 * it stops after {@linkcode NEW_CHARACTERS_AT_ONCE} characters met for the
 * first time, for the caller to let others have their turn.
 */
export function upperCaseInto(
  source: Uint8Array,
  destination: Uint8Array,
  final = true,
): { read: number; written: number } {
  let read = 0;
  let written = 0;
  let newCharacters = 0;
  while (read < source.length) {
    if (source[read] < 0x80) {
      // A run of ASCII, byte by byte.
      const end = Math.min(source.length, read + destination.length - written);
      if (read === end) break;
      do {
        const byte = source[read++];
        destination[written++] = byte >= 0x61 && byte <= 0x7a
          ? byte - 0x20
          : byte;
      } while (read < end && source[read] < 0x80);
      continue;
    }
    const length = utf8SequenceLength(source, read);
    if (length === CUT_OFF && !final) break;
    let upper: Uint8Array | null | undefined = null;
    if (length > 1) {
      const codePoint = codePointOf(source, read, length);
      const block = upperCaseBlocks[codePoint >> 6] ??= new Array(64);
      upper = block[codePoint & 0x3f];
      if (upper === undefined) { // not met yet (null, unchanged, is known)
        if (!final && ++newCharacters > NEW_CHARACTERS_AT_ONCE) break;
        upper = block[codePoint & 0x3f] = upperCaseCodePoint(codePoint);
      }
    }
    if (upper === null) {
      // Unchanged: a character without an upper case, or one byte that is
      // not valid UTF-8 and goes back as it is.
      const copied = length > 1 ? length : 1;
      if (written + copied > destination.length) break;
      for (let k = 0; k < copied; k++) destination[written++] = source[read++];
    } else {
      if (written + upper.length > destination.length) break;
      for (let k = 0; k < upper.length; k++) destination[written++] = upper[k];
      read += length;
    }
  }
  return { read, written };
}

/** The code point of the `length` bytes of UTF-8 at `bytes[start]`. */
function codePointOf(bytes: Uint8Array, start: number, length: number) {
  let codePoint = bytes[start] & (0x7f >> length);
  for (let k = 1; k < length; k++) {
    codePoint = (codePoint << 6) | (bytes[start + k] & 0x3f);
  }
  return codePoint;
}

/** {@linkcode utf8SequenceLength} of a valid start that the bytes end too soon for. */
const CUT_OFF = -1;

/**
 * Length of the well-formed UTF-8 sequence starting at `bytes[start]`
 * (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF);
 * `CUT_OFF` if `bytes` end before a sequence that is valid so far is whole;
 * 0 if the bytes there can never be valid UTF-8.
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
  for (let k = 1; k < length; k++) {
    if (start + k === bytes.length) return CUT_OFF;
    const next = bytes[start + k];
    if (next < low || next > high) return 0;
    low = 0x80;
    high = 0xbf;
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

/** One line that says what went wrong and, where it helps, what to do. */
function explainError(
  error: unknown,
  hostname?: string,
  port?: number,
): string {
  const where = hostname === undefined
    ? "the address"
    : formatAddress({ hostname, port: port ?? 0 });
  if (error instanceof Deno.errors.NotCapable) {
    return `network access to ${where} was not granted: ${runHint()}`;
  }
  if (error instanceof Deno.errors.AddrInUse && PROGRAM.startsWith("tcp")) {
    // A server that does not reuse addresses (Python's) leaves its closed
    // connections in TIME-WAIT, which holds the port for a minute.
    return `${where} is already in use: stop the other server; if one ` +
      `stopped just now, its recent connections can hold the port for ` +
      `about a minute: wait, or choose another --port`;
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
  if (/^fe[89ab]/i.test(hostname ?? "") && message.includes("(os error 22)")) {
    return `cannot bind ${where}: a link-local address (fe80::/10) needs ` +
      `its interface, which Deno cannot be given: use :: or another address`;
  }
  return message;
}

/**
 * The server's shutdown signal: Ctrl-C or SIGTERM aborts it, and a second
 * one exits at once, in case shutting down takes too long, with the status
 * a shell gives death by that signal (128 + its number). No summary then:
 * writing it could wait on a stderr nobody reads.
 */
function shutdownSignal(): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const signals = new Map<Deno.Signal, () => void>(
    (Deno.build.os === "windows" ? [["SIGINT", 130]] as const : [
      ["SIGINT", 130],
      ["SIGTERM", 143],
    ] as const).map(([name, status]) => [name, () => {
      if (controller.signal.aborted) Deno.exit(status);
      controller.abort();
    }]),
  );
  for (const [name, onSignal] of signals) {
    Deno.addSignalListener(name, onSignal);
  }
  return {
    signal: controller.signal,
    dispose() {
      for (const [name, onSignal] of signals) {
        Deno.removeSignalListener(name, onSignal);
      }
    },
  };
}

/**
 * Calls `onListen` with the bound address, where the textbook prints its
 * ready line; if it throws, the socket is closed and the error goes on.
 */
function announce(
  socket: { addr: Deno.Addr; close(): void },
  onListen?: (addr: Deno.NetAddr) => void,
) {
  try {
    onListen?.(socket.addr as Deno.NetAddr);
  } catch (error) {
    socket.close();
    throw error;
  }
}

// End of the part shared by the two servers.

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
