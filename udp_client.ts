#!/usr/bin/env -S deno run --allow-net --unstable-net
/**
 * UDP client of Kurose & Ross, section 2.7.1 (`UDPClient.py`), in Deno.
 *
 * Sends a sentence in one datagram to the UDP server and prints the
 * upper-cased reply. Lost datagrams are sent again; a missing server is an
 * error after `--timeout` seconds times `1 + --retries` tries, never a hang.
 *
 * ```sh
 * deno run --allow-net --unstable-net udp_client.ts --host localhost hello world
 * ```
 *
 * Without words it prompts as the textbook does (or, reading a pipe, sends
 * each line). Run it with `--help` for the options. Imported as a module, it
 * exports {@linkcode sendUdp}.
 *
 * @module
 */
import { lookup } from "node:dns/promises";
import { parseArgs } from "node:util";

/** The largest UDP payload over IPv4: 65,535 less the IP and UDP headers. */
const MAX_DATAGRAM_IPV4 = 65_507;
/** The largest UDP payload over IPv6, whose length field leaves out its header. */
const MAX_DATAGRAM_IPV6 = 65_527;
/** Big enough for any datagram, so no reply is ever truncated. */
const RECEIVE_BUFFER_SIZE = 65_536;
const RUN_LINE = "deno run --allow-net --unstable-net udp_client.ts";
const PROMPT = "Input lowercase sentence:";

/** Options of {@linkcode sendUdp}. */
export interface UdpClientOptions {
  /** The server's name or address. Default `localhost`. */
  hostname?: string;
  /** The server's port. Default 12000. */
  port?: number;
  /** Seconds to wait for a reply before sending again. Default 1. */
  timeout?: number;
  /** How many times a sentence is sent again before giving up. Default 3. */
  retries?: number;
  /** Stops at once: the socket is closed and the generator throws. */
  signal?: AbortSignal;
}

/**
 * Sends each sentence to the UDP server in a datagram of its own and yields
 * the reply to it, in order. A sentence is sent again when no reply comes
 * within `timeout`; after `1 + retries` tries the generator throws.
 *
 * Each sentence gets a fresh socket, so a late reply to an earlier sentence
 * arrives at a closed port and can never be taken for the answer to a later
 * one. Datagrams from any address but the server's are ignored.
 *
 * @example
 * ```ts
 * for await (const reply of sendUdp(["hello world"], { port: 12000 })) {
 *   console.log(new TextDecoder().decode(reply)); // HELLO WORLD
 * }
 * ```
 */
export async function* sendUdp(
  sentences: Iterable<string | Uint8Array> | AsyncIterable<string | Uint8Array>,
  options: UdpClientOptions = {},
): AsyncGenerator<Uint8Array> {
  const { hostname = "localhost", port = 12000, signal } = options;
  const timeoutMs = (options.timeout ?? 1) * 1000;
  const tries = 1 + (options.retries ?? 3);
  if (typeof Deno.listenDatagram !== "function") {
    throw new Error(
      `UDP sockets need Deno's --unstable-net flag: ${runHint()}`,
    );
  }
  // serverName = 'hostname'; serverPort = 12000
  const serverAddress = await resolve(hostname, port);
  const limit = serverAddress.hostname.includes(":")
    ? MAX_DATAGRAM_IPV6
    : MAX_DATAGRAM_IPV4;
  const encoder = new TextEncoder();

  for await (const sentence of sentences) {
    signal?.throwIfAborted();
    const message = typeof sentence === "string"
      ? encoder.encode(sentence)
      : sentence;
    if (message.length > limit) {
      throw new Error(
        `the sentence is ${message.length} bytes, but one UDP datagram ` +
          `carries at most ${limit}: shorten it, or use tcp_client.ts`,
      );
    }
    yield await exchange(message, serverAddress, { timeoutMs, tries, signal });
  }
}

/** Sends one message and waits for the server's reply, trying `tries` times. */
async function exchange(
  message: Uint8Array,
  serverAddress: Deno.NetAddr,
  options: { timeoutMs: number; tries: number; signal?: AbortSignal },
): Promise<Uint8Array> {
  const { timeoutMs, tries, signal } = options;
  // clientSocket = socket(AF_INET, SOCK_DGRAM)
  const clientSocket = Deno.listenDatagram({
    transport: "udp",
    hostname: serverAddress.hostname.includes(":") ? "::" : "0.0.0.0",
    port: 0,
  });
  let closed = false;
  function close() {
    if (!closed) clientSocket.close();
    closed = true;
  }
  signal?.addEventListener("abort", close, { once: true });
  let receiving: Promise<[Uint8Array, Deno.Addr]> | undefined;
  let sendError: unknown;
  try {
    for (let attempt = 0; attempt < tries; attempt++) {
      try {
        // clientSocket.sendto(message.encode(), (serverName, serverPort))
        await clientSocket.send(message, serverAddress);
      } catch (error) {
        // A datagram the system refused to send (a firewall, no route yet)
        // is lost like any other: wait out the try, then send again.
        if (signal?.aborted || error instanceof Deno.errors.NotCapable) {
          throw error;
        }
        sendError = error;
      }
      const deadline = Date.now() + timeoutMs;
      while (true) {
        // modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
        receiving ??= clientSocket.receive(
          new Uint8Array(RECEIVE_BUFFER_SIZE),
        );
        const received = await within(receiving, deadline - Date.now());
        if (received === undefined) break; // timed out: send it again
        receiving = undefined;
        const [modifiedMessage, from] = received;
        if (sameAddress(from as Deno.NetAddr, serverAddress)) {
          return modifiedMessage;
        }
      }
    }
    throw new Error(
      `no reply from ${formatAddress(serverAddress)} after ${tries} ` +
        `${tries === 1 ? "try" : "tries"} of ${timeoutMs / 1000} s: ` +
        (sendError === undefined
          ? `is the server running there? (UDP cannot tell a lost datagram ` +
            `from a missing server)`
          : `sending failed: ${(sendError as Error).message}`),
    );
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  } finally {
    signal?.removeEventListener("abort", close);
    // clientSocket.close()
    close();
    await receiving?.catch(() => {});
  }
}

