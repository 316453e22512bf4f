#!/usr/bin/env -S deno run --allow-net --unstable-net --allow-run
/**
 * The instructor's grader for Kurose & Ross 2.7: grades the servers and the
 * clients a class writes, in any language, one command each, or a whole
 * class in one command. Standalone: copy it alone and run it with
 *
 *     deno run --allow-net --unstable-net --allow-run grade.ts KIND [options] [FILE...] [-- COMMAND ...]
 *
 * KIND is tcp-server, udp-server, tcp-client, udp-client, pinger or
 * heartbeat. Each check prints PASS, WARN, FAIL or SKIP and why, in a
 * student's words; then a score. The student's program runs with your
 * rights: grade untrusted code in a container or as another user.
 *
 * Exports {@linkcode grade} (every kind) and {@linkcode StudentProgram}.
 * Licensed 0BSD (LICENSE): copy it freely.
 *
 * @module
 */
import { parseArgs, type ParseArgsOptionsConfig } from "node:util";

// ===========================================================================
// The main flow: start the student's program, grade it, report
// ===========================================================================

/** What the grader grades. */
export type Kind =
  | "tcp-server"
  | "udp-server"
  | "tcp-client"
  | "udp-client"
  | "pinger"
  | "heartbeat";

/**
 * A verdict: FAIL is broken, WARN works with a limit to know, SKIP was not
 * checked (the program had stopped, or never answered).
 */
export type Verdict = "PASS" | "WARN" | "FAIL" | "SKIP";

/** One check: its verdict, and why, in a student's words. */
export interface CheckResult {
  /** What was checked. */
  check: string;
  /** PASS, WARN, FAIL or SKIP. */
  verdict: Verdict;
  /** What happened, and what to do about it. */
  why: string;
}

/** Options of {@linkcode grade}. */
export interface GradeOptions {
  /**
   * The student's program and its arguments, `{port}` and `{host}` in them
   * replaced. A server is started before the checks and ended after them;
   * a client is started anew for each check. Servers without it are graded
   * where they already run, at `hostname`:`port`.
   */
  command?: string[];
  /** A server's name or address; a client's server is 127.0.0.1 and ::1. */
  hostname?: string;
  /**
   * The port. Default 12000; with `command`, 0 means a free port chosen by
   * the grader and given to the program as `{port}`.
   */
  port?: number;
  /** Seconds each wait of each check lasts at most. Default 2. */
  timeout?: number;
  /** udp-server: tries of each datagram after the first. Default 3. */
  retries?: number;
  /** udp-server: seconds from one try to the next. Default `timeout`. */
  interval?: number;
  /** Stops the grading: the checks left are not run. */
  signal?: AbortSignal;
}

/**
 * Grades one program of `kind`, check by check; each result is yielded as
 * soon as it is known. A program given by `options.command` that does not
 * start (or, for a server, never listens) throws {@linkcode DidNotStart},
 * whose message says why from the program's own stderr.
 *
 * @example
 * ```ts
 * for await (const result of grade("udp-server", { port: 12000 })) {
 *   console.log(result.verdict, result.check, result.why);
 * }
 * ```
 */
export async function* grade(
  kind: Kind,
  options: GradeOptions = {},
): AsyncGenerator<CheckResult> {
  if (options.signal?.aborted) return;
  for await (const result of GRADERS[kind](options)) {
    yield result;
    // Returning ends the kind's grader, which ends the student's program.
    if (options.signal?.aborted) return;
  }
}

/** Each kind's grader. */
const GRADERS: Record<
  Kind,
  (options: GradeOptions) => AsyncGenerator<CheckResult>
> = {
  "tcp-server": gradeTcpServer,
  "udp-server": gradeUdpServer,
  "tcp-client": gradeTcpClient,
  "udp-client": gradeUdpClient,
  "pinger": gradePinger,
  "heartbeat": gradeHeartbeat,
};

/** One run's end: the score and counts, and the exit status it gives. */
interface Summary {
  /** 1 for a PASS, half for a WARN. */
  score: number;
  /** How many checks there were. */
  out_of: number;
  PASS: number;
  WARN: number;
  FAIL: number;
  SKIP: number;
}

/** Runs the command line; resolves with the exit status. */
async function main(args: string[]): Promise<number> {
  let run: CommandLine;
  try {
    run = readCommandLine(args);
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message);
    throw error;
  }
  if (run.help) {
    console.log(HELP);
    return 0;
  }
  const stdout = standardOutput().getWriter();
  const print = (line: string) =>
    stdout.write(new TextEncoder().encode(`${line}\n`));
  try {
    if (run.files.length === 0) {
      return (await gradeOne(run, run.command, print)).status;
    }
    return await gradeClass(run, print);
  } catch (error) {
    // Stopped quietly when stdout is closed, but not every check ran.
    if (error instanceof StdoutClosed) return 1;
    throw error;
  } finally {
    await stdout.close().catch(() => {});
  }
}

/**
 * Grades one program (the one `command` starts, or the server already at
 * `--host`/`--port`), printing each result as it comes, then the score.
 * Resolves with the summary, or with why the program did not start.
 */
async function gradeOne(
  run: CommandLine,
  command: string[] | undefined,
  print: (line: string) => Promise<void>,
  file?: string,
): Promise<{ status: number; summary?: Summary; didNotStart?: string }> {
  const count = { PASS: 0, WARN: 0, FAIL: 0, SKIP: 0 };
  const named = (object: object) =>
    JSON.stringify(file === undefined ? object : { file, ...object });
  if (!run.json) await print(title(run, command, file));
  try {
    for await (const result of grade(run.kind, { ...run.options, command })) {
      count[result.verdict]++;
      await print(
        run.json
          ? named(result)
          : `${result.verdict.padEnd(4)}  ${result.check}: ${result.why}`,
      );
    }
  } catch (error) {
    if (!(error instanceof DidNotStart)) throw error;
    await print(
      run.json
        ? named({ started: false, why: error.message })
        : `did not start: ${error.message}`,
    );
    return { status: 1, didNotStart: error.message };
  }
  const total = count.PASS + count.WARN + count.FAIL + count.SKIP;
  const summary = {
    score: count.PASS + count.WARN / 2,
    out_of: total,
    ...count,
  };
  await print(
    run.json
      ? named(summary)
      : `Score: ${summary.score} of ${total} (${count.PASS} PASS, ` +
        `${count.WARN} WARN, ${count.FAIL} FAIL${
          count.SKIP > 0 ? `, ${count.SKIP} SKIP` : ""
        })`,
  );
  return { status: count.FAIL > 0 || count.SKIP > 0 ? 1 : 0, summary };
}

/** The line above a run's results: what is graded, and how. */
function title(
  run: CommandLine,
  command: string[] | undefined,
  file?: string,
): string {
  const what = file ?? (command ? command.join(" ") : formatAddress({
    hostname: run.options.hostname ?? "localhost",
    port: run.options.port ?? 12000,
  }));
  return `Grading ${what} as a ${run.kind} ` +
    `(each wait at most ${run.options.timeout ?? 2} s)`;
}

// ===========================================================================
// A whole class: several files, one after another
// ===========================================================================

/**
 * Grades each file of `run.files` in turn, each with the command line that
 * names it (`{file}` in COMMAND, or the file after it), each on a port of
 * its own; then a table of every file's verdicts and score. Resolves with
 * 0 when every file's run did, else 1.
 */
