#!/usr/bin/env -S deno run --allow-net
/**
 * TCP client of Kurose & Ross, section 2.7.2 (`TCPClient.py`), in Deno: one
 * connection per sentence; with `--stream`, all of standard input over one.
 *
 * ```sh
 * deno run --allow-net tcp_client.ts --host localhost hello world
 * ```
 *
 * `--help` lists the options. As a module it exports {@linkcode sendTcp},
 * {@linkcode streamTcp} and {@linkcode checkTcp} (the `--check` lab kit).
 * The textbook's program alone: `textbook/TCPClient.ts`. Licence: 0BSD.
 * @module
 */
import { lookup } from "node:dns/promises";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

// ===========================================================================
// The main flow: TCPClient.py, in the order it runs
// ===========================================================================

/**
 * The client that `main` runs without `--stream` or `--check`. TCPClient.py
 * connects, then asks for its one sentence; here each sentence is read
 * first, then sent on a connection of its own.
 */
async function runClient(
  values: { host: string; json: boolean },
  positionals: string[],
  options: TcpClientOptions,
): Promise<void> {
  // TCPClient.py: sentence = input('Input lowercase sentence:')
  // Or the words on the command line, or each line of a pipe.
  const sentences = positionals.length > 0
    ? [positionals.join(" ")]
    : Deno.stdin.isTerminal()
    ? promptedLines()
    : readLines(Deno.stdin.readable);
  await printReplies(sendTcp(sentences, options), values);
}

/**
 * Sends each sentence over a TCP connection of its own, as the textbook's
 * client does, and yields the reply line to it, in order (without its
 * newline). The reply ends at the newline that answers the one sent, or
 * where the server closes the connection.
 *
 * @example
 * ```ts
 * for await (const reply of sendTcp(["hello world"], { port: 12000 })) {
 *   console.log(new TextDecoder().decode(reply)); // HELLO WORLD
 * }
 * ```
 */
export async function* sendTcp(
  sentences: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  options: TcpClientOptions = {},
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  for await (const sentence of sentences) {
    options.signal?.throwIfAborted();
    const text = typeof sentence === "string"
      ? encoder.encode(sentence)
      : sentence;
    yield await exchange(text, options);
  }
}

/**
 * One sentence on a connection of its own, as TCPClient.py sends its one:
 * connect, send the sentence and a newline, receive the reply line, close.
 */
async function exchange(
  sentence: Uint8Array,
  options: TcpClientOptions,
): Promise<Uint8Array> {
  // TCPClient.py: serverName = 'servername'
  // TCPClient.py: serverPort = 12000
  const { hostname = "localhost", port = 12000, log } = options;
  const timeoutMs = (options.timeout ?? 10) * 1000;
  // TCPClient.py: clientSocket = socket(AF_INET, SOCK_STREAM)
  // TCPClient.py: clientSocket.connect((serverName, serverPort))
  const clientSocket = await connect(hostname, port, timeoutMs, options.signal);
  const server = `${formatHost(hostname)}:${port}`;
  log?.(`connect: ${formatAddress(clientSocket.localAddr)} to ${server}`);
  const guard = closeOnTimeoutOrAbort(clientSocket, timeoutMs, options.signal);
  const message = concat([sentence, new Uint8Array([NEWLINE])]);
  const sending = sendSentence(clientSocket, message, server, log);
  const chunks: Uint8Array[] = [];
  let ending: unknown;
  try {
    ending = await receiveReply(clientSocket, message, chunks, server, log);
  } catch (error) {
    ending = guard.reason() ?? error;
  } finally {
    guard.clear();
    closeConnection(clientSocket, log);
    await sending.catch(() => {});
  }
  const reply = concat(chunks);
  if (ending === "newline") return reply.subarray(0, -1);
  throw replyCutShort(reply, ending, server, hostname, timeoutMs);
}

/**
 * Connects to the first address of `hostname` that answers (IPv4 first, as
 * the servers bind IPv4 by default), within `timeoutMs`.
 */
