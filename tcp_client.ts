#!/usr/bin/env -S deno run --allow-net
/**
 * TCP client of Kurose & Ross, section 2.7.2 (`TCPClient.py`), in Deno.
 *
 * For each sentence: connect to the TCP server, send the sentence and a
 * newline, read the upper-cased reply line, close. That works with this
 * project's server, the textbook's Python one (which closes after one reply)
 * and the Java companion one (which never closes). With `--stream` it keeps
 * one connection instead and copies standard input through the server to
 * standard output, for bulk text.
 *
 * ```sh
 * deno run --allow-net tcp_client.ts --host localhost hello world
 * ```
 *
 * Run it with `--help` for the options. Imported as a module, it exports
 * {@linkcode sendTcp} and {@linkcode streamTcp}.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { parseArgs } from "node:util";

const RUN_LINE = "deno run --allow-net tcp_client.ts";
const PROMPT = "Input lowercase sentence:";
const NEWLINE = 0x0a;
/** Bytes read at a time in `--stream` mode. */
const STREAM_READ_SIZE = 64 * 1024;

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

/** One connection: send the sentence and a newline, read the reply line. */
async function exchange(
  sentence: Uint8Array,
  options: TcpClientOptions,
): Promise<Uint8Array> {
  const { hostname = "localhost", port = 12000 } = options;
  const timeoutMs = (options.timeout ?? 10) * 1000;
  const server = `${formatHost(hostname)}:${port}`;
  // clientSocket = socket(AF_INET, SOCK_STREAM)
  // clientSocket.connect((serverName, serverPort))
  const clientSocket = await connect(hostname, port, timeoutMs, options.signal);
  const log = options.log;
  log?.(`connect: ${formatAddress(clientSocket.localAddr)} to ${server}`);
  const guard = closeOnTimeoutOrAbort(clientSocket, timeoutMs, options.signal);
  const message = new Uint8Array(sentence.length + 1);
  message.set(sentence);
  message[sentence.length] = NEWLINE;
  // Upper-casing keeps every newline, so the reply ends at the newline that
  // answers ours.
  let newlinesExpected = 0;
  for (const byte of message) if (byte === NEWLINE) newlinesExpected++;

  // Sent while the reply is read: a long sentence comes back while it goes.
  // clientSocket.send(sentence.encode())
  const sending = writeAll(clientSocket, message).then(() =>
    log?.(`send: ${message.length} bytes to ${server}`)
  );
  sending.catch(() => {}); // a server that replied and closed early is fine
  const chunks: Uint8Array[] = [];
  let length = 0;
  try {
    // modifiedSentence = clientSocket.recv(1024)
    const buffer = new Uint8Array(16 * 1024);
    while (newlinesExpected > 0 && length <= 3 * message.length + 4096) {
      const received = await clientSocket.read(buffer);
      if (received === null) {
        log?.(`recv: end of stream, ${server} closed its side`);
        break;
      }
      log?.(`recv: ${received} bytes from ${server}`);
      const chunk = buffer.slice(0, received);
      for (const byte of chunk) if (byte === NEWLINE) newlinesExpected--;
      chunks.push(chunk);
      length += received;
    }
  } catch (error) {
    const reason = guard.reason();
    if (reason !== undefined) throw reason;
    // A server that reset the connection after its reply: keep the reply.
    if (length === 0) throw error;
  } finally {
    guard.clear();
    // clientSocket.close()
    closeQuietly(clientSocket);
    log?.("close");
    await sending.catch(() => {});
  }
  if (newlinesExpected > 0 && length > 3 * message.length + 4096) {
    throw new Error(`${server} sent more than any reply to this sentence`);
  }
  if (length === 0) {
    throw new Error(
      `${server} closed the connection without replying: is it an ` +
        `upper-case server, and did it accept more clients?`,
    );
  }
  const reply = concatAll(chunks, length);
  return reply.at(-1) === NEWLINE ? reply.subarray(0, -1) : reply;
}

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
  let sent = 0;
  let received = 0;
  let inputEnded = false;
  let lastActive = Date.now();
  let timedOut = false;
  // Once the input has ended, the server must keep sending or close.
  const watchdog = setInterval(() => {
    if (inputEnded && Date.now() - lastActive > timeoutMs) {
      timedOut = true;
      closeQuietly(clientSocket);
    }
  }, Math.min(1000, timeoutMs / 4));
  function abort() {
    closeQuietly(clientSocket);
  }
  signal?.addEventListener("abort", abort, { once: true });

  async function upload() {
    for await (const chunk of input) {
      await writeAll(clientSocket, chunk);
      sent += chunk.length;
    }
    inputEnded = true;
    lastActive = Date.now();
    // Half-close: the server sees the end, finishes sending, then closes.
    await clientSocket.closeWrite();
  }

  const uploading = upload();
  uploading.catch(() => {});
  const writer = output.getWriter();
  try {
    const buffer = new Uint8Array(STREAM_READ_SIZE);
    while (true) {
      const count = await clientSocket.read(buffer);
      if (count === null) break;
      lastActive = Date.now();
      received += count;
      await writer.write(buffer.slice(0, count));
    }
    if (!inputEnded) {
      await uploading.catch(() => {});
      throw new Error(
        `${server} closed the connection before all the input was sent`,
      );
    }
    await uploading;
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    if (timedOut) {
      throw new Error(
        `${server} sent nothing for ${timeoutMs / 1000} s after the end ` +
          `of the input and did not close: use --timeout to wait longer`,
      );
    }
    throw error;
  } finally {
    clearInterval(watchdog);
    signal?.removeEventListener("abort", abort);
    closeQuietly(clientSocket);
    await uploading.catch(() => {});
    writer.releaseLock();
  }
  return { sent, received };
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
    const addresses = await resolve(hostname);
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
      );
    }
    throw lastError;
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", abort);
  }
}

