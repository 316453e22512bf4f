#!/usr/bin/env -S deno run --allow-net
/**
 * TCP client of Kurose & Ross, section 2.7.2 (`TCPClient.py`), in Deno: one
 * connection per sentence; with `--stream`, all of standard input over one.
 *
 * ```sh
 * deno run --allow-net tcp_client.ts --host localhost hello world
 * ```
 *
 * `--help` lists the options. As a module it exports {@linkcode sendTcp}
 * and {@linkcode streamTcp}; grading a server is grade.ts's.
 * The textbook's program alone: `textbook/TCPClient.ts`. Licence: 0BSD.
 * @module
 */
import { lookup } from "node:dns/promises";
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

// ===========================================================================
// The main flow: TCPClient.py, in the order it runs
// ===========================================================================

/**
 * The client that `main` runs without `--stream`. TCPClient.py
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
 * Connects to the addresses of `hostname` in the system's order until one
 * answers, as Python's `socket.create_connection` does, all within
 * `timeoutMs`, the lookup included. Each address is given its share of the
 * time left, so that one that drops connections leaves time for the next.
 */
async function connect(
  hostname: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  signal?.throwIfAborted();
  const deadline = Date.now() + timeoutMs;
  const addresses = await lookupWithin(hostname, timeoutMs, signal);
  const failures: ConnectFailure[] = [];
  for (const [i, address] of addresses.entries()) {
    const shareMs = (deadline - Date.now()) / (addresses.length - i);
    try {
      return await connectWithin(address, port, shareMs, signal);
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      failures.push({ address, error, shareMs });
    }
  }
  throw noConnection(`${formatHost(hostname)}:${port}`, timeoutMs, failures);
}

/** An address that did not take the connection, and why. */
interface ConnectFailure {
  address: string;
  error: unknown;
  /** The time it was given. */
  shareMs: number;
}