async function gradeClass(
  run: CommandLine,
  print: (line: string) => Promise<void>,
): Promise<number> {
  const rows: string[][] = [];
  let status = 0;
  for (const file of run.files) {
    const verdicts: string[] = [];
    const command = commandFor(run.command ?? [], file);
    const outcome = await gradeOne(run, command, async (line) => {
      const verdict = line.match(/^(PASS|WARN|FAIL|SKIP) /)?.[1] ??
        line.match(/"verdict":"(PASS|WARN|FAIL|SKIP)"/)?.[1];
      if (verdict) verdicts.push(verdict[0]);
      await print(line);
    }, file);
    if (outcome.status !== 0) status = 1;
    if (!run.json) await print("");
    rows.push([
      file,
      outcome.summary ? verdicts.join("") : "did not start",
      outcome.summary ? `${outcome.summary.score}` : "-",
      `${outcome.status}`,
    ]);
  }
  if (!run.json) {
    for (const line of table(["file", "verdicts", "score", "exit"], rows)) {
      await print(line);
    }
  }
  return status;
}

/** `command` with `{file}` replaced by `file`, or `file` after it. */
function commandFor(command: string[], file: string): string[] {
  return command.some((word) => word.includes("{file}"))
    ? command.map((word) => word.replaceAll("{file}", file))
    : [...command, file];
}

/** Rows under a head, each column as wide as its widest cell. */
function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((cell, i) =>
    Math.max(cell.length, ...rows.map((row) => row[i].length))
  );
  return [head, ...rows].map((row) =>
    row.map((cell, i) => cell.padEnd(widths[i])).join("  ").trimEnd()
  );
}

// ===========================================================================
// The command line
// ===========================================================================

const PROGRAM = "grade";
const RUN_LINE = "deno run --allow-net --unstable-net --allow-run grade.ts";

const KINDS: Kind[] = [
  "tcp-server",
  "udp-server",
  "tcp-client",
  "udp-client",
  "pinger",
  "heartbeat",
];

const HELP = `Usage: grade.ts KIND [options] [FILE...] [-- COMMAND ...]

Grades a program a class writes for Kurose & Ross 2.7, check by check:
PASS, WARN (works, with a limit to know), FAIL or SKIP (not checked), and
why; then a score (1 a PASS, half a WARN).

KIND:
  tcp-server     an upper-case TCP server (TCPServer.py's job)
  udp-server     an upper-case UDP server (UDPServer.py's job)
  tcp-client     a TCP client (TCPClient.py's job): the grader is its server
  udp-client     a UDP client (UDPClient.py's job): the grader is its server
  pinger         a UDP Pinger client (the lab's): 10 pings, 1 s timeout
  heartbeat      a UDP Heartbeat client (the lab's optional exercise)

COMMAND runs the student's program; {port} in it becomes the port and
{host} becomes 127.0.0.1. A server is started, graded once it listens,
then ended with its process group; a client is started for each check and
fed sentences on its stdin, with the grader as its server on 127.0.0.1
and ::1 at --port. Without COMMAND, a server already running at --host
and --port is graded.

FILE...: a whole class. Each file is graded in turn with COMMAND ({file}
in it becomes the file; without {file}, the file goes last), each on a
free port of its own when COMMAND has {port}; then a table.

Options:
      --host HOST        a running server's name or address
                         (default localhost)
  -p, --port PORT        its port, or the port a client is served on
                         (default 12000; with COMMAND, 0 picks a free one)
      --timeout SECONDS  how long each wait lasts at most (default 2)
      --retries N        udp-server: send a datagram again up to N times
                         (default 3)
      --interval SECONDS udp-server: time between tries (default --timeout)
      --json             one JSON object per check, then the score
  -h, --help             show this help

Exit status: 0 when every check ran and none FAILed, 1 otherwise, 2 for a
usage error. The student's program runs with your rights: grade untrusted
code in a container or as another user.

Examples:
  ${RUN_LINE} udp-server --port 12000
  ${RUN_LINE} tcp-server -- python3 TCPServer.py
  ${RUN_LINE} tcp-client -- python3 TCPClient.py
  ${RUN_LINE} pinger -- python3 UDPPingerClient.py
  ${RUN_LINE} pinger submissions/*.py -- python3
`;

const OPTIONS = {
  host: { type: "string" },
  port: { type: "string", short: "p" },
  timeout: { type: "string" },
  retries: { type: "string" },
  interval: { type: "string" },
  json: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The command line, read. */
interface CommandLine {
  kind: Kind;
  help: boolean;
  json: boolean;
  /** The words after `--`, if any. */
  command?: string[];
  /** The students' files, for a whole class. */
  files: string[];
  options: GradeOptions;
}

/** Reads the command line; a mistake is a `UsageError`. */
function readCommandLine(args: string[]): CommandLine {
  const split = args.indexOf("--");
  const command = split >= 0 ? args.slice(split + 1) : undefined;
  const { values, positionals } = parseCommandLine(
    split >= 0 ? args.slice(0, split) : args,
    OPTIONS,
    true,
  );
  if (values.help) {
    return {
      kind: "tcp-server",
      help: true,
      json: false,
      files: [],
      options: {},
    };
  }
  const [kind, ...files] = positionals;
  if (kind === undefined) {
    throw new UsageError(`give a KIND: ${KINDS.join(", ")}`);
  }
  if (!KINDS.includes(kind as Kind)) {
    throw new UsageError(
      `${kind} is not a KIND: give one of ${KINDS.join(", ")}`,
    );
  }
  if (command !== undefined && command.length === 0) {
    throw new UsageError("-- must be followed by the command to run");
  }
  const isServer = kind.endsWith("-server");
  if (!isServer && command === undefined) {
    throw new UsageError(
      `${kind} grades a program the grader runs: give its command after --`,
    );
  }
  if (files.length > 0 && command === undefined) {
    throw new UsageError(
      "files are graded with a command: give it after -- ({file} names each)",
    );
  }
  if (values.host !== undefined) {
    checkHost(values.host);
    if (!isServer || command !== undefined) {
      throw new UsageError(
        "--host names a server already running: the grader runs COMMAND " +
          "on 127.0.0.1 ({host})",
      );
    }
  }
  const numbers = parseNumbers(values, {
    port: { min: command === undefined ? 1 : 0, max: 65535 },
    timeout: { min: 0.001, max: 3600, decimals: 3, unit: "seconds" },
    retries: { min: 0, max: 100 },
    interval: { min: 0.001, max: 3600, decimals: 3, unit: "seconds" },
  });
  if (
    kind !== "udp-server" &&
    (numbers.retries !== undefined || numbers.interval !== undefined)
  ) {
    throw new UsageError("--retries and --interval go with udp-server");
  }
  return {
    kind: kind as Kind,
    help: false,
    json: values.json,
    command,
    files,
    options: {
      hostname: values.host,
      port: numbers.port ??
        (files.length > 0 && command?.some((w) => w.includes("{port}"))
          ? 0
          : undefined),
      timeout: numbers.timeout,
      retries: numbers.retries,
      interval: numbers.interval,
    },
  };
}

// ===========================================================================
// The student's program: started, fed, ended with its process group
// ===========================================================================

/**
 * The student's program did not start, or a server never listened: the
 * message says why, from the program's own stderr.
 */
export class DidNotStart extends Error {}

/** Most bytes kept of a program's stdout or stderr; the rest is counted. */
const KEPT_OUTPUT = 1024 * 1024;

/** How long a program may take to start listening. */
const START_MS = 10_000;

/**
 * How long a server that finds its port in use is started again: a port
 * stays held for a minute after its last connection (TCP's TIME-WAIT) when
 * the server closed first and did not set SO_REUSEADDR, as TCPServer.py.
 */
const TIME_WAIT_MS = 65_000;

/** How long a program is given after SIGTERM, before SIGKILL. */
const STOP_MS = 500;

/**
 * Bytes a program writes, kept up to a limit (the rest counted, never held
 * in memory), and watched: {@linkcode Captured.until} waits for them.
 */
export class Captured {
  #chunks: Uint8Array[] = [];
  #kept = 0;
  /** Every byte written, kept or not. */
  total = 0;
  #waiters = new Set<() => void>();

  /** Takes a chunk as it is read. */
  add(chunk: Uint8Array) {
    this.total += chunk.length;
    if (this.#kept < KEPT_OUTPUT) {
      const part = chunk.subarray(0, KEPT_OUTPUT - this.#kept);
      this.#chunks.push(part.slice());
      this.#kept += part.length;
    }
    for (const wake of this.#waiters) wake();
  }

  /** The bytes kept so far. */
  bytes(): Uint8Array {
    this.#chunks = [concat(this.#chunks)];
    return this.#chunks[0] ?? new Uint8Array();
  }

  /** The bytes kept so far, as text (invalid bytes as U+FFFD). */
  text(): string {
    return new TextDecoder().decode(this.bytes());
  }

  /** Resolves when `ready` holds of the bytes, or false after `ms`. */
  async until(
    ready: (bytes: Uint8Array) => boolean,
    ms: number,
  ): Promise<boolean> {
    if (ready(this.bytes())) return true;
    let wake = () => {};
    const deadline = setTimeout(() => wake(), ms);
    const start = Date.now();
    try {
      while (Date.now() - start < ms) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#waiters.add(resolve);
        });
        this.#waiters.delete(wake);
        if (ready(this.bytes())) return true;
      }
      return false;
    } finally {
      this.#waiters.delete(wake);
      clearTimeout(deadline);
    }
  }
}