async function connect(
  hostname: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  signal?.throwIfAborted();
  const server = `${formatHost(hostname)}:${port}`;
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  function abort() {
    controller.abort();
  }
  signal?.addEventListener("abort", abort, { once: true });
  try {
    const addresses = await lookupAddresses(hostname);
    let lastError: unknown;
    for (const address of addresses) {
      try {
        return await Deno.connect({
          hostname: address,
          port,
          signal: controller.signal,
        });
      } catch (error) {
        lastError = error;
        if (controller.signal.aborted) break;
      }
    }
    if (signal?.aborted) throw signal.reason;
    if (controller.signal.aborted) {
      throw new Error(
        `no connection to ${server} within ${timeoutMs / 1000} s: is the ` +
          `host up, and is no firewall dropping the connection?`,
      );
    }
    if (lastError instanceof Deno.errors.ConnectionRefused) {
      throw new Error(
        `connection refused by ${server}: is the server running there?`,
        { cause: lastError },
      );
    }
    throw lastError;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

/**
 * Sends the sentence and its newline. It is sent while the reply is read:
 * a long sentence comes back while it goes.
 */
function sendSentence(
  clientSocket: Deno.TcpConn,
  message: Uint8Array,
  server: string,
  log?: (line: string) => void,
): Promise<void> {
  // TCPClient.py: clientSocket.send(sentence.encode())
  const sending = writeAll(clientSocket, message).then(() =>
    log?.(`send: ${bytesOf(message.length)} to ${server}`)
  );
  sending.catch(() => {}); // a server that replied and closed early is fine
  return sending;
}

/**
 * Reads the reply into `chunks`, up to the newline that answers the last
 * one of `message`: "newline" once it came, "closed" if the server closed
 * first. Ending at the newline works with this project's server, the
 * textbook's Python one (which closes after one reply) and the Java
 * companion one (which never closes).
 */
async function receiveReply(
  clientSocket: Deno.TcpConn,
  message: Uint8Array,
  chunks: Uint8Array[],
  server: string,
  log?: (line: string) => void,
): Promise<"newline" | "closed"> {
  // Upper-casing keeps every newline, so the reply ends at the newline that
  // answers ours.
  let newlinesExpected = 0;
  for (const byte of message) if (byte === NEWLINE) newlinesExpected++;
  const buffer = new Uint8Array(16 * 1024);
  let length = 0;
  while (newlinesExpected > 0) {
    if (length > 3 * message.length + 4096) {
      throw new Error(`${server} sent more than any reply to this sentence`);
    }
    // TCPClient.py: modifiedSentence = clientSocket.recv(1024)
    const received = await clientSocket.read(buffer);
    if (received === null) {
      log?.(`recv: end of stream, ${server} closed its side`);
      return "closed";
    }
    log?.(`recv: ${bytesOf(received)} from ${server}`);
    // The reply ends at the newline that answers ours: what follows it is
    // not part of it.
    let end = 0;
    while (end < received && newlinesExpected > 0) {
      if (buffer[end++] === NEWLINE) newlinesExpected--;
    }
    chunks.push(buffer.slice(0, end));
    length += end;
  }
  return "newline";
}

/** Closes the connection, whatever state it is in. */
function closeConnection(
  clientSocket: Deno.TcpConn,
  log?: (line: string) => void,
) {
  // TCPClient.py: clientSocket.close()
  closeQuietly(clientSocket);
  log?.("close");
}

/**
 * Prints each reply as it comes: its bytes and a newline, or with `--json`
 * an object, and a summary last.
 */
async function printReplies(
  modifiedSentences: AsyncIterable<Uint8Array>,
  values: { host: string; json: boolean },
): Promise<void> {
  const stdout = standardOutput().getWriter();
  let replies = 0;
  try {
    for await (const modifiedSentence of modifiedSentences) {
      replies++;
      // TCPClient.py: print('From Server: ', modifiedSentence.decode())
      await printReply(stdout, modifiedSentence, values.json);
    }
  } catch (error) {
    await printFailure(stdout, error, replies, values);
    throw error;
  }
  if (values.json) {
    const summary = JSON.stringify({ replies }) + "\n";
    await stdout.write(new TextEncoder().encode(summary));
  }
}

/** Options of {@linkcode sendTcp} and {@linkcode streamTcp}. */
export interface TcpClientOptions {
  /** The server's name or address. Default `localhost`. */
  hostname?: string;
  /** The server's port. Default 12000. */
  port?: number;
  /**
   * Seconds allowed for connecting, and for the reply to come (with
   * `streamTcp`: for the server to send its next bytes once the input has
   * ended). Default 10.
   */
  timeout?: number;
  /** Stops at once: the connection is closed and the call throws. */
  signal?: AbortSignal;
  /** Called with a line for each socket step (connect, send, recv, close). */
  log?: (line: string) => void;
}

// ===========================================================================
// The command line
// ===========================================================================

const PROGRAM = "tcp_client";
const RUN_LINE = "deno run --allow-net tcp_client.ts";
/** How the help names it: the script, or a compiled binary by its name. */
const RUN_AS = Deno.build.standalone
  ? `./${Deno.execPath().split(/[\\/]/).pop()}`
  : RUN_LINE;
const PROMPT = "Input lowercase sentence:";

const HELP = `Usage: ${
  Deno.build.standalone ? RUN_AS.slice(2) : "tcp_client.ts"
} [options] [SENTENCE...]

The TCP client of Kurose & Ross 2.7.2 (TCPClient.py): connects to the TCP
server, sends a sentence and a newline, prints the upper-cased reply line,
closes; one connection per sentence.

  SENTENCE...    words to send, joined by spaces; without them the client
                 prompts "${PROMPT}" at a terminal, or sends each
                 line of a pipe and prints one reply line for each

Options:
      --host HOST        server name or address (default localhost)
  -p, --port PORT        server port (default 12000)
      --timeout SECONDS  give up connecting, or waiting for a reply, after
                         this long (default 10)
      --stream           one connection for all of standard input: send it
                         as it is, print what comes back, half-close at the
                         end of input and stop when the server has sent all
      --json             print one JSON object per reply, then a summary
                         object (for autograders)
      --check            grade the server at --host and --port: a sentence,
                         Unicode, a long sentence, how replies end, two
                         clients, half-close, invalid UTF-8; PASS, WARN,
                         FAIL or SKIP (not checked) each, a score; exit 1
                         on a FAIL or SKIP (each wait --timeout, default 2 s
                         here)
  -v, --verbose          show each socket step on stderr: connect, send,
                         recv, close, with addresses and byte counts
  -h, --help             show this help

Replies go to stdout, everything else to stderr. Exit status: 0 all
answered, 1 a failure (refused, timed out, unknown host), 2 a usage error.

Example:
  ${RUN_AS} --host localhost --port 12000 hello world
  ${RUN_AS} --stream < book.txt > BOOK.TXT
  ${RUN_AS} --check --host localhost --port 12000
`;

const OPTIONS = {
  host: { type: "string", default: "localhost" },
  port: { type: "string", short: "p", default: "12000" },
  timeout: { type: "string" },
  stream: { type: "boolean", default: false },
  check: { type: "boolean", default: false },
  json: { type: "boolean", default: false },
  verbose: { type: "boolean", short: "v", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  try {
    const { values, positionals } = parseCommandLine(args, OPTIONS, true);
    if (values.help) {
      console.log(HELP);
      return 0;
    }
    checkHost(values.host);
    // Each wait of a check is short, so a dead server is graded in seconds.
    const timeoutText = values.timeout ?? (values.check ? "2" : "10");
    const { port, timeout } = parseNumbers(
      { ...values, timeout: timeoutText },
      {
        port: { min: 1, max: 65535 },
        timeout: TIMEOUT_RANGE,
      },
    );
    checkModes(values, positionals);
    if (values.check) {
      return await reportChecks(
        `Checking the TCP server at ${formatHost(values.host)}:${port} ` +
          `(each wait at most ${timeout} s)`,
        checkTcp({ hostname: values.host, port, timeout }),
        values.json,
      );
    }
    return await run(values, positionals, {
      hostname: values.host,
      port,
      timeout,
      log: values.verbose
        ? (line) => console.error(`${PROGRAM}: ${line}`)
        : undefined,
    });
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    throw error;
  }
}

/** Refuses options that do not go together, and words where none belong. */
function checkModes(
  values: { check: boolean; stream: boolean; json: boolean; verbose: boolean },
  positionals: string[],
) {
  if (values.check && values.stream) {
    throw new UsageError("--check or --stream, not both");
  }
  if (values.check && positionals.length > 0) {
    throw new UsageError("--check sends its own sentences: give it no words");
  }
  if (values.stream && positionals.length > 0) {
    throw new UsageError(
      "--stream reads standard input: give no words with it",
    );
  }
  if (values.stream && values.json) {
    throw new UsageError("--stream copies bytes as they are: it has no --json");
  }
  if (values.verbose && (values.check || values.stream)) {
    throw new UsageError(
      "--verbose shows each sentence's socket steps: not with " +
        `${values.check ? "--check" : "--stream"}`,
    );
  }
}

/**
 * Runs the client, line by line or with `--stream`; resolves with the exit
 * status: 1, with one line on stderr that says why, when it fails.
 */
async function run(
  values: { host: string; json: boolean; stream: boolean },
  positionals: string[],
  options: TcpClientOptions,
): Promise<number> {
  try {
    if (values.stream) {
      await streamTcp(Deno.stdin.readable, standardOutput(), options);
    } else {
      await runClient(values, positionals, options);
    }
  } catch (error) {
    if (error instanceof StdoutClosed) return 0;
    console.error(`${PROGRAM}: ${explainError(error, values.host)}`);
    return 1;
  }
  return 0;
}

/**
 * Writes one reply: its bytes and a newline, or a JSON object. A cut reply
 * is written as it came, with no newline it did not have.
 */
async function printReply(
  stdout: WritableStreamDefaultWriter<Uint8Array>,
  reply: Uint8Array,
  json: boolean,
  cut = false,
) {
  if (json) {
    const object = { ...jsonReply(reply), ...(cut ? { cut } : {}) };
    await stdout.write(new TextEncoder().encode(JSON.stringify(object) + "\n"));
  } else {
    await stdout.write(reply);
    if (!cut) await stdout.write(new Uint8Array([NEWLINE]));
  }
}

/**
 * When the replies stop on an error: a reply cut short is printed as far as
 * it came, and with `--json` the summary still comes, with what went wrong,
 * for autograders.
 */
async function printFailure(
  stdout: WritableStreamDefaultWriter<Uint8Array>,
  error: unknown,
  replies: number,
  values: { host: string; json: boolean },
) {
  if (error instanceof CutReplyError) {
    await printReply(stdout, error.received, values.json, true);
  }
  if (values.json && !(error instanceof StdoutClosed)) {
    const failed = { replies, error: explainError(error, values.host) };
    await stdout.write(new TextEncoder().encode(JSON.stringify(failed) + "\n"));
  }
}

// ===========================================================================
// Streaming: --stream
// ===========================================================================

/** Bytes read at a time in `--stream` mode. */
const STREAM_READ_SIZE = 64 * 1024;

/**
 * Copies `input` to the server over one connection and everything the
 * server sends to `output`. At the end of the input the connection is
 * half-closed; the call resolves once the server has sent everything and
 * closed its side.
 *
 * @example
 * ```ts
 * await streamTcp(Deno.stdin.readable, Deno.stdout.writable, { port: 12000 });
 * ```
 */
export async function streamTcp(
  input: ReadableStream<Uint8Array>,
  output: WritableStream<Uint8Array>,
  options: TcpClientOptions = {},
): Promise<{ sent: number; received: number }> {
  const { hostname = "localhost", port = 12000, signal } = options;
  const timeoutMs = (options.timeout ?? 10) * 1000;
  const server = `${formatHost(hostname)}:${port}`;
  const clientSocket = await connect(hostname, port, timeoutMs, signal);
  const copy = new StreamCopy(clientSocket, server, timeoutMs);
  function abort() {
    closeQuietly(clientSocket);
  }
  signal?.addEventListener("abort", abort, { once: true });
  const reader = input.getReader();
  const uploading = copy.upload(reader);
  uploading.catch(() => {});
  const writer = output.getWriter();
  try {
    await copy.download(writer);
    await uploading;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw copy.timedOut ?? error;
  } finally {
    copy.stop();
    signal?.removeEventListener("abort", abort);
    closeQuietly(clientSocket);
    await reader.cancel().catch(() => {});
    await uploading.catch(() => {});
    reader.releaseLock();
    writer.releaseLock();
  }
  return copy.counts;
}

/**
 * One `--stream` connection: the bytes each way, and a watchdog that closes
 * it when the server stalls, saying why.
 */
class StreamCopy {
  #clientSocket: Deno.TcpConn;
  #server: string;
  #timeoutMs: number;
  #sent = 0;
  #received = 0;
  #inputEnded = false;
  #lastActive = Date.now();
  /**
   * When the write under way last moved: a server that stops reading
   * stalls it.
   */
  #writingSince: number | undefined;
  /**
   * Whether a reply is being written to our stdout: while it waits (a
   * paused `less`), the server waits on us, and is not to blame.
   */
  #printing = false;
  /** Why the watchdog closed the connection, if it did. */
  #timedOut: string | undefined;
  #watchdog: ReturnType<typeof setInterval>;

  constructor(clientSocket: Deno.TcpConn, server: string, timeoutMs: number) {
    this.#clientSocket = clientSocket;
    this.#server = server;
    this.#timeoutMs = timeoutMs;
    this.#watchdog = setInterval(
      () => this.#watch(),
      Math.min(1000, timeoutMs / 4),
    );
  }

  /** Closes the connection once the server has stalled for `--timeout`. */
  #watch() {
    if (this.#printing) return;
    const now = Date.now();
    const seconds = this.#timeoutMs / 1000;
    if (
      this.#writingSince !== undefined &&
      now - this.#writingSince > this.#timeoutMs
    ) {
      this.#timedOut = `${this.#server} took no input for ${seconds} s: is ` +
        `it reading? (--timeout waits longer)`;
    } else if (this.#inputEnded && now - this.#lastActive > this.#timeoutMs) {
      // Once the input has ended, the server must keep sending or close.
      this.#timedOut = `${this.#server} sent nothing for ${seconds} s after ` +
        `the end of the input and did not close: use --timeout to wait longer`;
    }
    if (this.#timedOut !== undefined) closeQuietly(this.#clientSocket);
  }

  /** Sends all of `reader` to the server, then half-closes. */
  async upload(reader: ReadableStreamDefaultReader<Uint8Array>) {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      this.#writingSince = Date.now();
      for (let written = 0; written < value.length;) {
        written += await this.#clientSocket.write(value.subarray(written));
        this.#writingSince = Date.now(); // it moved
      }
      this.#writingSince = undefined;
      this.#sent += value.length;
    }
    this.#inputEnded = true;
    this.#lastActive = Date.now();
    // Half-close: the server sees the end, finishes sending, then closes.
    await this.#clientSocket.closeWrite();
  }

  /** Writes all the server sends to `writer`, until it closes. */
  async download(writer: WritableStreamDefaultWriter<Uint8Array>) {
    const buffer = new Uint8Array(STREAM_READ_SIZE);
    while (true) {
      const count = await this.#clientSocket.read(buffer);
      if (count === null) break;
      this.#lastActive = Date.now();
      this.#received += count;
      this.#printing = true;
      await writer.write(buffer.slice(0, count));
      this.#printing = false;
      // The clocks start again once the reader has taken it.
      this.#lastActive = Date.now();
      if (this.#writingSince !== undefined) this.#writingSince = Date.now();
    }
    // Noticed at once, even while the input is silent.
    if (!this.#inputEnded) {
      throw new Error(
        `${this.#server} closed the connection before all the input was sent`,
      );
    }
  }

  /** The error to report when the watchdog closed the connection. */
  get timedOut(): Error | undefined {
    return this.#timedOut === undefined ? undefined : new Error(this.#timedOut);
  }

  /** The bytes sent and received so far. */
  get counts(): { sent: number; received: number } {
    return { sent: this.#sent, received: this.#received };
  }

  /** Stops the watchdog. */
  stop() {
    clearInterval(this.#watchdog);
  }
}

// ===========================================================================
// Robustness
// ===========================================================================

/** The byte that ends a sentence, and the reply to it. */
const NEWLINE = 0x0a;

/**
 * A reply the server cut short: it closed or reset the connection, or went
 * silent past the timeout, before the newline that ends the reply.
 * `received` holds the bytes that did come.
 */
export class CutReplyError extends Error {
  /** The part of the reply that came. */
  readonly received: Uint8Array;

  /** An error that says `message`, with the part of the reply that came. */
  constructor(message: string, received: Uint8Array) {
    super(message);
    this.name = "CutReplyError";
    this.received = received;
  }
}

/**
 * What to throw for a reply that did not end with its newline: `ending` is
 * "closed", or the error that stopped the read. Nothing at all came: that
 * error itself, or one that says the server closed; part of the reply came:
 * a {@linkcode CutReplyError} that says what stopped it.
 */
function replyCutShort(
  reply: Uint8Array,
  ending: unknown,
  server: string,
  hostname: string,
  timeoutMs: number,
): unknown {
  if (reply.length === 0) {
    if (ending !== "closed") return ending;
    return new Error(
      `${server} closed the connection without replying: is it an ` +
        `upper-case server, and did it accept more clients?`,
    );
  }
  return new CutReplyError(
    `the reply was cut short: ${bytesOf(reply.length)} came, then ` +
      (ending === "closed"
        ? `${server} closed the connection`
        : ending instanceof Deno.errors.ConnectionReset
        ? `${server} reset the connection`
        : ending instanceof TimeoutError
        ? `the rest did not come within --timeout ${timeoutMs / 1000} s`
        : explainError(ending, hostname)) +
      `, before the newline that ends it` +
      (reply.length === 1024 ? " (a server that reads only recv(1024)?)" : ""),
    reply,
  );
}

/** The addresses of `hostname`, IPv4 first; an IP address is its own. */
async function lookupAddresses(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":") || /^[\d.]+$/.test(bare)) return [bare];
  const found = await lookup(bare, { all: true });
  return found.sort((a, b) => a.family - b.family).map((a) => a.address);
}

/** The server took longer than `--timeout`. */
class TimeoutError extends Error {}

/**
 * Closes `socket` when `timeoutMs` passes or `signal` aborts; `reason()`
 * then says why, for the error to report.
 */
function closeOnTimeoutOrAbort(
  socket: Deno.TcpConn,
  timeoutMs: number,
  signal?: AbortSignal,
) {
  const server = formatAddress(socket.remoteAddr);
  let reason: unknown;
  const timer = setTimeout(() => {
    reason = new TimeoutError(
      `no reply from ${server} within ${timeoutMs / 1000} s: is it an ` +
        `upper-case server? (--timeout waits longer)`,
    );
    closeQuietly(socket);
  }, timeoutMs);
  function abort() {
    reason = signal?.reason;
    closeQuietly(socket);
  }
  signal?.addEventListener("abort", abort, { once: true });
  return {
    reason: () => reason,
    clear() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
    },
  };
}

/** Writes all of `data`: one write may take only part of it. */
async function writeAll(socket: Deno.TcpConn, data: Uint8Array) {
  for (let written = 0; written < data.length;) {
    written += await socket.write(data.subarray(written));
  }
}

/** Closes `socket`, which may be closed already. */
function closeQuietly(socket: Deno.TcpConn) {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

// ===========================================================================
// The lab kit
// ===========================================================================

/** Options of {@linkcode checkTcp}. */
export interface TcpCheckOptions {
  /** The server's name or address. Default `localhost`. */
  hostname?: string;
  /** The server's port. Default 12000. */
  port?: number;
  /** Seconds each wait of each check lasts at most. Default 2. */
  timeout?: number;
}

/**
 * Grades whatever upper-case TCP server listens at `hostname`:`port`, check
 * by check, in the order of DESIGN.md's lab kit: a sentence, Unicode, a
 * sentence longer than one `recv(1024)`, how replies end, a second client
 * while a first one sits idle, half-close, and last, bytes that are not
 * UTF-8 (which can stop a server). Every wait is bounded by `timeout`.
 *
 * Every connection it opens behaves as TCPClient.py does (it sends a line,
 * reads the reply, then closes), so no check but the last can stop a server
 * that serves one client at a time; a server found gone leaves the checks
 * after it SKIPped. Each check sends sentences of its own, and every reply
 * is compared with the one answer it must be.
 *
 * @example
 * ```ts
 * for await (const result of checkTcp({ port: 12000 })) {
 *   console.log(result.verdict, result.check, result.why);
 * }
 * ```
 */
export async function* checkTcp(
  options: TcpCheckOptions = {},
): AsyncGenerator<CheckResult> {
  const server = new ServerUnderTest(options);
  for (const [check, run] of TCP_CHECKS) {
    yield server.gone === undefined
      ? await server.graded(check, run)
      : notChecked(check, server.gone);
  }
}

/** The checks, in their order: the name, and the check. */
const TCP_CHECKS: [
  string,
  (server: ServerUnderTest, check: string) => Promise<CheckResult>,
][] = [
  ["a sentence", checkSentence],
  ["Unicode", checkUnicode],
  ["a sentence longer than recv(1024)", checkLongSentence],
  ["how a reply ends", checkReplyEnding],
  ["a second client while the first sits idle", checkSecondClient],
  ["half-close", checkHalfClose],
  ["bytes that are not UTF-8 (last: they can stop a server)", checkNotUtf8],
];

/** The server refused a connection after it had answered: it is gone. */
class ServerGone extends Error {}

/** The server `--check` grades: connections to it, every wait bounded. */
class ServerUnderTest {
  /** Its name or address. */
  readonly hostname: string;
  /** Its port. */
  readonly port: number;
  /** How long each wait lasts at most. */
  readonly waitMs: number;
  /** Every sentence sent, and the reply it must get. */
  readonly book = new AnswerBook("line");
  /** Why the checks left are not run, once the server is found gone. */
  gone: string | undefined;
  /** Whether a line sent and waited for ever got a reply, right or wrong. */
  answeredALine = false;
  /** Whether a line ever got the reply it must. */
  answeredRight = false;
  /** Whether bytes after a reply were graded already: they WARN once. */
  #extraCounted = false;
  /** How many checks have started. */
  #started = 0;

  /**
   * Bytes after the reply `came` (as a student reads it): a WARN the first
   * time in a run, undefined after, or when there are none.
   */
  extraAfter(
    check: string,
    came: string,
    extra: Uint8Array,
    more = "",
  ): CheckResult | undefined {
    if (extra.length === 0 || this.#extraCounted) return undefined;
    this.#extraCounted = true;
    return {
      check,
      verdict: "WARN",
      why: `${came}, then ${shown(extra)}${more}: a client reading one ` +
        `line per sentence takes that for the next reply`,
    };
  }

  constructor(options: TcpCheckOptions) {
    this.hostname = options.hostname ?? "localhost";
    this.port = options.port ?? 12000;
    this.waitMs = (options.timeout ?? 2) * 1000;
  }

  /** Notes a sentence and its reply; returns the sentence's bytes. */
  sentence(
    text: string | Uint8Array,
    reply: string | Uint8Array,
    sender?: string,
  ): Uint8Array {
    const encode = (t: string | Uint8Array) =>
      typeof t === "string" ? encoder.encode(t) : t;
    this.book.expect(encode(text), encode(reply), sender);
    return encode(text);
  }

  /** A new connection; a refused one, after the first check, is `ServerGone`. */
  async open(): Promise<Probe> {
    try {
      return new Probe(await connect(this.hostname, this.port, this.waitMs));
    } catch (error) {
      if (
        this.#started > 1 &&
        (error as Error).cause instanceof Deno.errors.ConnectionRefused
      ) {
        throw new ServerGone();
      }
      throw error;
    }
  }

  /**
   * One sentence as TCPClient.py sends it: a connection of its own, the
   * sentence and a newline, the reply, then the close.
   */
  async ask(sentence: Uint8Array): Promise<Reading> {
    const probe = await this.open();
    try {
      await probe.send(withNewline(sentence));
      return await this.reply(probe, sentence);
    } finally {
      probe.close();
    }
  }

  /**
   * The reply line to `sentence`; when it is not the reply it must be,
   * whatever else comes too (until the server pauses), to show it whole.
   */
  async reply(probe: Probe, sentence: Uint8Array): Promise<Reading> {
    const line = await probe.read(this.waitMs, "line");
    if (line.data.length > 0) this.answeredALine = true;
    if (this.book.isReplyTo(sentence, line.data)) this.answeredRight = true;
    if (line.ending !== "newline" || this.book.isReplyTo(sentence, line.data)) {
      return line;
    }
    const more = await probe.read(this.waitMs, "quiet");
    return {
      data: concat([line.data, more.data]),
      ending: more.ending === "flood" ? "flood" : "newline",
    };
  }

  /**
   * The result of `run`. A server gone leaves this check and the rest
   * SKIPped; a check that cannot connect otherwise FAILs, saying why.
   */
  async graded(
    check: string,
    run: (server: ServerUnderTest, check: string) => Promise<CheckResult>,
  ): Promise<CheckResult> {
    const number = ++this.#started;
    try {
      return await run(this, check);
    } catch (error) {
      if (error instanceof ServerGone) {
        this.gone = `the server stopped after check ${number - 1} ` +
          `(connections to it are refused)`;
        return notChecked(check, this.gone);
      }
      if (number === 1) this.gone = "the server did not answer a sentence";
      return {
        check,
        verdict: "FAIL",
        why: explainError(error, this.hostname),
      };
    }
  }
}

const encoder = new TextEncoder();

/** `sentence` and a newline, as a client sends it. */
function withNewline(sentence: Uint8Array): Uint8Array {
  return concat([sentence, new Uint8Array([NEWLINE])]);
}

/**
 * A sentence: "hello world" must come back "HELLO WORLD". A line after the
 * reply is a WARN (once): a client would read it as the next reply.
 */
async function checkSentence(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence("hello world", "HELLO WORLD");
  const probe = await server.open();
  let reply, after;
  try {
    await probe.send(withNewline(sentence));
    reply = await probe.read(server.waitMs, "line");
    if (reply.data.length > 0) server.answeredALine = true;
    if (server.book.isReplyTo(sentence, reply.data)) {
      server.answeredRight = true;
    }
    if (reply.ending === "newline") {
      after = await probe.read(server.waitMs, "quiet");
    }
  } finally {
    probe.close();
  }
  if (reply.data.length === 0) {
    const why = nothingCame(reply.ending, server.waitMs) +
      (reply.ending === "silent"
        ? " (a slow server? --timeout gives it longer)"
        : "");
    return { check, verdict: "FAIL", why };
  }
  if (!server.book.isReplyTo(sentence, reply.data)) {
    const got = concat([reply.data, after?.data ?? new Uint8Array(0)]);
    const why = server.book.wrong(sentence, got) + endless(after);
    return { check, verdict: "FAIL", why };
  }
  const extra = after && server.extraAfter(
    check,
    `"hello world" came back "HELLO WORLD"`,
    after.data,
    endless(after),
  );
  return extra ?? {
    check,
    verdict: "PASS",
    why: `"hello world" came back "HELLO WORLD"`,
  };
}

/** Unicode: "straße, é, κόσμος" must come back as Python upper-cases it. */
async function checkUnicode(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(UNICODE_SENTENCE, UNICODE_REPLY);
  const { data, ending } = await server.ask(sentence);
  if (data.length === 0) {
    return { check, verdict: "FAIL", why: nothingCame(ending, server.waitMs) };
  }
  return gradeUnicode(withoutNewline(data), server.book);
}

/** A sentence of 3,000 bytes must come back whole, past one recv(1024). */
async function checkLongSentence(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(
    "abcdefghij".repeat(300),
    "ABCDEFGHIJ".repeat(300),
  );
  const { data, ending } = await server.ask(sentence);
  const reply = withoutNewline(data);
  const expected = server.book.replyTo(sentence);
  if (sameBytes(reply, expected)) {
    return {
      check,
      verdict: "PASS",
      why: "the whole 3,000-byte sentence came back upper-cased",
    };
  }
  if (data.length === 0) {
    return { check, verdict: "FAIL", why: nothingCame(ending, server.waitMs) };
  }
  const cut = reply.length < expected.length &&
    sameBytes(reply, expected.subarray(0, reply.length));
  if (cut && reply.length === 1024 && ["closed", "reset"].includes(ending)) {
    return {
      check,
      verdict: "WARN",
      why: `only the first 1,024 of 3,001 bytes came back, then ` +
        `${then(ending, server.waitMs)}: it reads once, as recv(1024) ` +
        `does; a loop until the newline reads it all`,
    };
  }
  return {
    check,
    verdict: "FAIL",
    why: cut
      ? `only the first ${reply.length.toLocaleString("en-US")} of 3,001 ` +
        `bytes came back, then ${then(ending, server.waitMs)}`
      : server.book.wrong(sentence, data) +
        (ending === "flood" ? `, and ${then(ending, server.waitMs)}` : ""),
  };
}

/**
 * How a reply ends: a newline or the close must tell the client where it
 * ends; on a connection left open, a second line must get its own reply.
 */
async function checkReplyEnding(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const one = server.sentence("one", "ONE");
  const two = server.sentence("two", "TWO");
  const probe = await server.open();
  try {
    await probe.send(withNewline(one));
    const first = await server.reply(probe, one);
    if (first.data.length === 0) {
      return {
        check,
        verdict: "FAIL",
        why: nothingCame(first.ending, server.waitMs),
      };
    }
    if (!server.book.isReplyTo(one, first.data)) {
      const why = server.book.wrong(one, first.data) + endless(first);
      return { check, verdict: "FAIL", why };
    }
    if (first.ending !== "newline") {
      return gradeUnendedReply(first, server.waitMs, check);
    }
    return await checkSecondLine(server, probe, [one, two], check);
  } finally {
    probe.close();
  }
}

/** The reply to "one" came with no newline: how did it end? */
function gradeUnendedReply(
  first: Reading,
  waitMs: number,
  check: string,
): CheckResult {
  switch (first.ending) {
    case "closed":
      return {
        check,
        verdict: "PASS",
        why: "the reply has no newline, and the server closes the " +
          "connection after it: the close ends it (the textbook's framing)",
      };
    case "reset":
      return {
        check,
        verdict: "WARN",
        why: "the reply has no newline, and the server resets the " +
          "connection after it: a reset can throw away a reply not yet " +
          "read (close instead)",
      };
    default:
      return {
        check,
        verdict: "FAIL",
        why: `the reply ${shown(first.data)} has no newline, and then ` +
          `${then(first.ending, waitMs)}, with the connection open: a ` +
          `client cannot tell where the reply ends`,
      };
  }
}

/**
 * After a reply line: a second line on the same connection is answered, or
 * the connection is closed; bytes that never stop FAIL.
 */
async function checkSecondLine(
  server: ServerUnderTest,
  probe: Probe,
  [one, two]: Uint8Array[],
  check: string,
): Promise<CheckResult> {
  const after = await probe.read(server.waitMs, "quiet");
  if (after.ending === "flood") {
    return {
      check,
      verdict: "FAIL",
      why: `after the reply "ONE" and its newline, ${
        then(after.ending, server.waitMs)
      }: it never stops sending`,
    };
  }
  const extra = server.extraAfter(
    check,
    `the reply "ONE" and its newline came`,
    after.data,
  );
  if (extra) return extra;
  // Bytes after the reply, already a WARN once: said again, not counted.
  const also = after.data.length > 0
    ? ` (after "ONE", ${shown(after.data)} came too: the extra bytes ` +
      `already counted)`
    : "";
  const sent = after.ending === "silent" && await probe.send(withNewline(two));
  const second = sent
    ? await server.reply(probe, two)
    : { data: new Uint8Array(0), ending: after.ending };
  if (second.data.length === 0) {
    return second.ending === "silent"
      ? {
        check,
        verdict: "WARN",
        why: `after one reply line, the server neither answered a second ` +
          `line nor closed within ${server.waitMs / 1000} s: the client ` +
          `has to close (the Java companion server's framing)`,
      }
      : {
        check,
        verdict: "PASS",
        why: "the reply ends with a newline, and the server closes the " +
          `connection after it, as the textbook's does${also}`,
      };
  }
  if (!server.book.isReplyTo(two, second.data)) {
    const why = `on one connection, ${
      server.book.wrong(two, second.data, [one])
    }${endless(second)}`;
    return { check, verdict: "FAIL", why };
  }
  return await checkTwoInOneWrite(server, probe, [one, two], check) ?? {
    check,
    verdict: "PASS",
    why: "each reply ends with a newline, and one connection answers " +
      `line after line, two in one write too${also}`,
  };
}

/**
 * Two lines in one write, as a pipe or `--stream` sends them, must get a
 * reply each: a server that takes a read for a line answers one, or one
 * cut. A FAIL, or undefined when both came.
 */
async function checkTwoInOneWrite(
  server: ServerUnderTest,
  probe: Probe,
  before: Uint8Array[],
  check: string,
): Promise<CheckResult | undefined> {
  // What came after the reply to "two" first: extra bytes WARN once.
  const after = await probe.read(server.waitMs, "quiet");
  const extra = server.extraAfter(check, `"two" came back "TWO"`, after.data);
  if (extra) return extra;
  const lines = [
    server.sentence("three", "THREE"),
    server.sentence("four", "FOUR"),
  ];
  await probe.send(concat(lines.map(withNewline)));
  for (const [i, line] of lines.entries()) {
    const reply = await server.reply(probe, line);
    if (!server.book.isReplyTo(line, reply.data)) {
      return {
        check,
        verdict: "FAIL",
        why: `after two lines in one write, "three\\nfour\\n", ${
          reply.data.length === 0
            ? `${shown(line)} got no reply (${
              nothingCame(reply.ending, server.waitMs)
            })`
            : server.book.wrong(line, reply.data, [
              ...before,
              ...lines.slice(0, i),
            ])
        }`,
      };
    }
  }
  return undefined;
}

/**
 * A second client must be answered while a first one sits connected and
 * silent. The first then sends its line and reads its reply, as a
 * TCPClient.py that waited at input() would, so that a server serving one
 * client at a time gets to the second without being stopped.
 */
async function checkSecondClient(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const first = server.sentence(
    "first client",
    "FIRST CLIENT",
    "the first client",
  );
  const second = server.sentence(
    "second client",
    "SECOND CLIENT",
    "the second client",
  );
  const idle = await server.open();
  let firstReply: IdleReply | undefined;
  const firstSpeaks = async () =>
    firstReply ??= await idleClientSpeaks(server, idle, first);
  let other: Probe | undefined;
  try {
    other = await server.open();
    const started = performance.now();
    await other.send(withNewline(second));
    const early = await server.reply(other, second);
    const seconds = () =>
      `${((performance.now() - started) / 1000).toFixed(1)} s`;
    const clients = { server, check, first, second };
    if (early.data.length > 0) {
      const waited = seconds();
      const graded = gradeServedAtOnce(
        clients,
        early,
        await firstSpeaks(),
        waited,
      );
      return graded.verdict === "PASS"
        ? await checkBothAtOnce(server, check) ?? graded
        : graded;
    }
    const { ending } = early;
    await firstSpeaks();
    idle.close();
    const late = ending === "silent"
      ? await server.reply(other, second)
      : early;
    return gradeServedInTurn(clients, early, late, seconds());
  } finally {
    // Whatever happened, the first client sends its line before it goes.
    if (firstReply === undefined) await firstSpeaks().catch(() => {});
    idle.close();
    other?.close();
  }
}

/** The idle client's reply, and whether it was closed before it spoke. */
interface IdleReply extends Reading {
  dropped: boolean;
}

/**
 * The idle first client looks for a close, then sends its line and reads
 * the reply, as a TCPClient.py back from input() would.
 */
async function idleClientSpeaks(
  server: ServerUnderTest,
  idle: Probe,
  sentence: Uint8Array,
): Promise<IdleReply> {
  const before = await idle.read(IDLE_CHECK_MS, "close");
  const dropped = before.ending === "closed" || before.ending === "reset";
  // Bytes it never asked for are its reply, wrong whatever they are.
  if (before.data.length > 0 || dropped) return { ...before, dropped };
  const reply = await idle.send(withNewline(sentence))
    ? await server.reply(idle, sentence)
    : { data: new Uint8Array(0), ending: "closed" as const };
  return { ...reply, dropped };
}

/**
 * Two more clients send at the same moment, and must each get their own
 * reply: a server that keeps the request where every thread sees it gives
 * one client the other's. A FAIL, or undefined if both were answered.
 */
async function checkBothAtOnce(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult | undefined> {
  const clients = ["the third client", "the fourth client"];
  const sentences = [
    server.sentence("third client", "THIRD CLIENT", clients[0]),
    server.sentence("fourth client", "FOURTH CLIENT", clients[1]),
  ];
  const replies = await Promise.all(sentences.map((s) => server.ask(s)));
  const i = replies.findIndex((reply, i) =>
    !server.book.isReplyTo(sentences[i], reply.data)
  );
  if (i < 0) return undefined;
  const { data, ending } = replies[i];
  return {
    check,
    verdict: "FAIL",
    why: `clients are served at once, but of two that sent at the same ` +
      `moment, ${clients[i]}: ${
        data.length === 0
          ? nothingCame(ending, server.waitMs)
          : server.book.wrong(sentences[i], data)
      }`,
  };
}

/** The two clients of {@linkcode checkSecondClient}, and their sentences. */
interface TwoClients {
  server: ServerUnderTest;
  check: string;
  first: Uint8Array;
  second: Uint8Array;
}

/** The second client was answered while the first sat connected, silent. */
function gradeServedAtOnce(
  { server, check, first, second }: TwoClients,
  secondReply: Reading,
  firstReply: IdleReply,
  waited: string,
): CheckResult {
  if (!server.book.isReplyTo(second, secondReply.data)) {
    return {
      check,
      verdict: "FAIL",
      why: `the second client: ${server.book.wrong(second, secondReply.data)}`,
    };
  }
  if (firstReply.data.length === 0 && firstReply.dropped) {
    return {
      check,
      verdict: "WARN",
      why: `a second client was answered after ${waited}, but the first, ` +
        `connected and silent meanwhile, was ${
          firstReply.ending === "reset" ? "reset" : "closed"
        } by the server before it sent its line: the server drops a ` +
        `client that sends nothing for a while (TCPClient.py waits at ` +
        `input() before sending)`,
    };
  }
  if (firstReply.data.length === 0) {
    return {
      check,
      verdict: "FAIL",
      why: `a second client was answered after ${waited}, but the first, ` +
        `connected and silent meanwhile, then sent its line and got no ` +
        `reply (${nothingCame(firstReply.ending, server.waitMs)}): each ` +
        `client must be answered on its own connection (was its reply ` +
        `sent on the second client's?)`,
    };
  }
  if (!server.book.isReplyTo(first, firstReply.data)) {
    return {
      check,
      verdict: "FAIL",
      why: `the first client: ${server.book.wrong(first, firstReply.data)}`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: "a second client was answered while the first stayed connected " +
      "and silent, the first was answered after, and two more that sent " +
      "at the same moment got their own replies: clients are served at " +
      "once",
  };
}

/** The second client got nothing while the first sat idle: and after? */
function gradeServedInTurn(
  { server, check, second }: TwoClients,
  early: Reading,
  late: Reading,
  seconds: string,
): CheckResult {
  if (late.data.length === 0) {
    return {
      check,
      verdict: "FAIL",
      why: early.ending === "silent"
        ? `a second client got no reply while the first sat idle, nor ` +
          `after the first had sent its line and left (${
            nothingCame(late.ending, server.waitMs)
          })`
        : `while the first client sat idle, the server ${
          early.ending === "reset" ? "reset" : "closed"
        } a second client's connection without a reply`,
    };
  }
  if (!server.book.isReplyTo(second, late.data)) {
    return {
      check,
      verdict: "FAIL",
      why: `the second client: ${server.book.wrong(second, late.data)}`,
    };
  }
  return {
    check,
    verdict: "WARN",
    why: `serves one client at a time: a second client waited ` +
      `${seconds} while the first stayed connected, and was answered ` +
      `only when the first had sent its line and left (the textbook's ` +
      `server does this; a thread or task per connection fixes it)`,
  };
}

/** Half-close: a line, then the end of the input; the reply, then a close. */
async function checkHalfClose(
  server: ServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence("half close", "HALF CLOSE");
  const probe = await server.open();
  let data, ending;
  try {
    await probe.send(withNewline(sentence));
    await probe.halfClose();
    ({ data, ending } = await probe.read(server.waitMs, "close"));
  } finally {
    probe.close();
  }
  if (data.length === 0) {
    return {
      check,
      verdict: "FAIL",
      why: "no reply after the client sent a line and half-closed " +
        `(${nothingCame(ending, server.waitMs)})`,
    };
  }
  const newline = data.indexOf(NEWLINE);
  const line = newline < 0 ? data : data.subarray(0, newline + 1);
  const rest = data.subarray(line.length);
  if (!server.book.isReplyTo(sentence, line)) {
    const why = server.book.wrong(sentence, data);
    return { check, verdict: "FAIL", why };
  }
  if (ending === "flood") {
    return {
      check,
      verdict: "FAIL",
      why: `answered, then ${then(ending, server.waitMs)}, though the ` +
        `client had half-closed`,
    };
  }
  const extra = server.extraAfter(check, `answered "HALF CLOSE"`, rest);
  if (extra) return extra;
  return ending === "closed"
    ? {
      check,
      verdict: "PASS",
      why: "answered, then closed once the client had half-closed",
    }
    : {
      check,
      verdict: "WARN",
      why: ending === "reset"
        ? "answered, then reset the connection instead of closing it"
        : `answered, but then ${then(ending, server.waitMs)} instead of ` +
          `closing after the client half-closed: a client reading to the ` +
          `end waits`,
    };
}

/**
 * Bytes that are not UTF-8 must come back as they were, and the server must
 * still answer after them (last: they can stop a server).
 */
async function checkNotUtf8(server: ServerUnderTest): Promise<CheckResult> {
  const sentence = server.sentence(INVALID_SENTENCE, INVALID_REPLY);
  const still = server.sentence("still there", "STILL THERE");
  const { data } = await server.ask(sentence);
  const after = await server.ask(still).catch(() => undefined);
  // Answered right before, and wrong after: the bytes broke it.
  if (
    server.answeredRight && after && after.data.length > 0 &&
    !server.book.isReplyTo(still, after.data)
  ) {
    return {
      check: "bytes that are not UTF-8 (last: they can stop a server)",
      verdict: "FAIL",
      why: `after the bytes that are not UTF-8, ${
        server.book.wrong(still, after.data)
      }`,
    };
  }
  if (data.length === 0 && !server.answeredALine) {
    return {
      check: "bytes that are not UTF-8 (last: they can stop a server)",
      verdict: "FAIL",
      why: "no reply to bytes that are not UTF-8 (e9, ff), as to every " +
        "line before",
    };
  }
  return gradeInvalid(
    data.length > 0 ? withoutNewline(data) : undefined,
    after !== undefined && after.data.length > 0,
    server.book,
  );
}

/**
 * How a read of the server under test ended: at a newline; the server
 * closed or reset; nothing came for the whole wait ("silent"); bytes still
 * came, slowly, when the wait ended ("trickle"); more than `PROBE_LIMIT`
 * came ("flood").
 */
type Ending = "newline" | "closed" | "reset" | "silent" | "trickle" | "flood";
/** What a read took, and how it ended. */
interface Reading {
  data: Uint8Array;
  ending: Ending;
}
/** Bytes a check reads at most at once: replies are a few KiB. */
const PROBE_LIMIT = 64 * 1024;
/** How long the idle first client looks for a close before it speaks. */
const IDLE_CHECK_MS = 50;
/** After a reply line, this long without a byte means nothing more comes. */
const QUIET_MS = 300;
/**
 * A byte this recent when a wait ends, after pieces spread over time: the
 * server is still sending, slowly.
 */
const TRICKLE_MS = 500;

/** A connection to the server under test, every wait bounded. */
class Probe {
  #socket: Deno.TcpConn;
  #buffer = new Uint8Array(16 * 1024);
  #pending: Promise<number | null> | undefined;
  /** Bytes that came after the newline a read stopped at. */
  #leftover = new Uint8Array(0);

  constructor(socket: Deno.TcpConn) {
    this.#socket = socket;
  }

  /** Sends all of `data`; false if the server closed or reset first. */
  async send(data: Uint8Array): Promise<boolean> {
    try {
      await writeAll(this.#socket, data);
      return true;
    } catch {
      return false;
    }
  }

  /** Sends the end of the input (a half-close). */
  async halfClose() {
    await this.#socket.closeWrite().catch(() => {});
  }

  /**
   * Reads for `waitMs` at most: up to a newline ("line"), to the close
   * ("close"), or until no byte has come for `QUIET_MS` ("quiet").
   */
  async read(
    waitMs: number,
    until: "line" | "close" | "quiet",
  ): Promise<Reading> {
    const chunks: Uint8Array[] = [];
    let length = 0;
    const deadline = performance.now() + waitMs;
    let lastByte = -Infinity;
    let firstByte = Infinity;
    const reading = (ending: Ending) => ({ data: concat(chunks), ending });
    let piece = this.#leftover;
    this.#leftover = new Uint8Array(0);
    while (true) {
      const newline = until === "line" ? piece.indexOf(NEWLINE) : -1;
      if (newline >= 0) {
        chunks.push(piece.subarray(0, newline + 1));
        this.#leftover = piece.slice(newline + 1);
        return reading("newline");
      }
      chunks.push(piece);
      length += piece.length;
      if (length > PROBE_LIMIT) return reading("flood");
      const now = performance.now();
      const waitFor = until === "quiet"
        ? Math.min(deadline, Math.max(now, lastByte) + QUIET_MS) - now
        : deadline - now;
      const count = await this.#next(waitFor);
      if (count === "late") {
        // Pieces spread over time, the last one just now.
        const trickling = until !== "quiet" && lastByte - firstByte > 50 &&
          performance.now() - lastByte < TRICKLE_MS;
        return reading(trickling ? "trickle" : "silent");
      }
      if (count === "reset") return reading("reset");
      if (count === null) return reading("closed");
      piece = this.#buffer.slice(0, count);
      lastByte = performance.now();
      firstByte = Math.min(firstByte, lastByte);
    }
  }

  /** The next read's byte count, null at the close, or what stopped it. */
  async #next(waitMs: number): Promise<number | null | "late" | "reset"> {
    this.#pending ??= this.#socket.read(this.#buffer);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((resolve) => {
      timer = setTimeout(() => resolve("late"), Math.max(0, waitMs));
    });
    try {
      const count = await Promise.race([this.#pending, late]);
      if (count !== "late") this.#pending = undefined;
      return count;
    } catch {
      this.#pending = undefined;
      return "reset";
    } finally {
      clearTimeout(timer);
    }
  }

  close() {
    closeQuietly(this.#socket);
    this.#pending?.catch(() => {});
  }
}

/** What the server did after the bytes that came, in a student's words. */
function then(ending: Ending, waitMs: number): string {
  switch (ending) {
    case "silent":
      return `nothing more for ${waitMs / 1000} s`;
    case "trickle":
      return `bytes were still coming, slowly, when the wait of ` +
        `${waitMs / 1000} s ended (a slow server? --timeout gives it longer)`;
    case "flood":
      return `the server kept sending (over ${PROBE_LIMIT / 1024} KiB)`;
    default:
      return `the server ${ending === "reset" ? "reset" : "closed"} the ` +
        "connection";
  }
}

/** ", and it never stops sending" when a read ended in a flood. */
function endless(reading: Reading | undefined): string {
  return reading?.ending === "flood"
    ? `, and more without end (over ${PROBE_LIMIT / 1024} KiB): the ` +
      `server never stops sending`
    : "";
}

/** Why nothing came, in a student's words. */
function nothingCame(ending: Ending, waitMs: number): string {
  return ending === "silent" || ending === "trickle"
    ? `no reply within ${waitMs / 1000} s`
    : `the server ${ending === "reset" ? "reset" : "closed"} the ` +
      `connection without a reply`;
}

// ===========================================================================
// The lab kit: grading (--check), the same in both clients
// ===========================================================================

// Grading, the same in udp_client.ts and tcp_client.ts word for word down to
// the line that ends it (tests/shared_test.ts compares the copies): the
// verdicts, the answer book, the grades of Unicode and of invalid bytes, and
// the report.

/**
 * A verdict of `--check`: FAIL is broken, WARN works with a limit to know,
 * SKIP was not checked (the server had stopped, or never answered).
 */
export type Verdict = "PASS" | "WARN" | "FAIL" | "SKIP";

/** One check of `--check`: its verdict, and why, in a student's words. */
export interface CheckResult {
  /** What was checked. */
  check: string;
  /** PASS, WARN, FAIL or SKIP. */
  verdict: Verdict;
  /** What happened, and what to do about it. */
  why: string;
}

/** What `--check` sends to test Unicode, and what Python's upper() gives. */
const UNICODE_SENTENCE = "Straße, é, κόσμος";
const UNICODE_REPLY = "STRASSE, É, ΚΌΣΜΟΣ";
/** Bytes that are not UTF-8 (0xe9 alone, 0xff), and what must come back. */
const INVALID_SENTENCE = new Uint8Array([
  ...new TextEncoder().encode("caf"),
  0xe9,
  0x20,
  0xff,
  ...new TextEncoder().encode(" ok"),
]);
const INVALID_REPLY = new Uint8Array([
  ...new TextEncoder().encode("CAF"),
  0xe9,
  0x20,
  0xff,
  ...new TextEncoder().encode(" OK"),
]);

/** Whether two byte arrays hold the same bytes. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** A line's text without its newline (`\n` or `\r\n`). */
function withoutNewline(data: Uint8Array): Uint8Array {
  let end = data.length;
  if (data[end - 1] === 0x0a) end--;
  if (data[end - 1] === 0x0d) end--;
  return data.subarray(0, end);
}

/**
 * Bytes as a student reads them: in quotes, with `\n` for a newline and
 * `\xNN` for a byte that is not part of valid UTF-8, cut after 40
 * characters.
 */
function shown(data: Uint8Array): string {
  let text = "";
  let i = 0;
  for (let characters = 0; i < data.length && characters < 40; characters++) {
    const length = data[i] < 0x80
      ? 1
      : data[i] >= 0xc2 && data[i] < 0xe0
      ? 2
      : data[i] >= 0xe0 && data[i] < 0xf0
      ? 3
      : data[i] >= 0xf0 && data[i] < 0xf5
      ? 4
      : 0;
    const character = length > 1 && i + length <= data.length
      ? decodeStrictly(data.subarray(i, i + length))
      : undefined;
    if (character !== undefined) {
      text += character;
      i += length;
      continue;
    }
    const byte = data[i++];
    text += byte === 0x0a
      ? "\\n"
      : byte === 0x0d
      ? "\\r"
      : byte === 0x22 || byte === 0x5c
      ? `\\${String.fromCharCode(byte)}`
      : byte >= 0x20 && byte < 0x7f
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return i < data.length
    ? `"${text}..." (${data.length.toLocaleString("en-US")} bytes)`
    : `"${text}"`;
}

/** The text of `data` if it is valid UTF-8, else undefined. */
function decodeStrictly(data: Uint8Array): string | undefined {
  try {
    return strictDecoder.decode(data);
  } catch {
    return undefined;
  }
}

/**
 * Every sentence `--check` has sent and the one reply it must get. Each
 * check and each client sends a sentence of its own, so a wrong reply can
 * be looked up here and told apart: another sentence's reply (stale or
 * kept), the replies so far run together, a prefix, an echo.
 */
class AnswerBook {
  #sent: { sentence: Uint8Array; reply: Uint8Array; sender?: string }[] = [];
  #framing: "line" | "datagram";

  /**
   * `framing`: a "line" reply may end in a newline (TCP); a "datagram"
   * must be the reply, byte for byte (UDP).
   */
  constructor(framing: "line" | "datagram") {
    this.#framing = framing;
  }

  /**
   * Notes that `sentence` is sent, and must come back as `reply`; `sender`
   * names the client that sends it, where several send at once.
   */
  expect(sentence: Uint8Array, reply: Uint8Array, sender?: string) {
    this.#sent.push({ sentence, reply, sender });
  }

  /** The reply `sentence` must get. */
  replyTo(sentence: Uint8Array): Uint8Array {
    return this.#find(sentence).reply;
  }

  /** Whether `got` (a line: without its newline) is `sentence`'s reply. */
  isReplyTo(sentence: Uint8Array, got: Uint8Array): boolean {
    return sameBytes(this.#framed(got), this.replyTo(sentence));
  }

  /** The reply in `got`: a line's without its newline, a datagram whole. */
  #framed(got: Uint8Array): Uint8Array {
    return this.#framing === "line" ? withoutNewline(got) : got;
  }

  /**
   * `"two" came back "ONE\nTWO\n", not "TWO"`, and what the reply is where
   * that can be told. `before` are the sentences sent earlier on the same
   * connection.
   */
  wrong(sentence: Uint8Array, got: Uint8Array, before: Uint8Array[] = []) {
    const expected = this.replyTo(sentence);
    const line = this.#framed(got);
    // A long line is shown cut: its byte count without the line end.
    const came = got.length === 0
      ? "as an empty reply"
      : got.length > 40 && line.length < got.length
      ? `${shown(line)} and its line end`
      : shown(got);
    const told = `${shown(sentence)} came back ${came}, not ${shown(expected)}`;
    const what = this.#whatItIs(sentence, got, before) ??
      differsAt(this.#framed(got), expected);
    return what === undefined ? told : `${told}: ${what}`;
  }

  #find(sentence: Uint8Array) {
    const entry = this.#sent.findLast((e) => sameBytes(e.sentence, sentence));
    if (entry === undefined) throw new Error("a sentence was not noted");
    return entry;
  }

  #whatItIs(
    sentence: Uint8Array,
    got: Uint8Array,
    before: Uint8Array[],
  ): string | undefined {
    const line = this.#framed(got);
    const expected = this.replyTo(sentence);
    if (line.length > 0 && sameBytes(line, sentence)) {
      return "sent back unchanged, not upper-cased";
    }
    const other = this.#sent.find((e) =>
      !sameBytes(e.sentence, sentence) && sameBytes(line, e.reply)
    );
    if (other !== undefined) {
      const mine = this.#find(sentence);
      return `that is the reply to ${shown(other.sentence)}, ` +
        (other.sender !== undefined && other.sender !== mine.sender
          ? `sent by ${other.sender}: each reply must go to the client ` +
            `that sent its request`
          : this.#sent.indexOf(other) < this.#sent.indexOf(mine)
          ? "sent earlier: each reply must answer its own request"
          : "another request: each reply must answer its own request");
    }
    const together = [...before, sentence].map((s) => this.replyTo(s));
    if (before.length > 0 && sameBytes(line, joinLines(together))) {
      return `the replies to every line of this connection so far, run ` +
        `together: the server adds each line to what it received before ` +
        `and never clears it`;
    }
    if (line.length > expected.length) {
      const at = indexOfBytes(line, expected);
      if (at > 0 && at + expected.length === line.length) {
        return `${shown(line.subarray(0, at))} came before the reply`;
      }
      if (at === 0) {
        return `the reply, then ${shown(got.subarray(expected.length))}`;
      }
    }
    if (
      line.length > 0 && line.length < expected.length &&
      sameBytes(line, expected.subarray(0, line.length))
    ) {
      return `only its first ${line.length.toLocaleString("en-US")} of ` +
        `${expected.length.toLocaleString("en-US")} bytes`;
    }
    return undefined;
  }
}

/**
 * Where two long byte strings first differ, shown as a student reads them;
 * undefined when they are short enough to be shown whole.
 */
function differsAt(got: Uint8Array, expected: Uint8Array): string | undefined {
  if (got.length <= 40 && expected.length <= 40) return undefined;
  let at = 0;
  while (at < got.length && at < expected.length && got[at] === expected[at]) {
    at++;
  }
  const from = Math.max(0, at - 5);
  return `they differ from byte ${(at + 1).toLocaleString("en-US")}: ` +
    `${shown(got.subarray(from, from + 15))} where ` +
    `${shown(expected.subarray(from, from + 15))} was due`;
}

/** `lines` joined by newlines, as one connection's replies run together. */
function joinLines(lines: Uint8Array[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [i, line] of lines.entries()) {
    if (i > 0) parts.push(new Uint8Array([0x0a]));
    parts.push(line);
  }
  return concat(parts);
}

/** Where `part` first stands in `data`, or -1. */
function indexOfBytes(data: Uint8Array, part: Uint8Array): number {
  for (let i = 0; i + part.length <= data.length; i++) {
    if (sameBytes(data.subarray(i, i + part.length), part)) return i;
  }
  return -1;
}

/**
 * Each character's low byte alone, as Java's `DataOutputStream.writeBytes`
 * sends a string: what the Java companion server sends back.
 */
function lowBytes(text: string): Uint8Array {
  return Uint8Array.from(text, (character) => character.charCodeAt(0) & 0xff);
}

/**
 * Grades the reply to `UNICODE_SENTENCE`, its newline already taken off;
 * `book` tells a wrong reply from another sentence's.
 */
function gradeUnicode(reply: Uint8Array, book: AnswerBook): CheckResult {
  const check = "Unicode";
  const sentence = new TextEncoder().encode(UNICODE_SENTENCE);
  const cameBack = `${shown(sentence)} came back ${shown(reply)}`;
  const text = decodeStrictly(reply);
  const javaReplies = [
    lowBytes(UNICODE_REPLY),
    // Read as ASCII (a Java with no UTF-8 locale): each other byte is U+FFFD.
    lowBytes(
      UNICODE_SENTENCE.replace(
        /[^\0-\x7f]/gu,
        (character) =>
          "\ufffd".repeat(new TextEncoder().encode(character).length),
      )
        .toUpperCase(),
    ),
  ];
  if (text === UNICODE_REPLY) {
    return { check, verdict: "PASS", why: cameBack };
  }
  if (text === UNICODE_SENTENCE.replace(/[a-z]/g, (c) => c.toUpperCase())) {
    return {
      check,
      verdict: "WARN",
      why: `${cameBack}: only a-z were upper-cased (Python's str.upper() ` +
        `gives "${UNICODE_REPLY}")`,
    };
  }
  if (text === UNICODE_REPLY.replace("SS", "ß")) {
    return {
      check,
      verdict: "WARN",
      why: `${cameBack}: ß stays ß (Python's str.upper() gives SS)`,
    };
  }
  if (javaReplies.some((java) => sameBytes(reply, java))) {
    return {
      check,
      verdict: "WARN",
      why: `${cameBack}: each character past ASCII came back as one byte, ` +
        `as Java's DataOutputStream.writeBytes sends a string (the Java ` +
        `companion server does this); send getBytes("UTF-8") instead`,
    };
  }
  return { check, verdict: "FAIL", why: book.wrong(sentence, reply) };
}

/**
 * Grades the reply to `INVALID_SENTENCE` (undefined: none came), and
 * whether the server still answers after it.
 */
function gradeInvalid(
  reply: Uint8Array | undefined,
  stillAnswers: boolean,
  book: AnswerBook,
): CheckResult {
  const check = "bytes that are not UTF-8 (last: they can stop a server)";
  const after = stillAnswers
    ? ""
    : "; then the server stopped answering: one client can stop it" +
      (reply === undefined
        ? " (the textbook's server stops with UnicodeDecodeError)"
        : "");
  const sent = shown(INVALID_SENTENCE);
  if (reply === undefined) {
    return {
      check,
      verdict: "WARN",
      why: `no reply to bytes that are not UTF-8 (e9, ff)${after}`,
    };
  }
  if (sameBytes(reply, INVALID_REPLY)) {
    return {
      check,
      verdict: stillAnswers ? "PASS" : "WARN",
      why: `${sent} came back with e9 and ff unchanged${after}`,
    };
  }
  const changed = sameBytes(reply, INVALID_SENTENCE)
    ? `${sent} came back unchanged: the bytes kept, but not upper-cased`
    : indexOfBytes(reply, new Uint8Array([0xef, 0xbf, 0xbd])) >= 0
    ? `${sent} came back as ${shown(reply)}: the bytes that are not ` +
      `UTF-8 were replaced with U+FFFD, not sent back as they were`
    : startsAndEndsAsReply(reply)
    ? `${sent} came back as ${shown(reply)}: the bytes that are not ` +
      `UTF-8 were changed, not sent back as they were`
    : undefined;
  return changed === undefined
    ? { check, verdict: "FAIL", why: book.wrong(INVALID_SENTENCE, reply) }
    : { check, verdict: "WARN", why: changed + after };
}

/** Whether `reply` is "CAF", then anything, then " OK". */
function startsAndEndsAsReply(reply: Uint8Array): boolean {
  const start = INVALID_REPLY.subarray(0, 3);
  const end = INVALID_REPLY.subarray(-3);
  return reply.length >= 6 && sameBytes(reply.subarray(0, 3), start) &&
    sameBytes(reply.subarray(-3), end);
}

/** A check not run, and why. */
function notChecked(check: string, why: string): CheckResult {
  return { check, verdict: "SKIP", why: `not checked: ${why}` };
}

/**
 * Prints each result as it comes (a line, or a JSON object), then the
 * score: 1 a PASS, half a WARN. Resolves with the exit status: 0 when
 * every check ran and none FAILed. Stops quietly when stdout is closed,
 * with status 1: not every check ran.
 */
async function reportChecks(
  title: string,
  results: AsyncIterable<CheckResult>,
  json: boolean,
): Promise<number> {
  const count = { PASS: 0, WARN: 0, FAIL: 0, SKIP: 0 };
  const stdout = standardOutput().getWriter();
  const print = (line: string) =>
    stdout.write(new TextEncoder().encode(`${line}\n`));
  try {
    if (!json) await print(title);
    for await (const result of results) {
      count[result.verdict]++;
      await print(
        json
          ? JSON.stringify(result)
          : `${result.verdict.padEnd(4)}  ${result.check}: ${result.why}`,
      );
    }
    const total = count.PASS + count.WARN + count.FAIL + count.SKIP;
    const score = count.PASS + count.WARN / 2;
    await print(
      json
        ? JSON.stringify({ score, out_of: total, ...count })
        : `Score: ${score} of ${total} (${count.PASS} PASS, ${count.WARN} ` +
          `WARN, ${count.FAIL} FAIL${
            count.SKIP > 0 ? `, ${count.SKIP} SKIP` : ""
          })`,
    );
  } catch (error) {
    // Stopped quietly, but not every check ran: not a pass.
    if (error instanceof StdoutClosed) return 1;
    throw error;
  } finally {
    await stdout.close().catch(() => {});
  }
  return count.FAIL > 0 || count.SKIP > 0 ? 1 : 0;
}

// End of the grading shared by the two clients.

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

// End of the part shared by all four scripts.

// Shared by udp_client.ts and tcp_client.ts, word for word down to the line
// that ends it (tests/shared_test.ts compares the copies): reading lines,
// writing replies.
// ---------------------------------------------------------------------------

/** `--timeout`, the same in both clients. */
const TIMEOUT_RANGE = { min: 0.001, max: 3600, decimals: 3, unit: "seconds" };

/**
 * Splits a byte stream into lines, without their `\n` or `\r\n`, in time
 * linear in their length. A line longer than `maxLength` bytes is refused
 * as soon as it is that long: the rest of it is never read into memory.
 */
async function* readLines(
  readable: ReadableStream<Uint8Array>,
  maxLength = Infinity,
): AsyncGenerator<Uint8Array> {
  let parts: Uint8Array[] = [];
  let length = 0;
  for await (const chunk of readable) {
    let start = 0;
    let newline: number;
    while ((newline = chunk.indexOf(0x0a, start)) >= 0) {
      parts.push(chunk.subarray(start, newline));
      yield stripCarriageReturn(concat(parts));
      parts = [];
      length = 0;
      start = newline + 1;
    }
    if (start < chunk.length) {
      parts.push(chunk.slice(start));
      length += chunk.length - start;
      if (length > maxLength + 1) throw new LineTooLongError(maxLength);
    }
  }
  if (length > 0) yield stripCarriageReturn(concat(parts));
}

/** A line longer than {@linkcode readLines} takes. */
class LineTooLongError extends Error {
  constructor(maxLength: number) {
    super(
      `a line is longer than ${bytesOf(maxLength)}, the most a sentence can be`,
    );
  }
}

function stripCarriageReturn(line: Uint8Array): Uint8Array {
  return line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
}

/** Lines typed at the terminal, each asked for with the textbook's prompt. */
async function* promptedLines(
  maxLength = Infinity,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const lines = readLines(Deno.stdin.readable, maxLength);
  while (true) {
    // sentence = input('Input lowercase sentence:')
    Deno.stderr.writeSync(encoder.encode(PROMPT));
    const next = await lines.next();
    if (next.done) {
      Deno.stderr.writeSync(encoder.encode("\n"));
      return;
    }
    yield next.value;
  }
}

/** Standard output was closed by what reads it (`| head -1`): time to stop. */
class StdoutClosed extends Error {}

/**
 * Standard output as a stream whose writes fail with `StdoutClosed` once
 * the reader has gone, so that nobody is blamed for it. Every write is
 * awaited: a slow reader slows the client, and loses nothing.
 */
function standardOutput(): WritableStream<Uint8Array> {
  return new WritableStream({
    async write(chunk) {
      try {
        for (let written = 0; written < chunk.length;) {
          written += await Deno.stdout.write(chunk.subarray(written));
        }
      } catch (error) {
        throw error instanceof Deno.errors.BrokenPipe
          ? new StdoutClosed()
          : error;
      }
    },
  });
}

/**
 * A reply as JSON fields: `reply` as text, and where the bytes are not all
 * valid UTF-8 (so `reply` has U+FFFD in their place) `reply_base64` with
 * every byte as it came.
 */
function jsonReply(
  reply: Uint8Array,
): { reply: string; reply_base64?: string } {
  try {
    return { reply: strictDecoder.decode(reply) };
  } catch {
    let binary = "";
    for (const byte of reply) binary += String.fromCharCode(byte);
    return {
      reply: new TextDecoder().decode(reply),
      reply_base64: btoa(binary),
    };
  }
}

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/**
 * The bytes of `chunks`, one after another: the one chunk itself if alone.
 * An array, not spread arguments: a line may come in a million pieces.
 */
function concat(chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  let length = 0;
  for (const chunk of chunks) length += chunk.length;
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** One line that says what went wrong and, where it helps, what to do. */
function explainError(error: unknown, hostname: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const { code, syscall } = error as { code?: string; syscall?: string };
  // node:dns reports Deno's refusal as EPERM; a firewall's refusal to
  // connect or send is EPERM too, but not from a lookup, and is reported as
  // it is.
  if (
    error instanceof Deno.errors.NotCapable ||
    (code === "EPERM" && syscall === "getaddrinfo")
  ) {
    const what = message.match(/"[^"]*"/)?.[0] ?? hostname;
    return `network access to ${what} was not granted: ${runHint()}`;
  }
  if (
    code === "ENOTFOUND" || code === "EAI_AGAIN" ||
    /invalid host|failed to lookup address/.test(message)
  ) {
    return `cannot resolve host ${hostname}: check --host`;
  }
  if (error instanceof LineTooLongError) {
    return `${message} in one UDP datagram: shorten it, or use tcp_client.ts`;
  }
  if (error instanceof Deno.errors.ConnectionReset) {
    return `the connection was reset by ${hostname}: did the server stop?`;
  }
  if (error instanceof Deno.errors.BrokenPipe) {
    return `${hostname} closed the connection while the input was being sent`;
  }
  if (error instanceof Deno.errors.NetworkUnreachable) {
    return `no route to ${hostname}: check --host and the network`;
  }
  return message;
}

// End of the part shared by the two clients.

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
