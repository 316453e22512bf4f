#!/usr/bin/env -S deno run --allow-net
/**
 * `TCPServer.py` of Kurose & Ross, section 2.7.2, in Deno. Each client gets
 * a connection socket of its own, served at the same time as every other;
 * what it sends comes back upper-cased until it closes its side.
 *
 * ```sh
 * deno run --allow-net tcp_server.ts --port 12000
 * ```
 *
 * `--help` lists the options. As a module it exports {@linkcode serveTcp}.
 * The textbook's program alone: `textbook/TCPServer.ts`. Licence: 0BSD.
 * @module
 */
import { setImmediate } from "node:timers";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

// ===========================================================================
// The main flow: TCPServer.py, in the order it runs
// ===========================================================================

/**
 * Binds a TCP welcoming socket and serves every client that connects until
 * `options.signal` aborts. Throws at once if the socket cannot be bound
 * (address in use, no permission).
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
  options.signal?.throwIfAborted();
  // TCPServer.py: serverPort = 12000
  const { hostname = "0.0.0.0", port = 12000 } = options;
  // TCPServer.py: serverSocket = socket(AF_INET, SOCK_STREAM)
  // TCPServer.py: serverSocket.bind(('', serverPort))
  // TCPServer.py: serverSocket.listen(1)
  const welcomingSocket = Deno.listen({ hostname, port });
  // TCPServer.py: print('The server is ready to receive')
  announce(welcomingSocket, options.onListen);
  const server = new Server(welcomingSocket, options);
  return { addr: welcomingSocket.addr, finished: acceptLoop(server) };
}

/** Accepts clients until the server stops; resolves once all have ended. */
async function acceptLoop(server: Server): Promise<TcpServerStats> {
  try {
    // TCPServer.py: while True:
    while (!server.stopping) {
      let connectionSocket: Deno.TcpConn;
      try {
        // TCPServer.py: connectionSocket, addr = serverSocket.accept()
        connectionSocket = await server.welcomingSocket.accept();
      } catch (error) {
        await server.acceptFailed(error);
        continue;
      }
      const connection = server.admit(connectionSocket);
      // Not awaited: the loop goes straight back to accept(), so every
      // client is served at once, not one after another as in Python.
      connection.served = serveConnection(connection);
      if (server.full) {
        // Nor is making room: newcomers never wait in the backlog for it.
        server.makeRoom(connection);
        // Under a storm every accept() completes at once: the loop takes
        // turns, so that the ends of clients that closed are read before
        // anyone's place is taken. (Not full, it never waits behind others.)
        await fairTurn();
      }
    }
  } finally {
    await server.finish();
  }
  return server.stats;
}

/** Serves one client: what it sends comes back upper-cased until it closes. */
async function serveConnection(connection: Connection) {
  try {
    while (!connection.server.stopping) {
      // TCPServer.py: sentence = connectionSocket.recv(1024).decode()
      const sentence = await connection.recv(); // bytes, not decoded
      if (sentence === null) break; // the client closed its side
      // A read that filled the smallest buffer came from a client that
      // keeps the server busy: it waits its turn before the work and after,
      // so that hundreds of reads completing at once are not all worked
      // through before anyone else. A line is answered at once, and its
      // client does not queue behind the busy ones for its next line.
      const busy = sentence.length >= MIN_READ_SIZE;
      if (busy) await fairTurn();
      // TCPServer.py: capitalizedSentence = sentence.upper()
      // TCPServer.py: connectionSocket.send(capitalizedSentence.encode())
      await connection.upperCaseAndSend(sentence);
      if (busy) await fairTurn(); // other clients, timers and signals go
    }
    // A character still unfinished at the very end goes back as it is.
    if (connection.holdsCharacter) await connection.sendUnfinished();
  } catch (error) {
    connection.failed(error);
  } finally {
    // TCPServer.py: connectionSocket.close()
    connection.close();
  }
}

// ===========================================================================
// The command line
// ===========================================================================

const PROGRAM = "tcp_server";
const RUN_LINE = "deno run --allow-net tcp_server.ts";
/** How the help names it: the script, or a compiled binary by its name. */
const RUN_AS = Deno.build.standalone
  ? `./${Deno.execPath().split(/[\\/]/).pop()}`
  : RUN_LINE;