/** The addresses of `hostname`, IPv4 first; an IP address is its own. */
async function resolve(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":") || /^[\d.]+$/.test(bare)) return [bare];
  const found = await lookup(bare, { all: true });
  return found.sort((a, b) => a.family - b.family).map((a) => a.address);
}

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
    reason = new Error(
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

async function writeAll(socket: Deno.TcpConn, data: Uint8Array) {
  for (let written = 0; written < data.length;) {
    written += await socket.write(data.subarray(written));
  }
}

function closeQuietly(socket: Deno.TcpConn) {
  try {
    socket.close();
  } catch {
    // already closed
  }
}

function concatAll(chunks: Uint8Array[], length: number): Uint8Array {
  const joined = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    joined.set(chunk, offset);
    offset += chunk.length;
  }
  return joined;
}

/** IPv6 hosts in brackets, as in URLs. */
function formatHost(hostname: string): string {
  return hostname.includes(":") && !hostname.startsWith("[")
    ? `[${hostname}]`
    : hostname;
}

/** `HOST:PORT`, with IPv6 hosts in brackets as in URLs. */
function formatAddress(addr: { hostname: string; port: number }): string {
  return `${formatHost(addr.hostname)}:${addr.port}`;
}

/** The command that runs this program with its permissions. */
function runHint(): string {
  return Deno.build.standalone
    ? "rebuild it with deno compile --allow-net tcp_client.ts"
    : RUN_LINE;
}