/** Connects to one address, given up on after `timeoutMs`. */
async function connectWithin(
  address: string,
  port: number,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<Deno.TcpConn> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new TimeoutError()),
    timeoutMs,
  );
  function abort() {
    controller.abort(signal?.reason);
  }
  signal?.addEventListener("abort", abort, { once: true });
  try {
    requireNetAccess({ hostname: address, port }); // never Deno's prompt
    return await Deno.connect({
      hostname: address,
      port,
      signal: controller.signal,
    });
  } catch (error) {
    throw controller.signal.aborted ? controller.signal.reason : error;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

/**
 * The error for a server none of whose addresses took the connection: what
 * each did, where a name has several.
 */
function noConnection(
  server: string,
  timeoutMs: number,
  failures: ConnectFailure[],
): Error {
  const refused = (error: unknown) =>
    error instanceof Deno.errors.ConnectionRefused;
  if (failures.length > 1) {
    const tried = failures.map(({ address, error, shareMs }) =>
      `${formatHost(address)} ` +
      (refused(error)
        ? "refused"
        : error instanceof TimeoutError
        ? `did not answer within ${Math.round(shareMs / 100) / 10} s`
        : `failed (${explainError(error, address)})`)
    );
    return new Error(
      `no connection to ${server} at any of its addresses ` +
        `(${tried.join(", ")}): is the server running there?`,
    );
  }
  const { error } = failures[0];
  if (error instanceof TimeoutError) {
    return new Error(
      `no connection to ${server} within ${timeoutMs / 1000} s: is the ` +
        `host up, and is no firewall dropping the connection?`,
    );
  }
  if (refused(error)) {
    return new Error(
      `connection refused by ${server}: is the server running there?`,
      { cause: error },
    );
  }
  return error as Error;
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
   * Seconds allowed for looking the name up and connecting (each address
   * in turn), and for the reply to come (with
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
      --timeout SECONDS  give up looking the host up and connecting (to each
                         of its addresses in turn), or waiting for a reply,
                         after this long (default 10)
      --stream           one connection for all of standard input: send it
                         as it is, print what comes back, half-close at the
                         end of input and stop when the server has sent all
      --json             print one JSON object per reply, then a summary
                         object (for autograders)
  -v, --verbose          show each socket step on stderr: connect, send,
                         recv, close, with addresses and byte counts
  -h, --help             show this help

Replies go to stdout, everything else to stderr. Exit status: 0 all
answered, 1 a failure (refused, timed out, unknown host), 2 a usage error.
Grading a server is grade.ts's job: grade.ts tcp-server --help.

Example:
  ${RUN_AS} --host localhost --port 12000 hello world
  ${RUN_AS} --stream < book.txt > BOOK.TXT
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
    if (values.check) return checkMoved(values, "tcp-server");
    checkHost(values.host);
    const { port, timeout } = parseNumbers(
      { ...values, timeout: values.timeout ?? "10" },
      {
        port: { min: 1, max: 65535 },
        timeout: TIMEOUT_RANGE,
      },
    );
    checkModes(values, positionals);
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
  values: { stream: boolean; json: boolean; verbose: boolean },
  positionals: string[],
) {
  if (values.stream && positionals.length > 0) {
    throw new UsageError(
      "--stream reads standard input: give no words with it",
    );
  }
  if (values.stream && values.json) {
    throw new UsageError("--stream copies bytes as they are: it has no --json");
  }
  if (values.verbose && values.stream) {
    throw new UsageError(
      "--verbose shows each sentence's socket steps: not with --stream",
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

  /**
   * Sends all of `reader` to the server, then half-closes. An input that
   * cannot be read (stdin left write-only by `nohup`) ends there too, and
   * is reported once the server has answered what came before.
   */
  async upload(reader: ReadableStreamDefaultReader<Uint8Array>) {
    let unreadable: Error | undefined;
    while (true) {
      const { value, done } = await reader.read().catch((error: Error) => {
        unreadable = new InputUnreadable(
          error,
          "give --stream a pipe or a file",
        );
        return { value: undefined, done: true as const };
      });
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
    if (unreadable !== undefined) throw unreadable;
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

/**
 * The addresses of `hostname` in the system's order; an IP address is its
 * own, written as the system writes it (`127.0.0.1.` is `127.0.0.1`, as in
 * URLs and in udp_client).
 */
async function lookupAddresses(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":")) return [bare];
  if (/^[\d.]+$/.test(bare)) {
    try {
      return [new URL(`http://${bare}`).hostname];
    } catch {
      throw new Error(`cannot resolve host ${hostname}: check --host`);
    }
  }
  requireNetAccess({ hostname: bare }, true); // never Deno's prompt
  const found = await lookup(bare, { all: true, order: "verbatim" });
  return found.map((a) => a.address);
}

/**
 * {@linkcode lookupAddresses}, given up on after `timeoutMs` or when
 * `signal` aborts. A lookup cannot be cancelled: it is left to finish.
 */
async function lookupWithin(
  hostname: string,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string[]> {
  const looking = lookupAddresses(hostname);
  looking.catch(() => {}); // once given up on, its error is nobody's
  let timer: ReturnType<typeof setTimeout> | undefined;
  let abort = () => {};
  const givenUp = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new Error(
          `cannot resolve host ${hostname} within ${timeoutMs / 1000} s: ` +
            `is the name server reachable? (--timeout waits longer)`,
        ),
      );
    }, timeoutMs);
    abort = () => reject(signal?.reason);
    signal?.addEventListener("abort", abort, { once: true });
  });
  try {
    return await Promise.race([looking, givenUp]);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
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
  for await (const chunk of readableChunks(readable)) {
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

/** The chunks of `readable`; a failed read is an {@linkcode InputUnreadable}. */
async function* readableChunks(
  readable: ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  const reader = readable.getReader();
  try {
    while (true) {
      const { value, done } = await reader.read().catch((error) => {
        throw new InputUnreadable(error);
      });
      if (done) return;
      yield value;
    }
  } finally {
    // As `for await` does when its loop ends early.
    await reader.cancel().catch(() => {});
  }
}

/**
 * Input that cannot be read: stdin left write-only (`nohup` at a terminal
 * opens it so), a closed descriptor.
 */
class InputUnreadable extends Error {
  constructor(cause: unknown, remedy = "give it words, a pipe or a file") {
    const why = cause instanceof Error ? cause.message : String(cause);
    super(`the input cannot be read (${why}): ${remedy}`, { cause });
  }
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
    const refused = [...message.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
    if (refused.length === 0) refused.push(hostname);
    return `network access to "${refused[0]}" was not granted: ` +
      `${grantHint(hostname, refused)}, or --allow-net: ${runHint()}`;
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

/**
 * The --allow-net that lets this run go on in one go: the server's name
 * (to look it up) and what was refused. A name refused cannot be looked up,
 * so its addresses stand as ADDRESS.
 */
function grantHint(hostname: string, refused: string[]): string {
  const name = hostname.replace(/^\[(.*)\]$/, "$1");
  const isName = !name.includes(":") && !/^[\d.]+$/.test(name);
  const hosts = new Set([...(isName ? [name] : []), ...refused]);
  const hint = `give --no-prompt --allow-net=${[...hosts].join(",")}`;
  return refused.some((host) => !host.includes(":"))
    ? `${hint}${PROGRAM.startsWith("udp") ? ",0.0.0.0:0" : ""},ADDRESS:PORT ` +
      `(the name, to look it up, and each ADDRESS it has with the port)`
    : hint;
}

/**
 * `--check`, which graded servers, is grade.ts's now: says so in one line
 * with the command that does it; returns exit status 2.
 */
function checkMoved(
  values: { host: string; port: string },
  kind: "tcp-server" | "udp-server",
): number {
  console.error(
    `${PROGRAM}: --check moved to grade.ts: deno run --allow-net ` +
      `--unstable-net --allow-run grade.ts ${kind} --host ${values.host} ` +
      `--port ${values.port}`,
  );
  return 2;
}

// End of the part shared by the two clients.

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