/** Resolves with the promise's value, or `undefined` after `ms`. */
async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), Math.max(0, ms));
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The server's address as an IP, looked up once so that replies can be
 * checked against it. IPv4 comes first, as the servers bind IPv4 by default.
 */
async function resolve(hostname: string, port: number): Promise<Deno.NetAddr> {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  let address: string;
  if (bare.includes(":")) {
    address = bare;
  } else if (/^[\d.]+$/.test(bare)) {
    address = new URL(`http://${bare}`).hostname;
  } else {
    const found = await lookup(bare, { all: true });
    address = (found.find((a) => a.family === 4) ?? found[0]).address;
  }
  if (address.includes(":")) {
    // Canonical form ("0:0::1" is "::1"), as the system reports senders.
    address = new URL(`http://[${address}]`).hostname.slice(1, -1);
  }
  return { transport: "udp", hostname: address, port };
}

function sameAddress(a: Deno.NetAddr, b: Deno.NetAddr): boolean {
  return a.port === b.port && a.hostname === b.hostname;
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
    ? "rebuild it with deno compile --allow-net --unstable-net udp_client.ts"
    : RUN_LINE;
}

/** One line that says what went wrong and, where it helps, what to do. */
function describe(error: unknown, hostname: string): string {
  const message = error instanceof Error ? error.message : String(error);
  const { code, syscall } = error as { code?: string; syscall?: string };
  // node:dns reports Deno's refusal as EPERM; a firewall's refusal to send
  // is EPERM too, but from a send, and is reported as it is.
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
    let data = concat(pending, chunk);
    let newline: number;
    while ((newline = data.indexOf(0x0a)) >= 0) {
      yield stripCarriageReturn(data.subarray(0, newline));
      data = data.subarray(newline + 1);
    }
    pending = data.slice();
  }
  if (pending.length > 0) yield stripCarriageReturn(pending);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}

function stripCarriageReturn(line: Uint8Array): Uint8Array {
  return line.at(-1) === 0x0d ? line.subarray(0, -1) : line;
}

/** Lines typed at the terminal, each asked for with the textbook's prompt. */
async function* promptedLines(): AsyncGenerator<Uint8Array> {
  const prompt = new TextEncoder().encode(PROMPT);
  const lines = readLines(Deno.stdin.readable);
  while (true) {
    // message = input('Input lowercase sentence:')
    Deno.stderr.writeSync(prompt);
    const next = await lines.next();
    if (next.done) {
      Deno.stderr.writeSync(new TextEncoder().encode("\n"));
      return;
    }
    yield next.value;
  }
}

const HELP = `Usage: udp_client.ts [options] [SENTENCE...]

The UDP client of Kurose & Ross 2.7.1 (UDPClient.py): sends a sentence to
the UDP server in one datagram and prints the upper-cased reply.

  SENTENCE...    words to send, joined by spaces; without them the client
                 prompts "${PROMPT}" at a terminal, or sends each
                 line of a pipe and prints one reply line for each

Options:
      --host HOST        server name or address (default localhost)
  -p, --port PORT        server port (default 12000)
      --timeout SECONDS  wait this long for a reply before sending again
                         (default 1)
      --retries N        send a sentence again up to N times (default 3)
  -h, --help             show this help

Replies go to stdout, everything else to stderr. Exit status: 0 all
answered, 1 a failure (no reply, unknown host), 2 a usage error.

Example:
  ${RUN_LINE} --host localhost --port 12000 hello world
  printf 'one\\ntwo\\n' | ${RUN_LINE}
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
        timeout: { type: "string", default: "1" },
        retries: { type: "string", default: "3" },
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
  if (values.timeout.trim() === "" || !(timeout > 0 && timeout <= 3600)) {
    return usageError(
      `--timeout must be seconds above 0, not ${values.timeout}`,
    );
  }
  if (!/^\d+$/.test(values.retries) || Number(values.retries) > 1000) {
    return usageError(
      `--retries must be a number from 0 to 1000, not ${values.retries}`,
    );
  }

  // Words on the command line, else the textbook's prompt, else a pipe.
  const sentences = positionals.length > 0
    ? [positionals.join(" ")]
    : Deno.stdin.isTerminal()
    ? promptedLines()
    : readLines(Deno.stdin.readable);
  const stdout = Deno.stdout.writable.getWriter();
  try {
    const replies = sendUdp(sentences, {
      hostname: values.host,
      port,
      timeout,
      retries: Number(values.retries),
    });
    for await (const modifiedMessage of replies) {
      // print(modifiedMessage.decode())
      await stdout.write(concat(modifiedMessage, new Uint8Array([0x0a])));
    }
  } catch (error) {
    console.error(`udp_client: ${describe(error, values.host)}`);
    return 1;
  } finally {
    await stdout.close().catch(() => {});
  }
  return 0;
}

function usageError(message: string): number {
  console.error(`udp_client: ${message} (see --help)`);
  return 2;
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