const HELP = `Usage: ${
  Deno.build.standalone ? RUN_AS.slice(2) : "tcp_server.ts"
} [options]

The TCP server of Kurose & Ross 2.7.2 (TCPServer.py): every client gets a
connection of its own; every byte it sends comes back upper-cased, until it
closes its side.

Options:
      --host HOST             address to bind (default 0.0.0.0, every IPv4
                              address; :: for IPv6 too; 127.0.0.1 for this
                              machine only)
  -p, --port PORT             port to bind, 0 for any free one (default 12000)
      --max-connections N     clients served at once; a new client beyond
                              that is still served, and if it stays 0.1 s the
                              idlest connection of the address (IPv6: the /64)
                              holding the most is closed for it (default 1000)
      --idle-timeout SECONDS  close a connection when no byte has moved for
                              this long (one waiting for its client to read
                              is not idle), 0 never (default 60)
  -v, --verbose               show each socket step on stderr, each line
                              starting with its time (ISO 8601, UTC): bind,
                              listen, accept, every recv and send with its byte
                              count, close
  -h, --help                  show this help

Prints "The server is ready to receive on HOST:PORT" once bound; stops on
Ctrl-C or SIGTERM, letting replies in flight finish, with a one-line summary
on stderr.

Example:
  ${RUN_AS} --port 12000
`;

const OPTIONS = {
  host: { type: "string", default: "0.0.0.0" },
  port: { type: "string", short: "p", default: "12000" },
  "max-connections": { type: "string", default: "1000" },
  "idle-timeout": { type: "string", default: "60" },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  let options: TcpServerOptions;
  try {
    const { values } = parseCommandLine(args, OPTIONS, false);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    checkHost(values.host);
    const numbers = parseNumbers(values, {
      port: { min: 0, max: 65535 },
      "max-connections": { min: 1, max: 1_000_000 },
      "idle-timeout": { min: 0, max: 86_400, decimals: 3, unit: "seconds" },
    });
    options = {
      hostname: values.host,
      port: numbers.port,
      maxConnections: numbers["max-connections"],
      idleTimeout: numbers["idle-timeout"],
      verbose: values.verbose,
    };
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    throw error;
  }
  return await run(options);
}