/** One line that says what went wrong and, where it helps, what to do. */
function describe(error: unknown, hostname: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const { code, syscall } = error as { code?: string; syscall?: string };
  // node:dns reports Deno's refusal as EPERM; a firewall's refusal to
  // connect is EPERM too, but not from a lookup, and is reported as it is.
  if (
    error instanceof Deno.errors.NotCapable ||
    (code === "EPERM" && syscall === "getaddrinfo")
  ) {
    const what = message.match(/"[^"]*"/)?.[0] ?? hostname;
    return `network access to ${what} was not granted: ${runHint()}`;
  }
  if (code === "ENOTFOUND" || code === "EAI_AGAIN") {
    return `cannot resolve host ${hostname}: check --host`;
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

/** Splits a byte stream into lines, without their `\n` or `\r\n`. */
async function* readLines(
  readable: ReadableStream<Uint8Array>,
): AsyncGenerator<Uint8Array> {
  let pending = new Uint8Array(0);
  for await (const chunk of readable) {
    let data = pending.length > 0
      ? concatAll([pending, chunk], pending.length + chunk.length)
      : chunk;
    let newline: number;
    while ((newline = data.indexOf(NEWLINE)) >= 0) {
      yield stripCarriageReturn(data.subarray(0, newline));
      data = data.subarray(newline + 1);
    }
    pending = data.slice();
  }
  if (pending.length > 0) yield stripCarriageReturn(pending);
}

function stripCarriageReturn(line: Uint8Array): Uint8Array {
  return line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
}

/** Lines typed at the terminal, each asked for with the textbook's prompt. */
async function* promptedLines(): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const lines = readLines(Deno.stdin.readable);
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

const HELP = `Usage: tcp_client.ts [options] [SENTENCE...]

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
  -v, --verbose          show each socket step on stderr: connect, send,
                         recv, close, with addresses and byte counts
  -h, --help             show this help

Replies go to stdout, everything else to stderr. Exit status: 0 all
answered, 1 a failure (refused, timed out, unknown host), 2 a usage error.

Example:
  ${RUN_LINE} --host localhost --port 12000 hello world
  ${RUN_LINE} --stream < book.txt > BOOK.TXT
`;

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        host: { type: "string", default: "localhost" },
        port: { type: "string", short: "p", default: "12000" },
        timeout: { type: "string", default: "10" },
        stream: { type: "boolean", default: false },
        json: { type: "boolean", default: false },
        verbose: { type: "boolean", short: "v", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    return usageError((error as Error).message.split(/\.\s/)[0]);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const port = Number(values.port);
  if (!/^\d+$/.test(values.port) || port < 1 || port > 65535) {
    return usageError(
      `--port must be a number from 1 to 65535, not ${values.port}`,
    );
  }
  const timeout = Number(values.timeout);
  if (values.timeout.trim() === "" || !(timeout > 0 && timeout <= 86400)) {
    return usageError(
      `--timeout must be seconds above 0, not ${values.timeout}`,
    );
  }
  if (values.stream && positionals.length > 0) {
    return usageError("--stream reads standard input: give no words with it");
  }
  if (values.stream && values.json) {
    return usageError("--stream copies bytes as they are: it has no --json");
  }
  const options: TcpClientOptions = {
    hostname: values.host,
    port,
    timeout,
    log: values.verbose
      ? (line) => console.error(`tcp_client: ${line}`)
      : undefined,
  };

  try {
    if (values.stream) {
      await streamTcp(Deno.stdin.readable, Deno.stdout.writable, options);
      return 0;
    }
    // Words on the command line, else the textbook's prompt, else a pipe.
    const sentences = positionals.length > 0
      ? [positionals.join(" ")]
      : Deno.stdin.isTerminal()
      ? promptedLines()
      : readLines(Deno.stdin.readable);
    const stdout = Deno.stdout.writable.getWriter();
    const encoder = new TextEncoder();
    const decoder = new TextDecoder();
    try {
      let replies = 0;
      for await (const modifiedSentence of sendTcp(sentences, options)) {
        replies++;
        // print('From Server: ', modifiedSentence.decode())
        if (values.json) {
          const reply = decoder.decode(modifiedSentence);
          await stdout.write(encoder.encode(JSON.stringify({ reply }) + "\n"));
        } else {
          await stdout.write(modifiedSentence);
          await stdout.write(new Uint8Array([NEWLINE]));
        }
      }
      if (values.json) {
        await stdout.write(encoder.encode(JSON.stringify({ replies }) + "\n"));
      }
    } finally {
      stdout.releaseLock();
    }
  } catch (error) {
    console.error(`tcp_client: ${describe(error, values.host)}`);
    return 1;
  }
  return 0;
}

function usageError(message: string): number {
  console.error(`tcp_client: ${message} (see --help)`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