/**
 * A student's program, started in a process group of its own so that
 * whatever it forks is ended with it. Its stdout and stderr are read as
 * they come (a program that floods them is never blocked, and never fills
 * the grader's memory); its stdin is the grader's to type into.
 */
export class StudentProgram {
  /** The command line it was started with. */
  readonly command: string[];
  /** What it wrote on stdout. */
  readonly stdout = new Captured();
  /** What it wrote on stderr. */
  readonly stderr = new Captured();
  /** Its exit status, once it has ended (by itself or by `stop`). */
  readonly status: Promise<Deno.CommandStatus>;
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #reading: Promise<void>;
  #ended: Deno.CommandStatus | undefined;

  /**
   * Starts `command`. A program that cannot be found or run throws
   * {@linkcode DidNotStart}.
   */
  constructor(command: string[]) {
    this.command = command;
    try {
      this.#child = new Deno.Command(command[0], {
        args: command.slice(1),
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
        detached: true, // a process group of its own, to end it whole
      }).spawn();
    } catch (error) {
      throw new DidNotStart(
        error instanceof Deno.errors.NotFound
          ? `${command[0]} was not found: check the command after --`
          : `${command.join(" ")} could not be run: ${
            (error as Error).message
          }`,
      );
    }
    this.#stdin = this.#child.stdin.getWriter();
    this.#stdin.closed.catch(() => {}); // a program that closed its stdin
    this.#reading = Promise.all([
      drain(this.#child.stdout, this.stdout),
      drain(this.#child.stderr, this.stderr),
    ]).then(() => {});
    this.status = this.#child.status.then((status) => this.#ended = status);
  }

  /** The process id, which is also its process group's. */
  get pid(): number {
    return this.#child.pid;
  }

  /** Whether it has ended. */
  get ended(): boolean {
    return this.#ended !== undefined;
  }

  /**
   * Types `text` on its stdin, as a person would; false when the program
   * does not take it within `ms` (it has closed stdin, or stopped reading).
   */
  async type(text: string | Uint8Array, ms = 2_000): Promise<boolean> {
    const data = typeof text === "string"
      ? new TextEncoder().encode(text)
      : text;
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.#stdin.write(data).then(() => true, () => false),
        new Promise<boolean>((resolve) => {
          timer = setTimeout(() => resolve(false), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Ends its input, as Ctrl-D does at a terminal. */
  async endInput(): Promise<void> {
    await this.#stdin.close().catch(() => {});
  }

  /** Resolves with its status if it ends within `ms`, else undefined. */
  async waitEnd(ms: number): Promise<Deno.CommandStatus | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      return await Promise.race([
        this.status,
        new Promise<undefined>((resolve) => {
          timer = setTimeout(() => resolve(undefined), ms);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends it and everything it started: SIGTERM to its process group, then
   * SIGKILL after a moment. Resolves when it has ended and its output has
   * been read to the end (bounded, even if a child escaped the group).
   */
  async stop(): Promise<Deno.CommandStatus> {
    this.#signalGroup("SIGTERM");
    if (await this.waitEnd(STOP_MS) === undefined) this.#signalGroup("SIGKILL");
    const status = await this.status;
    this.#signalGroup("SIGKILL"); // what it forked and left behind
    await this.#stdin.close().catch(() => {});
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = await Promise.race([
      this.#reading.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), STOP_MS);
      }),
    ]);
    clearTimeout(timer); // no timer left behind (tests' sanitizers)
    if (!read) {
      // A process that left the group still holds the pipes: stop reading.
      await Promise.all([
        this.#child.stdout.cancel().catch(() => {}),
        this.#child.stderr.cancel().catch(() => {}),
      ]);
    }
    await this.#reading;
    return status;
  }

  #signalGroup(signal: Deno.Signal) {
    try {
      Deno.kill(-this.pid, signal);
    } catch {
      // The group has ended already.
    }
  }

  /**
   * The last lines of its stderr (or stdout, if stderr is empty), for a
   * reason: what the program itself said.
   */
  said(): string {
    const text = (this.stderr.total > 0 ? this.stderr : this.stdout).text()
      .trim();
    if (text === "") return "it printed nothing";
    const lines = text.split("\n").slice(-3).map((line) =>
      line.length > 200 ? `${line.slice(0, 200)}...` : line
    );
    return `it said: ${lines.join(" | ")}`;
  }
}

/** Reads `stream` to its end into `into`; never throws. */
async function drain(stream: ReadableStream<Uint8Array>, into: Captured) {
  try {
    for await (const chunk of stream) into.add(chunk);
  } catch {
    // Cancelled by `stop`.
  }
}

/** `command` with `{port}` and `{host}` replaced. */
function substitute(command: string[], port: number): string[] {
  return command.map((word) =>
    word.replaceAll("{port}", `${port}`).replaceAll("{host}", "127.0.0.1")
  );
}

/** Whether `command` takes its port from the grader. */
function takesPort(command: string[]): boolean {
  return command.some((word) => word.includes("{port}"));
}

/** A port free on 127.0.0.1 (and ::1) for `transport` just now. */
function freePort(transport: "tcp" | "udp"): number {
  for (let tries = 0;; tries++) {
    const port = transport === "tcp"
      ? withClosed(Deno.listen({ hostname: "127.0.0.1", port: 0 }))
      : withClosed(
        Deno.listenDatagram({ hostname: "127.0.0.1", port: 0, transport }),
      );
    try {
      // Free on ::1 too, so that a client saying localhost finds either.
      if (transport === "tcp") {
        withClosed(Deno.listen({ hostname: "::1", port }));
      } else {
        withClosed(Deno.listenDatagram({ hostname: "::1", port, transport }));
      }
      return port;
    } catch (error) {
      if (tries > 20 || !(error instanceof Deno.errors.AddrInUse)) {
        if (error instanceof Deno.errors.AddrNotAvailable) return port;
        throw error;
      }
    }
  }
}

/** Closes `socket` at once; returns the port it was bound to. */
function withClosed(socket: Deno.Listener | Deno.DatagramConn): number {
  const port = (socket.addr as Deno.NetAddr).port;
  socket.close();
  return port;
}

/**
 * Starts a student's server with `command` and waits until it listens on
 * 127.0.0.1:`port` (TCP: a connection is accepted; UDP: the port is bound).
 * Throws {@linkcode DidNotStart} with the program's own words when it ends
 * first or never listens.
 */
async function startServer(
  command: string[],
  transport: "tcp" | "udp",
  port: number,
): Promise<StudentProgram> {
  const firstTry = Date.now();
  for (let attempt = 1;; attempt++) {
    const program = new StudentProgram(substitute(command, port));
    const start = Date.now();
    while (Date.now() - start < START_MS && !program.ended) {
      if (await isListening(transport, port)) return program;
      await Promise.race([program.status, sleep(25)]);
    }
    const endedByItself = program.ended;
    const status = await program.stop();
    const held = endedByItself &&
      /in use|EADDRINUSE|BindException/i.test(program.said());
    // Our look at a UDP port may have held it the moment the program bound.
    if (held && transport === "udp" && attempt === 1) continue;
    // The last student's connections can hold a fixed port for a minute.
    if (held && Date.now() - firstTry < TIME_WAIT_MS) {
      await sleep(1_000);
      continue;
    }
    const where = `127.0.0.1:${port}`;
    throw new DidNotStart(
      (endedByItself
        ? `${program.command.join(" ")} ended (exit ${status.code}) ` +
          `before it listened on ${where}; `
        : `${program.command.join(" ")} did not listen on ${where} ` +
          `within ${START_MS / 1000} s; `) +
        program.said() +
        (held
          ? `. Tried for ${TIME_WAIT_MS / 1000} s: something else holds ` +
            `port ${port}`
          : ""),
    );
  }
}

/** Whether a server listens on 127.0.0.1:`port` now. */
async function isListening(
  transport: "tcp" | "udp",
  port: number,
): Promise<boolean> {
  if (transport === "tcp") {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return true;
    } catch {
      return false;
    }
  }
  try {
    withClosed(
      Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }),
    );
    return false;
  } catch (error) {
    return error instanceof Deno.errors.AddrInUse;
  }
}

/** Resolves after `ms`. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// ===========================================================================
// Grading servers: tcp-server
// ===========================================================================

/** Grades a TCP server: see DESIGN.md, "The grader". */
async function* gradeTcpServer(
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  yield* withStartedServer("tcp", options, checkTcp);
}

// ===========================================================================
// Grading servers: udp-server
// ===========================================================================

/** Grades a UDP server: see DESIGN.md, "The grader". */
async function* gradeUdpServer(
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  yield* withStartedServer("udp", options, checkUdp);
}

/**
 * Runs `checks` against the server: the one `options.command` starts (on
 * its own free port when it takes `{port}`), ended after the checks, or
 * the one already at `options.hostname`:`options.port`.
 */
async function* withStartedServer(
  transport: "tcp" | "udp",
  options: GradeOptions,
  checks: (options: GradeOptions) => AsyncGenerator<CheckResult>,
): AsyncGenerator<CheckResult> {
  if (options.command === undefined) {
    yield* checks(options);
    return;
  }
  const port = options.port === 0 ||
      (options.port === undefined && takesPort(options.command))
    ? freePort(transport)
    : options.port ?? 12000;
  const program = await startServer(options.command, transport, port);
  try {
    yield* checks({ ...options, hostname: "127.0.0.1", port });
  } finally {
    await program.stop();
  }
}

// Stand-ins until the server checks move here from the clients.
async function* checkTcp(_: GradeOptions): AsyncGenerator<CheckResult> {}
async function* checkUdp(_: GradeOptions): AsyncGenerator<CheckResult> {}

// ===========================================================================
// Grading clients: tcp-client and udp-client
// ===========================================================================

// The grader is the client's server, on 127.0.0.1 and ::1 at one port. It
// types a sentence, waits to see it on the wire, answers, and only when
// the program has ended reads what it printed: a pipe's stdout may be held
// until the program exits, so it says nothing about when a reply came.

/** The sentences the grader types, and the stranger's datagram. */
const TYPED = {
  sentence: "hello from the grader",
  unicode: "Straße, é, κόσμος",
  // Longer than recv(1024) and recvfrom(2048), ASCII so a cut is clean.
  long: "the quick brown fox jumps over the lazy dog. ".repeat(67)
    .slice(0, 3000),
  second: "and a second sentence",
  stranger: "NOT FROM THE SERVER",
};

/** The textbook's smallest receive buffer: a shorter one cuts sentences. */
const TEXTBOOK_BUFFER = 1024;

/** How long a line's end may trail the sentence on the wire. */
const LINE_END_MS = 100;

/** Extra time for the first sentence, while the program starts (a JVM). */
const STARTUP_MS = 5_000;

/** How long a Ctrl-C is given to end a program before its group is ended. */
const INTERRUPT_MS = 500;

/** Grades a TCP client: see DESIGN.md, "The grader". */
async function* gradeTcpClient(
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  yield* gradeClient("tcp", options, [
    ["sentence", (s) => checkSent(s, TYPED.sentence)],
    ["Unicode", (s) => checkSent(s, TYPED.unicode)],
    ["long reply", checkLongReply],
    ["reply in two pieces", checkTwoPieces],
    ["several sentences", checkSeveral],
    ["end of input", checkEnd],
  ]);
}

/** Grades a UDP client: see DESIGN.md, "The grader". */
async function* gradeUdpClient(
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  yield* gradeClient("udp", options, [
    ["sentence", (s) => checkSent(s, TYPED.sentence)],
    ["Unicode", (s) => checkSent(s, TYPED.unicode)],
    ["long reply", checkLongReply],
    ["lost reply", checkLostReply],
    ["stranger's datagram", checkStranger],
    ["several sentences", checkSeveral],
    ["end of input", checkEnd],
  ]);
}

/** One check of a client, run against a fresh start of it. */
type ClientCheck = [
  name: string,
  run: (session: Session) => Promise<Outcome>,
];

/** A check's verdict and why. */
type Outcome = Omit<CheckResult, "check">;

/** One check's run: the program, the grader as its server, each wait. */
interface Session {
  program: StudentProgram;
  server: ServerPlay;
  /** How long each wait lasts, in ms (`--timeout`). */
  ms: number;
  /** Set once the program has ended, by itself or by the grader. */
  end?: Ending;
}

/** How a program ended. */
interface Ending {
  /** Its status, if it ended by itself. */
  status?: Deno.CommandStatus;
  /** Its stderr before the grader ended it, if it did. */
  stderr: Uint8Array;
}

/**
 * Runs each check against a fresh start of the client, with the grader as
 * its server on `options.port` (0: a free one); the program's process
 * group and the grader's sockets are ended after each check.
 */
async function* gradeClient(
  transport: "tcp" | "udp",
  options: GradeOptions,
  checks: ClientCheck[],
): AsyncGenerator<CheckResult> {
  if (options.command === undefined) {
    throw new DidNotStart("a client is graded by running it: give COMMAND");
  }
  const port = options.port === 0 || options.port === undefined &&
      takesPort(options.command)
    ? freePort(transport)
    : options.port ?? 12000;
  const ms = (options.timeout ?? 2) * 1000;
  for (const [check, run] of checks) {
    if (options.signal?.aborted) return;
    const server = transport === "tcp" ? new TcpPlay(port) : new UdpPlay(port);
    let session: Session | undefined;
    try {
      const program = new StudentProgram(substitute(options.command, port));
      program.status.then(() => server.changes.notify());
      session = { program, server, ms };
      yield { check, ...await run(session) };
    } finally {
      await session?.program.stop();
      await server.close();
    }
  }
}

/**
 * Types the first `sentence` and a newline, and waits for it on the wire
 * (longer than `ms`: the program is starting). Resolves with what came, or
 * with the FAIL that nothing came.
 */
async function typeAndHear(
  session: Session,
  sentence: string,
): Promise<Heard | Outcome> {
  const { program, server, ms } = session;
  const typed = await program.type(`${sentence}\n`, ms);
  const wait = ms + STARTUP_MS;
  await server.changes.until(
    () => server.ready(utf8(sentence)) || program.ended,
    wait,
  );
  const heard = await server.hear(utf8(sentence));
  if (heard) return heard;
  return {
    verdict: "FAIL",
    why: `typed ${shown(utf8(sentence))}${
      typed ? "" : " (it did not read it)"
    }: nothing came to ${server.where} ${
      program.ended
        ? `before it ended (exit ${(await program.status).code}); ` +
          program.said()
        : `within ${seconds(wait)}`
    }`,
  };
}

/**
 * Ends the program's input, as Ctrl-D does, and waits for it to end; one
 * still running then gets a Ctrl-C (which makes many languages print what
 * they held), then its group is ended.
 */
async function finish(session: Session): Promise<Ending> {
  const { program, ms } = session;
  await program.endInput();
  const status = await program.waitEnd(ms);
  const stderr = program.stderr.bytes();
  if (status === undefined) {
    try {
      Deno.kill(-program.pid, "SIGINT");
    } catch {
      // It ended just now.
    }
    await program.waitEnd(INTERRUPT_MS);
    await program.stop();
  }
  session.end = { status, stderr };
  return session.end;
}

/** " (it ... was ended by the grader)" when it was, else "". */
function endedByGrader(session: Session): string {
  return session.end !== undefined && session.end.status === undefined
    ? ` (still running ${seconds(session.ms)} after its input ended, it ` +
      `was ended by the grader)`
    : "";
}

/** sentence, Unicode: the line typed is sent, and the reply printed. */
async function checkSent(session: Session, sentence: string): Promise<Outcome> {
  const heard = await typeAndHear(session, sentence);
  if (!isHeard(heard)) return heard;
  const sent = judgeSent(heard, sentence);
  const reply = sent.verdict === "FAIL"
    ? upperCase(heard.bytes)
    : sent.narrow
    ? asciiUpperCase(heard.bytes)
    : utf8(sentence.toUpperCase() + heard.ending);
  await heard.reply(reply);
  await finish(session);
  if (sent.verdict === "FAIL") return sent;
  // Bytes beyond ASCII came as something else: look for the ASCII part.
  const due = sent.narrow
    ? utf8(sentence.match(/^[ -~]*/)![0].toUpperCase())
    : utf8(sentence.toUpperCase());
  const printed = judgePrinted(session, due, sentence);
  if (printed.verdict === "FAIL" || !sent.narrow) return printed;
  return { verdict: "WARN", why: sent.why };
}

/** long reply: a 3,000-byte reply printed whole. */
async function checkLongReply(session: Session): Promise<Outcome> {
  const heard = await typeAndHear(session, TYPED.long);
  if (!isHeard(heard)) return heard;
  const sent = judgeSent(heard, TYPED.long);
  await heard.reply(
    sent.verdict === "PASS"
      ? utf8(TYPED.long.toUpperCase() + heard.ending)
      : upperCase(heard.bytes),
  );
  await finish(session);
  if (sent.verdict !== "PASS") return sent;
  const due = utf8(TYPED.long.toUpperCase());
  const found = longestPrefix(session.program.stdout.bytes(), due);
  if (found === due.length || found < 20) {
    return judgePrinted(session, due, TYPED.long);
  }
  const of = `the first ${count(found)} of the reply's ${
    count(due.length)
  } bytes`;
  return found >= TEXTBOOK_BUFFER
    ? { verdict: "WARN", why: `printed ${of}: the rest was not printed` }
    : {
      verdict: "FAIL",
      why: `printed only ${of}: fewer than the textbook's recv(1024) ` +
        `prints${endedByGrader(session)}`,
    };
}

/** reply in two pieces: a TCP reply split between characters, a pause. */
async function checkTwoPieces(session: Session): Promise<Outcome> {
  const heard = await typeAndHear(session, TYPED.sentence);
  if (!isHeard(heard)) return heard;
  const sent = judgeSent(heard, TYPED.sentence);
  if (sent.verdict !== "PASS") {
    await heard.reply(upperCase(heard.bytes));
    await finish(session);
    return sent;
  }
  const due = utf8(TYPED.sentence.toUpperCase());
  const reply = utf8(TYPED.sentence.toUpperCase() + heard.ending);
  let cut = Math.floor(due.length / 2);
  while ((reply[cut] & 0xc0) === 0x80) cut--; // never inside a character
  const pause = Math.min(300, session.ms / 4);
  await heard.reply(reply.subarray(0, cut), true);
  await sleep(pause);
  await heard.reply(reply.subarray(cut));
  await finish(session);
  const out = session.program.stdout.bytes();
  if (longestPrefix(out, due) === due.length) {
    return judgePrinted(session, due, TYPED.sentence);
  }
  if (longestPrefix(out, due.subarray(0, cut)) === cut) {
    return {
      verdict: "WARN",
      why: `the reply came in two pieces ${seconds(pause)} apart, ` +
        `${shown(reply.subarray(0, cut))} then ` +
        `${shown(reply.subarray(cut))}: it printed the first piece only`,
    };
  }
  return judgePrinted(session, due, TYPED.sentence);
}

/** lost reply: UDP; the first datagram gets no answer. */
async function checkLostReply(session: Session): Promise<Outcome> {
  const { program, server, ms } = session;
  const first = await typeAndHear(session, TYPED.sentence);
  if (!isHeard(first)) return first;
  const sent = judgeSent(first, TYPED.sentence);
  if (sent.verdict !== "PASS") return sent;
  const lostAt = Date.now();
  await program.endInput();
  await server.changes.until(
    () => server.ready(utf8(TYPED.sentence)) || program.ended,
    ms,
  );
  const again = await server.hear(utf8(TYPED.sentence));
  if (again) return await judgeRetry(session, first, again, lostAt);
  const end = await finish(session);
  const said = `sent ${shown(first.bytes)} once and no reply came`;
  if (end.status === undefined) {
    return {
      verdict: "WARN",
      why: `${said}; ${seconds(ms)} later it had neither sent it again ` +
        `nor ended: it waits for ever (ended by the grader)`,
    };
  }
  const trace = stackTrace(end.stderr);
  if (trace) {
    return { verdict: "WARN", why: `${said}; it ended with ${trace}` };
  }
  const words = printedText(program);
  return words === ""
    ? {
      verdict: "WARN",
      why: `${said}; it ended without a word, so nobody can tell the ` +
        `sentence was lost`,
    }
    : { verdict: "PASS", why: `${said}; it ended and said ${words}` };
}

/** The lost-reply check once a second datagram came. */
async function judgeRetry(
  session: Session,
  first: Heard,
  again: Heard,
  lostAt: number,
): Promise<Outcome> {
  const after = seconds(Date.now() - lostAt);
  if (!bytesEqual(again.bytes, first.bytes)) {
    await finish(session);
    return {
      verdict: "FAIL",
      why: `no reply came to ${shown(first.bytes)}; ${after} later it ` +
        `sent ${shown(again.bytes)}, not the sentence again`,
    };
  }
  await again.reply(utf8(TYPED.sentence.toUpperCase() + again.ending));
  await finish(session);
  const printed = judgePrinted(session, utf8(TYPED.sentence.toUpperCase()));
  if (printed.verdict !== "PASS") return printed;
  return {
    verdict: "PASS",
    why: `no reply came to the first datagram; it sent it again ${after} ` +
      `later and printed the reply`,
  };
}

/** stranger's datagram: UDP; a datagram from another port comes first. */
async function checkStranger(session: Session): Promise<Outcome> {
  const heard = await typeAndHear(session, TYPED.sentence);
  if (!isHeard(heard)) return heard;
  const sent = judgeSent(heard, TYPED.sentence);
  if (sent.verdict !== "PASS") return sent;
  const from = await heard.fromStranger(utf8(TYPED.stranger));
  await heard.reply(utf8(TYPED.sentence.toUpperCase() + heard.ending));
  await finish(session);
  const out = session.program.stdout.bytes();
  const due = utf8(TYPED.sentence.toUpperCase());
  if (longestPrefix(out, utf8(TYPED.stranger)) === TYPED.stranger.length) {
    return {
      verdict: "WARN",
      why: `a datagram from ${from}, not from the server's port, came ` +
        `before the reply: it printed that datagram, ` +
        `${shown(utf8(TYPED.stranger))}` +
        (longestPrefix(out, due) === due.length
          ? ""
          : `, and not the reply ${shown(due)}`),
    };
  }
  return judgePrinted(session, due, TYPED.sentence);
}

/** several sentences: a second line typed once the first reply is sent. */
async function checkSeveral(session: Session): Promise<Outcome> {
  const { program, server, ms } = session;
  const first = await typeAndHear(session, TYPED.sentence);
  if (!isHeard(first)) return first;
  const sent = judgeSent(first, TYPED.sentence);
  if (sent.verdict !== "PASS") return sent;
  await first.reply(utf8(TYPED.sentence.toUpperCase() + first.ending));
  const typed = await program.type(`${TYPED.second}\n`, ms);
  await server.changes.until(
    () => server.ready(utf8(TYPED.second)) || program.ended,
    ms,
  );
  const second = await server.hear(utf8(TYPED.second));
  if (second && judgeSent(second, TYPED.second).verdict === "PASS") {
    await second.reply(utf8(TYPED.second.toUpperCase() + second.ending));
  }
  await finish(session);
  const printed = judgePrinted(session, utf8(TYPED.sentence.toUpperCase()));
  if (printed.verdict === "FAIL") return printed;
  if (second === undefined) {
    return {
      verdict: "WARN",
      why: `it sent the first sentence and printed its reply; then ` +
        (typed ? "" : "it did not read the second line typed, ") +
        `${shown(utf8(TYPED.second))} never came (one sentence, as ` +
        `the textbook's client)`,
    };
  }
  const secondSent = judgeSent(second, TYPED.second);
  if (secondSent.verdict !== "PASS") return secondSent;
  const both = judgePrinted(session, utf8(TYPED.second.toUpperCase()));
  if (both.verdict !== "PASS") return both;
  return {
    verdict: printed.verdict,
    why: `both sentences sent and both replies printed` +
      (printed.verdict === "PASS" ? "" : `; but ${printed.why}`),
  };
}

/** end of input: it ends by itself, with no stack trace. */
async function checkEnd(session: Session): Promise<Outcome> {
  const heard = await typeAndHear(session, TYPED.sentence);
  if (!isHeard(heard)) return heard;
  await heard.reply(upperCase(heard.bytes));
  const end = await finish(session);
  if (end.status === undefined) {
    return {
      verdict: "FAIL",
      why: `its reply was sent and its input ended; ${
        seconds(session.ms)
      } later it was still running, and was ended by the grader`,
    };
  }
  const trace = stackTrace(end.stderr);
  if (trace) return { verdict: "WARN", why: `it ended with ${trace}` };
  const { code, signal } = end.status;
  if (signal !== null || code !== 0) {
    return {
      verdict: "WARN",
      why:
        `it ended ${
          signal ? `by signal ${signal}` : `with exit status ${code}`
        }` +
        `; ${session.program.said()}`,
    };
  }
  return { verdict: "PASS", why: "it ended by itself (exit 0)" };
}

/** What came on the wire for a sentence, and how to answer it. */
interface Heard {
  /** Every byte that came, line end included. */
  bytes: Uint8Array;
  /** Whether they are the sentence in UTF-8, and a line end or none. */
  matches: boolean;
  /** The line end after the sentence: "", "\n" or "\r\n". */
  ending: string;
  /**
   * Sends `bytes` back, as the server; a client gone is no error. `more`:
   * a piece, the rest to follow.
   */
  reply(bytes: Uint8Array, more?: boolean): Promise<void>;
  /** UDP: sends `bytes` from another port; resolves with that address. */
  fromStranger(bytes: Uint8Array): Promise<string>;
}

/** The grader as the client's server, TCP or UDP. */
interface ServerPlay {
  /** Notified on every byte, connection or datagram (and program end). */
  changes: Changes;
  /** Where it listens, for reasons: "127.0.0.1:P or [::1]:P". */
  where: string;
  /** Whether what came is ready to hear as `expected` (or not it). */
  ready(expected: Uint8Array): boolean;
  /** What came for `expected`, taken; undefined when nothing came. */
  hear(expected: Uint8Array): Promise<Heard | undefined>;
  /** Closes every socket; resolves when their readers have ended. */
  close(): Promise<void>;
}

/** Wakes those waiting for a condition whenever something happens. */
class Changes {
  #waiters = new Set<() => void>();

  /** Something happened: conditions are looked at again. */
  notify() {
    for (const wake of this.#waiters) wake();
  }

  /** Resolves true once `ready()` holds, false after `ms`. */
  async until(ready: () => boolean, ms: number): Promise<boolean> {
    let wake = () => {};
    const deadline = setTimeout(() => wake(), ms);
    const start = Date.now();
    try {
      while (!ready()) {
        if (Date.now() - start >= ms) return false;
        await new Promise<void>((resolve) => {
          wake = resolve;
          this.#waiters.add(resolve);
        });
        this.#waiters.delete(wake);
      }
      return true;
    } finally {
      this.#waiters.delete(wake);
      clearTimeout(deadline);
    }
  }
}

/**
 * Opens `open` on 127.0.0.1 and ::1 (where this machine has IPv6): a
 * client's `localhost` may be either. A port in use is a DidNotStart.
 */
function openBoth<T extends Deno.Listener | Deno.DatagramConn>(
  port: number,
  open: (hostname: string) => T,
): T[] {
  const sockets: T[] = [];
  for (const hostname of ["127.0.0.1", "::1"]) {
    try {
      sockets.push(open(hostname));
    } catch (error) {
      if (hostname === "::1" && !(error instanceof Deno.errors.AddrInUse)) {
        continue; // no IPv6 here
      }
      for (const socket of sockets) socket.close();
      throw new DidNotStart(
        `the grader could not serve on ${formatAddress({ hostname, port })}` +
          `: ${(error as Error).message} (--port 0 picks a free port)`,
      );
    }
  }
  return sockets;
}

/** Where `sockets` listen, for reasons. */
function whereOf(sockets: (Deno.Listener | Deno.DatagramConn)[]): string {
  return sockets.map((socket) => formatAddress(socket.addr as Deno.NetAddr))
    .join(" or ");
}

/** The grader as a TCP server: it keeps every connection open. */
class TcpPlay implements ServerPlay {
  changes = new Changes();
  where: string;
  #listeners: Deno.TcpListener[];
  #sides: TcpSide[] = [];
  #tasks: Promise<void>[] = [];

  constructor(port: number) {
    this.#listeners = openBoth(
      port,
      (hostname) => Deno.listen({ hostname, port }),
    );
    this.where = whereOf(this.#listeners);
    for (const listener of this.#listeners) {
      this.#tasks.push(this.#accept(listener));
    }
  }

  async #accept(listener: Deno.TcpListener) {
    try {
      for await (const conn of listener) {
        const side = new TcpSide(conn, this.changes);
        this.#sides.push(side);
        this.#tasks.push(side.reading);
      }
    } catch {
      // Closed.
    }
  }

  ready(expected: Uint8Array): boolean {
    return this.#sides.some((side) => side.ready(expected));
  }

  async hear(expected: Uint8Array): Promise<Heard | undefined> {
    const side = this.#sides.find((side) => side.ready(expected)) ??
      this.#sides.find((side) => side.pending().length > 0);
    if (side === undefined) return undefined;
    // The line end may trail the sentence (a second write).
    await side.received.until(
      () => side.ended || lineEnded(side.pending(), expected),
      LINE_END_MS,
    );
    const bytes = side.take();
    return {
      bytes,
      ...endingOf(bytes, expected),
      reply: (data, more) => side.write(data, more),
      fromStranger: () => Promise.resolve(""),
    };
  }

  async close() {
    for (const listener of this.#listeners) listener.close();
    for (const side of this.#sides) side.close();
    await Promise.all(this.#tasks);
  }
}

/** One connection a client made: what it sent, and how far it is heard. */
class TcpSide {
  received = new Captured();
  ended = false;
  reading: Promise<void>;
  #conn: Deno.TcpConn;
  #taken = 0;
  #answering = false;

  constructor(conn: Deno.TcpConn, changes: Changes) {
    this.#conn = conn;
    this.reading = (async () => {
      const buffer = new Uint8Array(65536);
      try {
        for (;;) {
          const n = await conn.read(buffer);
          if (n === null) break;
          this.received.add(buffer.subarray(0, n));
          changes.notify();
        }
      } catch {
        // Reset, or closed by the grader.
      }
      this.ended = true;
      // The client is done: as a server would, close once it is answered.
      if (!this.#answering && this.pending().length === 0) this.close();
      this.received.add(new Uint8Array());
      changes.notify();
    })();
  }

  /** The bytes not heard yet. */
  pending(): Uint8Array {
    return this.received.bytes().subarray(this.#taken);
  }

  /** Whether the bytes not heard yet are `expected`, or cannot become it. */
  ready(expected: Uint8Array): boolean {
    const pending = this.pending();
    if (pending.length === 0) return false;
    const shared = Math.min(pending.length, expected.length);
    return this.ended || pending.length >= expected.length ||
      !bytesEqual(pending.subarray(0, shared), expected.subarray(0, shared));
  }

  /** The bytes not heard yet, now heard. */
  take(): Uint8Array {
    const bytes = this.pending().slice();
    this.#taken += bytes.length;
    this.#answering = true;
    return bytes;
  }

  /** Writes `data`; the last piece of a reply to a client done closes. */
  async write(data: Uint8Array, more = false) {
    try {
      for (let written = 0; written < data.length;) {
        written += await this.#conn.write(data.subarray(written));
      }
    } catch {
      // The client has gone: what it printed tells the rest.
    }
    if (!more) this.#answering = false;
    if (!more && this.ended) this.close();
  }

  close() {
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }
}

/** Whether `bytes` hold `expected` and a line end, or more than it. */
function lineEnded(bytes: Uint8Array, expected: Uint8Array): boolean {
  return bytes.at(-1) === 0x0a || bytes.length > expected.length + 2;
}

/** Whether `bytes` is `expected` with "", "\n" or "\r\n" after it. */
function endingOf(
  bytes: Uint8Array,
  expected: Uint8Array,
): { matches: boolean; ending: string } {
  const head = bytes.subarray(0, expected.length);
  const ending = new TextDecoder().decode(bytes.subarray(expected.length));
  const matches = bytesEqual(head, expected) &&
    ["", "\n", "\r\n"].includes(ending);
  return { matches, ending: matches ? ending : "" };
}

/** A datagram that came to the grader. */
interface Datagram {
  data: Uint8Array;
  from: Deno.NetAddr;
  socket: Deno.DatagramConn;
}

/** Most datagrams kept unheard: a flood is not held in memory. */
const KEPT_DATAGRAMS = 1000;

/** The grader as a UDP server, on both families at one port. */
class UdpPlay implements ServerPlay {
  changes = new Changes();
  where: string;
  #sockets: Deno.DatagramConn[];
  #queue: Datagram[] = [];
  #tasks: Promise<void>[];

  constructor(port: number) {
    this.#sockets = openBoth(
      port,
      (hostname) => Deno.listenDatagram({ hostname, port, transport: "udp" }),
    );
    this.where = whereOf(this.#sockets);
    this.#tasks = this.#sockets.map((socket) => this.#receive(socket));
  }

  async #receive(socket: Deno.DatagramConn) {
    try {
      for (;;) {
        const [data, from] = await socket.receive(new Uint8Array(65536));
        if (this.#queue.length < KEPT_DATAGRAMS) {
          this.#queue.push({ data, from: from as Deno.NetAddr, socket });
        }
        this.changes.notify();
      }
    } catch {
      // Closed.
    }
  }

  ready(): boolean {
    return this.#queue.length > 0;
  }

  hear(expected: Uint8Array): Promise<Heard | undefined> {
    const datagram = this.#queue.shift();
    if (datagram === undefined) return Promise.resolve(undefined);
    const { data, from, socket } = datagram;
    const send = async (bytes: Uint8Array, by = socket) => {
      await by.send(bytes, from).catch(() => {});
    };
    return Promise.resolve({
      bytes: data,
      ...endingOf(data, expected),
      reply: (bytes) => send(bytes),
      fromStranger: async (bytes) => {
        const stranger = Deno.listenDatagram({
          hostname: (socket.addr as Deno.NetAddr).hostname,
          port: 0,
          transport: "udp",
        });
        await send(bytes, stranger);
        stranger.close();
        return formatAddress(stranger.addr as Deno.NetAddr);
      },
    });
  }

  async close() {
    for (const socket of this.#sockets) socket.close();
    await Promise.all(this.#tasks);
  }
}

/** Whether `heard` is what came, not the FAIL that nothing did. */
function isHeard(heard: Heard | Outcome): heard is Heard {
  return "bytes" in heard;
}

/**
 * Whether the client sent the line typed, in UTF-8 (PASS); in a narrower
 * character set, ASCII intact (WARN, `narrow`); or something else (FAIL).
 */
function judgeSent(
  heard: Heard,
  sentence: string,
): Outcome & { narrow?: boolean } {
  const due = utf8(sentence);
  if (heard.matches) {
    return { verdict: "PASS", why: `it sent ${shown(heard.bytes)}` };
  }
  const sent = binary(heard.bytes).replace(/\r?\n$/, "");
  const pattern = [...sentence].map((char) =>
    char < "\x80" ? char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : "[^]{0,4}"
  ).join("");
  if (/[^ -~]/.test(sentence) && new RegExp(`^${pattern}$`).test(sent)) {
    return {
      verdict: "WARN",
      narrow: true,
      why: `typed ${shown(due)} (${bytesOf(due.length)} in UTF-8); it sent ` +
        `${shown(heard.bytes)}: the characters beyond ASCII not in UTF-8`,
    };
  }
  return {
    verdict: "FAIL",
    why: `typed ${shown(due)}; it sent ${shown(heard.bytes)}, not the ` +
      `line typed in UTF-8 (a newline after it is fine)`,
  };
}

/**
 * Whether what the program printed holds `due`, the reply: PASS; with NUL
 * bytes after it, WARN; as Python's b'...', or not at all, FAIL.
 */
function judgePrinted(
  session: Session,
  due: Uint8Array,
  sentence?: string,
): Outcome {
  const out = session.program.stdout.bytes();
  const at = binary(out).indexOf(binary(due));
  if (at >= 0) {
    const before = binary(out.subarray(Math.max(0, at - 2), at));
    if (before === "b'" || before === 'b"') {
      return {
        verdict: "FAIL",
        why: `it printed the reply as Python shows bytes: ` +
          `${shown(out.subarray(at - 2, at + due.length + 1))}`,
      };
    }
    let nuls = 0;
    while (out[at + due.length + nuls] === 0) nuls++;
    return nuls > 0
      ? {
        verdict: "WARN",
        why: `it printed the reply ${shown(due)} and ${count(nuls)} NUL ` +
          `bytes (\\0) after it`,
      }
      : { verdict: "PASS", why: `it printed the reply ${shown(due)}` };
  }
  const echoed = sentence !== undefined &&
    binary(out).includes(binary(utf8(sentence)));
  return {
    verdict: "FAIL",
    why:
      (out.length === 0
        ? `it printed nothing; the reply ${shown(due)} was due`
        : `it printed ${shown(out)}${
          echoed ? ", the sentence it sent," : ""
        } not the reply ${shown(due)}`) +
      moreThanKept(session.program) +
      endedByGrader(session),
  };
}

/** "; it printed N bytes in all" when more than were kept, else "". */
function moreThanKept(program: StudentProgram): string {
  const { stdout } = program;
  return stdout.total > stdout.bytes().length
    ? `; it printed ${count(stdout.total)} bytes in all`
    : "";
}

/** A stack trace in `stderr`, described by its telling line; or "". */
function stackTrace(stderr: Uint8Array): string {
  const text = new TextDecoder().decode(stderr);
  if (
    !/Traceback \(most recent call last\)|Exception in thread|^\s+at \S|error: Uncaught|panicked at/m
      .test(text)
  ) {
    return "";
  }
  const lines = text.trim().split("\n");
  const telling =
    lines.find((line) =>
      /^\S*(Error|Exception)\b/.test(line) && !line.startsWith("Traceback")
    ) ?? lines.at(-1)!;
  return `a stack trace on stderr: ${shown(utf8(telling.trim()))}`;
}

/** What it printed on stdout and stderr, shown; "" when nothing. */
function printedText(program: StudentProgram): string {
  const both = concat([program.stdout.bytes(), program.stderr.bytes()]);
  return both.length === 0 ? "" : shown(both);
}

/** How many leading bytes of `due` appear together in `out`. */
function longestPrefix(out: Uint8Array, due: Uint8Array): number {
  const text = binary(out);
  const wanted = binary(due);
  // A prefix found means every shorter one is: search on its length.
  let low = 0;
  let high = wanted.length;
  while (low < high) {
    const middle = Math.ceil((low + high) / 2);
    if (text.includes(wanted.slice(0, middle))) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** Bytes as a string of one char each (U+0000..U+00FF), to search. */
function binary(bytes: Uint8Array): string {
  let text = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    text += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return text;
}

/** Whether two byte arrays hold the same bytes. */
function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}

/** UTF-8 bytes of `text`. */
function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** `bytes` upper-cased as UTF-8 text, as the textbook's server does. */
function upperCase(bytes: Uint8Array): Uint8Array {
  return utf8(new TextDecoder().decode(bytes).toUpperCase());
}

/** `bytes` with a-z upper-cased and every other byte as it came. */
function asciiUpperCase(bytes: Uint8Array): Uint8Array {
  return bytes.map((byte) => byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte);
}

/** `ms` as seconds for a reason: "2 s", "0.3 s". */
function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(2))} s`;
}

/** A count with thousands separators: 3,000. */
function count(n: number): string {
  return n.toLocaleString("en-US");
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });
const ESCAPES: Record<number, string> = {
  0: "\\0",
  9: "\\t",
  10: "\\n",
  13: "\\r",
  0x27: "\\'",
  0x5c: "\\\\",
};

/**
 * `bytes` quoted for a reason: UTF-8 text as it reads, every other byte
 * escaped (\n, \0, \xNN); when long, its start and end, and its length.
 */
function shown(bytes: Uint8Array, head = 40, tail = 15): string {
  let text = "";
  for (let i = 0; i < bytes.length;) {
    const byte = bytes[i];
    const size = byte < 0x80 ? 1 : byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2;
    let char: string | undefined;
    if (size > 1 && i + size <= bytes.length) {
      try {
        char = STRICT_UTF8.decode(bytes.subarray(i, i + size));
      } catch {
        // Not UTF-8: escaped below.
      }
    }
    if (char !== undefined) {
      text += char;
      i += size;
      continue;
    }
    text += ESCAPES[byte] ??
      (byte >= 0x20 && byte < 0x7f
        ? String.fromCharCode(byte)
        : `\\x${byte.toString(16).padStart(2, "0")}`);
    i++;
  }
  const chars = [...text];
  if (chars.length <= head + tail + 5) return `'${text}'`;
  return `'${chars.slice(0, head).join("")}...` +
    `${tail > 0 ? chars.slice(-tail).join("") : ""}' ` +
    `(${count(bytes.length)} bytes)`;
}

// ===========================================================================
// Grading clients: pinger and heartbeat
// ===========================================================================

/** Grades a UDP Pinger client: see DESIGN.md, "The grader". */
async function* gradePinger(
  _options: GradeOptions,
): AsyncGenerator<CheckResult> {}

/** Grades a UDP Heartbeat client: see DESIGN.md, "The grader". */
async function* gradeHeartbeat(
  _options: GradeOptions,
): AsyncGenerator<CheckResult> {}

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

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