/** Serves until Ctrl-C or SIGTERM, then prints the summary. */
async function run(options: TcpServerOptions): Promise<number> {
  const shutdown = shutdownSignal();
  let server: TcpServer;
  try {
    requireNetAccess(options); // a one-line error, never Deno's prompt
    server = serveTcp({
      ...options,
      signal: shutdown.signal,
      onListen: (addr) =>
        console.log(`The server is ready to receive on ${formatAddress(addr)}`),
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
    `${PROGRAM}: served ${stats.connections} connections, ` +
      `closed ${stats.evicted} to make room, timed out ${stats.timedOut}, ` +
      `failed ${stats.failed}; ${
        bytesOf(stats.bytesIn)
      } in, ${stats.bytesOut} out`,
  );
  // Stopping stays prompt even when nobody reads stderr: 1 s for the log,
  // then 4 s more for the summary alone.
  await stderrLog.finish(1000, 4000);
  // Only now: a second signal while the log waits must still exit at once.
  shutdown.dispose();
  return 0;
}

// ===========================================================================
// Robustness: options and limits, the server's state, each connection's
// ===========================================================================

/** Options of {@linkcode serveTcp}. */
export interface TcpServerOptions {
  /** Address to bind; `0.0.0.0` (every IPv4 address) as the textbook's `''`. */
  hostname?: string;
  /** Port to bind; 0 lets the system pick a free one. Default 12000. */
  port?: number;
  /**
   * Connections served at once. When that many are open, a new client is
   * still served, and if it stays 0.1 s a connection is closed for it: of
   * the address (an IPv6 one by its /64) holding the most places, the one
   * that has gone longest without a byte moving. Default 1000.
   */
  maxConnections?: number;
  /** Seconds a connection may go without a byte moving; 0 never. Default 60. */
  idleTimeout?: number;
  /** Seconds replies in flight may take to finish at shutdown. Default 5. */
  shutdownTimeout?: number;
  /** Log each socket step: bind, listen, accept, every recv and send, close. */
  verbose?: boolean;
  /** Stops the server: no new connections, open ones finish, then it ends. */
  signal?: AbortSignal;
  /** Where log lines go; stderr by default, never waited for. */
  log?: (line: string) => void;
  /** Called once the socket listens, with its address (the ready line). */
  onListen?: (addr: Deno.NetAddr) => void;
}

/** What a server did, resolved by {@linkcode TcpServer.finished}. */
export interface TcpServerStats {
  /** Connections accepted and served. */
  connections: number;
  /** Connections closed to make room for a new one (`maxConnections`). */
  evicted: number;
  /** Connections closed by `idleTimeout`. */
  timedOut: number;
  /**
   * Connections that failed: reset by the client after it sent something,
   * or an error. A reset before any byte (a port scan) is not a failure.
   */
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

/**
 * Bytes read at a time: a connection starts small, so thousands of idle
 * clients cost little, and the buffer grows while reads fill it, so bulk
 * text moves in large reads.
 */
const MIN_READ_SIZE = 2 * 1024;
const MAX_READ_SIZE = 256 * 1024;
/**
 * Smallest read buffers of connections that ended, kept for new ones, at
 * most this many: under a stream of short connections, making a buffer for
 * each (memory from the system, and the garbage collector's work to give it
 * back) costs more than the rest of serving one.
 */
const MAX_SPARE_BUFFERS = 256;
const spareBuffers: Uint8Array[] = [];
/**
 * Room for upper-cased text that is not ASCII (ASCII is upper-cased where it
 * was read). A connection holds at most its read buffer and this.
 */
const REPLY_SIZE = 16 * 1024;
/**
 * How long the start of a character waits for its rest before going back as
 * it is: briefly for a person, but longer than TCP takes to send a lost
 * segment again twice (200 ms, then 400 ms), which must not cut a character.
 */
const UNFINISHED_CHARACTER_WAIT_MS = 1000;
/** Error lines logged per second at most, so a hostile peer cannot flood stderr. */
const ERROR_LINES_PER_SECOND = 10;
/** How long a pause in accepting lasts when the system runs out of resources. */
const ACCEPT_RETRY_MS = 100;
/**
 * How long a newcomer to a full server is served before a place is made
 * for it, if it stays: a client that closes at once has its end read well
 * before.
 */
const SETTLE_MS = 100;

/** Why the server closed a connection early. */
type ClosedBy = "idle timeout" | "shutdown" | "evicted";

/**
 * The server's state and limits: its welcoming socket, the open
 * connections, the statistics, and stopping.
 */
class Server {
  readonly welcomingSocket: Deno.TcpListener;
  readonly stats: TcpServerStats = {
    connections: 0,
    evicted: 0,
    timedOut: 0,
    failed: 0,
    bytesIn: 0,
    bytesOut: 0,
  };
  /** The open connections, none closed. */
  readonly connections = new Set<Connection>();
  /** `--verbose`: each socket step as it happens, in the textbook's words. */
  readonly trace?: (line: string) => void;
  readonly logError: ReturnType<typeof rateLimited>;
  readonly idleMs: number;
  stopping = false;
  /** Connections admitted whose serving has not ended. */
  #serving = 0;
  /** Set by `finish` while it waits for the last connection to end. */
  #lastEnded?: () => void;
  /** Out of files, a connection gave way, and no client is accepted yet. */
  #evictedForFiles = false;
  #maxConnections: number;
  #shutdownMs: number;
  #log: (line: string) => void;
  #signal?: AbortSignal;
  #sweeper?: ReturnType<typeof setInterval>;
  #shutdownTimer?: ReturnType<typeof setTimeout>;

  constructor(welcomingSocket: Deno.TcpListener, options: TcpServerOptions) {
    this.welcomingSocket = welcomingSocket;
    this.#maxConnections = options.maxConnections ?? 1000;
    this.idleMs = (options.idleTimeout ?? 60) * 1000;
    this.#shutdownMs = (options.shutdownTimeout ?? 5) * 1000;
    this.#log = options.log ?? logToStderr;
    this.logError = rateLimited(this.#log, ERROR_LINES_PER_SECOND);
    this.trace = options.verbose ? (options.log ?? traceToStderr) : undefined;
    const ipv6 = welcomingSocket.addr.hostname.includes(":");
    this.trace?.(
      `socket(AF_INET${ipv6 ? "6" : ""}, SOCK_STREAM), bind, listen: ` +
        formatAddress(welcomingSocket.addr),
    );
    // One sweep closes every idle connection: cheaper than a timer per read.
    if (this.idleMs > 0) {
      this.#sweeper = setInterval(
        () => this.#closeIdle(),
        Math.min(1000, Math.max(10, this.idleMs / 4)),
      );
    }
    this.#signal = options.signal;
    this.#signal?.addEventListener("abort", this.stop, { once: true });
  }

  /** A new client's connection, counted and served at once. */
  admit(connectionSocket: Deno.TcpConn): Connection {
    this.#evictedForFiles = false;
    const connection = new Connection(connectionSocket, this);
    this.connections.add(connection);
    this.#serving++;
    this.stats.connections++;
    this.trace?.(`accept: a connection socket for ${connection.client}`);
    return connection;
  }

  /**
   * Over `maxConnections` with `newcomer`, room is made if it stays
   * `SETTLE_MS`, served all the while: a storm of clients that close at
   * once, or an exchange that ends at once, takes no one's place. Then
   * one connection gives way if too many are left; never the newcomer, nor
   * one that came after it and has not yet shown whether it stays.
   */
  async makeRoom(newcomer: Connection) {
    await withinOrTooLate(newcomer.served ?? Promise.resolve(), SETTLE_MS);
    if (!this.connections.has(newcomer)) return; // it did not stay
    if (!this.stopping && this.#overWith(newcomer)) {
      this.#makeRoomFor(newcomer.client, newcomer);
    }
  }

  /** Whether more connections are open than `maxConnections`. */
  get full(): boolean {
    return this.connections.size > this.#maxConnections;
  }

  /** Whether `newcomer` and the connections settled are too many. */
  #overWith(newcomer: Connection): boolean {
    if (!this.full) return false;
    const now = performance.now();
    let count = 0;
    for (const connection of this.connections) {
      if (connection === newcomer || !connection.showing(now)) count++;
    }
    return count > this.#maxConnections;
  }

  /** Counts a connection whose serving has ended, for `finish`. */
  ended() {
    if (--this.#serving === 0) this.#lastEnded?.();
  }

  /**
   * After a failed `accept`: a connection reset before it was accepted
   * costs nothing; running out of files makes room; anything else pauses.
   */
  async acceptFailed(error: unknown) {
    if (this.stopping) return;
    if (error instanceof Deno.errors.BadResource) throw error;
    if (concernsOneConnection(error)) {
      // Not a failure of the server's: it costs nothing, and counts nothing.
      this.trace?.(
        `accept: a connection failed before it was accepted: ${
          explainError(error)
        }`,
      );
      return;
    }
    if (outOfFiles(error) && this.connections.size > 0) {
      // The system's limit on open files came before --max-connections:
      // one connection gives way, as when the server is full, and accept
      // waits until its descriptor is free (when serving it has ended).
      // Until a client is accepted, no other gives way. Not a failure: the
      // newcomer waits in the backlog for its place (and, if every
      // connection is new and still showing whether it stays, for a pause).
      const evicted = this.#evictedForFiles
        ? undefined
        : this.#makeRoomFor("a new client, out of files");
      if (evicted) {
        this.#evictedForFiles = true;
        await withinOrTooLate(
          evicted.served ?? Promise.resolve(),
          ACCEPT_RETRY_MS,
        );
        return;
      }
    } else {
      this.stats.failed++;
    }
    this.logError(
      `accept failed: ${explainError(error)}; ` +
        `trying again in ${ACCEPT_RETRY_MS} ms`,
    );
    await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_MS));
  }

  /**
   * Stops accepting. Connections waiting for a request close now; replies
   * to what has been read may finish, for `shutdownTimeout` at most.
   */
  stop = () => {
    if (this.stopping) return;
    this.stopping = true;
    try {
      this.welcomingSocket.close();
    } catch {
      // already closed: accept failed for good
    }
    for (const connection of this.connections) {
      // One holding the start of a character sends it back first, when its
      // wait for the rest ends (a second at most), and then closes.
      if (connection.awaitingRequest && !connection.holdsCharacter) {
        connection.closeEarly("shutdown");
      }
    }
    this.#shutdownTimer = setTimeout(() => {
      for (const connection of this.connections) {
        connection.closeEarly("shutdown");
      }
    }, this.#shutdownMs);
  };

  /** Stops, waits for every connection to end, and cleans up. */
  async finish() {
    this.stop();
    if (this.#serving > 0) {
      await new Promise<void>((resolve) => this.#lastEnded = resolve);
    }
    clearInterval(this.#sweeper);
    clearTimeout(this.#shutdownTimer);
    this.trace?.(
      `close: the welcoming socket ${formatAddress(this.welcomingSocket.addr)}`,
    );
    this.#signal?.removeEventListener("abort", this.stop);
    const suppressed = this.logError.suppressed();
    if (suppressed > 0) {
      this.#log(`${suppressed} more error lines were suppressed`);
    }
  }

  #closeIdle() {
    const now = performance.now();
    for (const connection of this.connections) {
      // Not idle: waiting for its client to read, or holding the start of
      // a character, which goes back as it is when its wait ends.
      if (connection.sending || connection.holdsCharacter) continue;
      if (now - connection.lastActive >= this.idleMs) {
        connection.closeEarly("idle timeout");
      }
    }
  }

  /**
   * With `maxConnections` open, a connection gives way to a new client: of
   * the address holding the most places, the one that has gone longest
   * without a byte moving. So clients trickling a byte now and then cannot
   * hold every place against newcomers, and one address filling the server
   * (a slowloris) loses its own places first, as nginx's `limit_conn`
   * shares places by address.
   */
  #makeRoomFor(
    newcomer: string,
    spared?: Connection,
  ): Connection | undefined {
    const now = performance.now();
    const idlest = connectionToEvict(
      this.connections,
      (connection) => connection !== spared && !connection.showing(now),
    );
    if (!idlest) return;
    this.stats.evicted++;
    const idle = (performance.now() - idlest.lastActive) / 1000;
    this.logError(
      `${idlest.client}: closed after ${idle.toFixed(1)} s without a byte ` +
        `moving, to make room for ${newcomer} ` +
        `(--max-connections ${this.#maxConnections})`,
    );
    idlest.closeEarly("evicted");
    return idlest;
  }
}

/**
 * One client's connection socket and what serving it holds: the read
 * buffer, the start of a character waiting for its rest, the counts.
 */
class Connection {
  readonly socket: Deno.TcpConn;
  readonly server: Server;
  /** When a byte last moved, from `performance.now()`. */
  lastActive = performance.now();
  /** Waiting for the client's next bytes: shutdown closes it at once. */
  awaitingRequest = false;
  /**
   * Sending, and so waiting for the client to read: not idle, since the
   * server cannot see a slow reader's progress until its buffers drain.
   */
  sending = false;
  /** Serving it: resolves once it has ended and its socket is closed. */
  served?: Promise<void>;
  #client?: string;
  #address?: string;
  #closed = false;
  #closedBy?: ClosedBy;
  #buffer = spareBuffers.pop() ?? new Uint8Array(MIN_READ_SIZE);
  /** Read to its end: no read is in flight into `#buffer` any more. */
  #readToEnd = false;
  /** Made for the first text that is not ASCII. */
  #reply?: Uint8Array;
  /** Bytes at the front of `#buffer`: the start of a character. */
  #held = 0;
  /** Where the last read ended in `#buffer`. */
  #end = 0;
  #bytesIn = 0;
  #bytesOut = 0;
  #ending = "closed by the server's shutdown";

  constructor(socket: Deno.TcpConn, server: Server) {
    this.socket = socket;
    this.server = server;
  }

  /** The client's address and port, for log lines. */
  get client(): string {
    // Made when first asked for: most connections are never logged.
    return this.#client ??= formatAddress(this.socket.remoteAddr);
  }

  /**
   * The client's address, an IPv6 one by its /64: places are shared by
   * address, and one host or site may hold a whole /64.
   */
  get address(): string {
    // Made when first asked for: only a full server shares out places.
    return this.#address ??= placeHolder(this.socket.remoteAddr.hostname);
  }

  /**
   * Reads what the client sends next, after the start of a character held
   * from the last read; `null` once the client has closed its side.
   */
  async recv(): Promise<Uint8Array | null> {
    const start = this.#held;
    const reading = this.socket.read(this.#buffer.subarray(start));
    // Awaited here, not in a helper: one promise less on every read.
    this.awaitingRequest = true;
    let received = start > 0
      ? await withinOrTooLate(reading, UNFINISHED_CHARACTER_WAIT_MS)
      : await reading;
    this.awaitingRequest = false;
    if (received === TOO_LATE) {
      // The rest of the character did not come: its start goes back as is.
      await this.sendUnfinished();
      if (this.server.stopping) this.closeEarly("shutdown"); // no more is wanted
      this.awaitingRequest = true;
      received = await reading;
      this.awaitingRequest = false;
    }
    if (received === null) {
      this.server.trace?.(
        `recv: end of stream, ${this.client} closed its side`,
      );
      this.#ending = "closed by the client";
      this.#readToEnd = true;
      return null;
    }
    this.lastActive = performance.now();
    this.server.trace?.(`recv: ${bytesOf(received)} from ${this.client}`);
    this.#bytesIn += received;
    this.#end = start + received;
    return this.#buffer.subarray(start - this.#held, this.#end);
  }

  /**
   * Sends `sentence` (what `recv` returned) upper-cased, all but the start
   * of a character at its end, which waits for its rest at the front of the
   * buffer.
   */
  async upperCaseAndSend(sentence: Uint8Array) {
    // ASCII, most text, is upper-cased where it lies: nothing is copied.
    let done = upperCaseAsciiPrefixInPlace(sentence);
    if (done === sentence.length) {
      await this.#send(sentence);
      return this.#hold(0);
    }
    // Other text follows. A short ASCII start goes out in the same write as
    // the rest, so that a short message gets its reply in one piece: the
    // textbook's client reads once.
    const reply = this.#reply ??= new Uint8Array(REPLY_SIZE);
    let ready = 0;
    if (done <= REPLY_SIZE / 2) reply.set(sentence.subarray(0, ready = done));
    else await this.#send(sentence.subarray(0, done));
    while (done < sentence.length) {
      const { read, written } = upperCaseInto(
        sentence.subarray(done),
        reply.subarray(ready),
        false,
      );
      if (read === 0) break; // the start of a character: wait for the rest
      await this.#send(reply.subarray(0, ready + written));
      ready = 0;
      done += read;
      await fairTurn();
    }
    if (ready > 0) await this.#send(reply.subarray(0, ready));
    this.#hold(sentence.length - done);
  }

  /**
   * Whether it is still showing whether it stays: new and silent (see
   * `makeRoom`). It neither counts against the limit nor gives way.
   */
  showing(now: number): boolean {
    return this.#bytesIn === 0 && now - this.lastActive < SETTLE_MS;
  }

  /** Whether it holds the start of a character, waiting for its rest. */
  get holdsCharacter(): boolean {
    return this.#held > 0;
  }

  /** Sends the start of a character held for its rest, as it is. */
  async sendUnfinished() {
    await this.#send(this.#buffer.subarray(0, this.#held));
    this.#held = 0;
  }

  /** Closes the socket early, for `reason`: serving it then ends. */
  closeEarly(reason: ClosedBy) {
    if (this.#closed) return;
    this.#closedBy = reason;
    this.#closeSocket();
  }

  /** Closes the socket, if not yet closed, once serving it has ended. */
  close() {
    if (!this.#closed) this.#closeSocket();
    this.server.stats.bytesIn += this.#bytesIn;
    this.server.stats.bytesOut += this.#bytesOut;
    this.server.trace?.(
      `close: ${this.client}, ${bytesOf(this.#bytesIn)} in, ` +
        `${this.#bytesOut} out, ${this.#ending}`,
    );
    this.server.ended();
    // Its buffer serves the next client: a new one costs more than a read.
    if (
      this.#readToEnd && this.#buffer.length === MIN_READ_SIZE &&
      spareBuffers.length < MAX_SPARE_BUFFERS
    ) {
      spareBuffers.push(this.#buffer);
    }
  }

  /** Counts a failure, or an early close by the server, and says why. */
  failed(error: unknown) {
    if (this.#closedBy === "idle timeout") {
      this.server.stats.timedOut++;
      this.#ending = `idle for ${this.server.idleMs / 1000} s, closed`;
    } else if (this.#closedBy === "shutdown") {
      this.#ending = "closed by the server's shutdown";
    } else if (this.#closedBy === "evicted") {
      this.#ending = "closed to make room for a new client";
    } else if (
      error instanceof Deno.errors.ConnectionReset && this.#bytesIn === 0
    ) {
      // Gone before a word, as after a port scan: no failure of anyone's.
      this.#ending = "reset by the client before it sent anything";
    } else {
      this.server.stats.failed++;
      this.#ending = explainError(error);
      if (
        !(error instanceof Deno.errors.ConnectionReset ||
          error instanceof Deno.errors.BrokenPipe)
      ) {
        this.server.logError(`${this.client}: ${this.#ending}`);
      }
    }
  }

  #closeSocket() {
    this.#closed = true;
    this.server.connections.delete(this);
    this.socket.close();
  }

  /**
   * Keeps the last `held` bytes read, the start of a character, at the front
   * of the buffer for its rest. The buffer grows while reads fill it.
   */
  #hold(held: number) {
    this.#held = held;
    const end = this.#end;
    this.#buffer.copyWithin(0, end - held, end);
    if (end === this.#buffer.length && end < MAX_READ_SIZE) {
      const grown = new Uint8Array(Math.min(end * 16, MAX_READ_SIZE));
      grown.set(this.#buffer.subarray(0, held));
      this.#buffer = grown;
    }
  }

  async #send(data: Uint8Array) {
    this.sending = true;
    try {
      for (let sent = 0; sent < data.length;) {
        const written = await this.socket.write(data.subarray(sent));
        sent += written;
        this.lastActive = performance.now();
        this.server.trace?.(`send: ${bytesOf(written)} to ${this.client}`);
      }
    } finally {
      this.sending = false;
    }
    this.#bytesOut += data.length;
  }
}

/**
 * Of `connections`, the one that gives way to a newcomer: of the address
 * holding the most places, the one that has gone longest without a byte
 * moving. Only those that `mayGiveWay` are counted.
 *
 * @ignore Exported for the tests alone.
 */
export function connectionToEvict<
  C extends { address: string; lastActive: number },
>(connections: Iterable<C>, mayGiveWay: (connection: C) => boolean) {
  const held = new Map<string, number>();
  // Counted in the loop: Math.max(...held.values()) throws a RangeError
  // past some 125,000 addresses.
  let most = 0;
  for (const connection of connections) {
    if (!mayGiveWay(connection)) continue;
    const places = (held.get(connection.address) ?? 0) + 1;
    held.set(connection.address, places);
    if (places > most) most = places;
  }
  let idlest: C | undefined;
  for (const connection of connections) {
    if (
      held.get(connection.address) === most && mayGiveWay(connection) &&
      (!idlest || connection.lastActive < idlest.lastActive)
    ) {
      idlest = connection;
    }
  }
  return idlest;
}

/**
 * Whether a failed `accept` concerns only the connection it would have
 * returned (reset or aborted before it was accepted): accept the next one at
 * once. Running out of files makes room instead; anything else pauses.
 */
function concernsOneConnection(error: unknown): boolean {
  return error instanceof Deno.errors.NotConnected ||
    error instanceof Deno.errors.ConnectionAborted ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.ConnectionRefused ||
    error instanceof Deno.errors.TimedOut;
}

/** Whether `error` says that this process, or the system, is out of files. */
function outOfFiles(error: unknown): boolean {
  return /\(os error (23|24)\)/.test(String(error));
}

/**
 * Who holds a place, by a client's address: an IPv4 address (mapped into
 * IPv6 too) by itself, an IPv6 address by its first 64 bits, which a single
 * host or site is given whole (RFC 4291): within them it may pick any number
 * of addresses, which must not earn it more places.
 */
function placeHolder(hostname: string): string {
  if (!hostname.includes(":")) return hostname;
  const mapped = hostname.match(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i);
  if (mapped) return mapped[1];
  const [head, tail] = hostname.split("%")[0].split("::");
  const front = head === "" ? [] : head.split(":");
  const back = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = tail === undefined
    ? front
    : [...front, ...Array(8 - front.length - back.length).fill("0"), ...back];
  return `${
    groups.slice(0, 4).map((group) => parseInt(group, 16).toString(16)).join(
      ":",
    )
  }::/64`;
}

const TOO_LATE = Symbol("too late");

/** What `promise` resolves with, or `TOO_LATE` if that takes over `ms`. */
async function withinOrTooLate<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | typeof TOO_LATE> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<typeof TOO_LATE>((resolve) => {
    timer = setTimeout(resolve, ms, TOO_LATE);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

// ===========================================================================
// Robustness: fairness, busy clients take turns
// ===========================================================================

// Fairness, in plain terms: it is as if the busy clients stood in a queue
// and each, at the front, had one piece of work done (one read and its
// reply, or 16 KiB of a long reply) before going to the back; and as if,
// every millisecond of work, the server looked up to see who else had come
// (new clients, bytes, timers, signals), who are then served at once. How:
// a loop calls `fairTurn()` after each piece; `handOutTurns()` below runs
// the queue. Its cost and its figures: bench/RESULTS.md.

/** How long loops may work in one cycle before every socket is polled again. */
const TURN_MS = 1;
/**
 * Turns of the event loop in which its runtime (tokio) polls every socket
 * at least once: while there is always work to do, it polls the sockets
 * that are not yet ready only every 61 turns.
 */
const TURNS_PER_POLL = 64; // 61, and a margin
/** Loops that have had their share, waiting for their next turn, in order. */
const turnQueue: (() => void)[] = [];
let cycleStarted = performance.now();
let handingOutTurns = false;

/**
 * Called by a loop after each piece of work: returns at once while this
 * cycle's time lasts and nobody waits, else a promise of the loop's next
 * turn. A socket that always has data completes every read at once, so a
 * loop that reads, upper-cases and writes would otherwise never wait, and
 * every other client, timer and signal would wait for it.
 */
function fairTurn(): Promise<void> | undefined {
  if (turnQueue.length === 0 && performance.now() - cycleStarted < TURN_MS) {
    return undefined;
  }
  const turn = new Promise<void>((resolve) => turnQueue.push(resolve));
  if (!handingOutTurns) handOutTurns();
  return turn;
}

/**
 * Cycles while loops wait: in each turn of the event loop the loop that has
 * waited longest does one piece of work, until the cycle's `TURN_MS` are
 * spent; the rest of its turns go by empty, so that the runtime polls every
 * socket, timer and signal once per cycle, however many loops are busy.
 */
async function handOutTurns() {
  handingOutTurns = true;
  while (turnQueue.length > 0) {
    cycleStarted = performance.now();
    for (let turn = 0; turn < TURNS_PER_POLL && turnQueue.length > 0; turn++) {
      if (performance.now() - cycleStarted < TURN_MS) turnQueue.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  handingOutTurns = false;
}

// ===========================================================================
// Upper-casing: ASCII where it lies; the rest is in the shared helpers
// ===========================================================================

/**
 * Upper-cases the ASCII bytes at the start of `bytes` where they lie and
 * returns how many there were: all of them, for ASCII text. In plain terms:
 * each byte from "a" to "z" becomes `byte - 0x20`, as the last loop does one
 * byte at a time; the first does four at a time.
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
