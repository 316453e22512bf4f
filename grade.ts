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
import { lookup } from "node:dns/promises";
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
  /** How many checks PASSed. */
  PASS: number;
  /** How many WARNed. */
  WARN: number;
  /** How many FAILed. */
  FAIL: number;
  /** How many were not checked. */
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
  // The lab's clients are held to its own 1 s timeout, not --timeout.
  return run.kind === "pinger" || run.kind === "heartbeat"
    ? `Grading ${what} as a ${run.kind}`
    : `Grading ${what} as a ${run.kind} ` +
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

/** Refuses a missing or unknown KIND, and a KIND without what it needs. */
function checkKind(
  kind: string | undefined,
  command: string[] | undefined,
  files: string[],
): asserts kind is Kind {
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
  if (!kind.endsWith("-server") && command === undefined) {
    throw new UsageError(
      `${kind} grades a program the grader runs: give its command after --`,
    );
  }
  if (files.length > 0 && command === undefined) {
    throw new UsageError(
      "files are graded with a command: give it after -- ({file} names each)",
    );
  }
  if (files.length === 0 && command?.some((word) => word.includes("{file}"))) {
    throw new UsageError("{file} is in the command, but no files are given");
  }
}

/** Throws a `UsageError` for an option `kind` does not use. */
function checkOptionsOf(
  kind: Kind,
  numbers: { timeout?: number; retries?: number; interval?: number },
) {
  if (
    (kind === "pinger" || kind === "heartbeat") && numbers.timeout !== undefined
  ) {
    throw new UsageError(
      `--timeout does not go with ${kind}: the lab's 1 s timeout is the one graded`,
    );
  }
  if (
    kind !== "udp-server" &&
    (numbers.retries !== undefined || numbers.interval !== undefined)
  ) {
    throw new UsageError("--retries and --interval go with udp-server");
  }
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
  checkKind(kind, command, files);
  const isServer = kind.endsWith("-server");
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
  checkOptionsOf(kind, numbers);
  if (numbers.port === 0 && command !== undefined && !takesPort(command)) {
    throw new UsageError(
      "--port 0 picks a free port the program must be told: put {port} " +
        "in the command",
    );
  }
  return {
    kind: kind as Kind,
    help: false,
    json: values.json,
    command,
    files,
    options: {
      hostname: values.host,
      // {port}: the grader picks a free one.
      port: numbers.port ?? (command && takesPort(command) ? 0 : undefined),
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

/** How long a Ctrl-C is given to end a program before its group is ended. */
const INTERRUPT_MS = 1_000;

/** How long a program is given after SIGTERM, before SIGKILL. */
const STOP_MS = 500;

/** The students' programs running now: a signal to the grader ends them. */
const RUNNING = new Set<StudentProgram>();

/**
 * Ends every student's program still running when the grader is stopped
 * (Ctrl-C, SIGTERM): they run in process groups of their own, which the
 * terminal's signal does not reach.
 */
function endProgramsOnSignal() {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      Promise.all([...RUNNING].map((program) => program.stop())).finally(
        () => Deno.exit(signal === "SIGINT" ? 130 : 143),
      );
    });
  }
}

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
  #readers: ReadableStreamDefaultReader<Uint8Array>[];
  #ended: Deno.CommandStatus | undefined;

  /**
   * Starts `command`, with `env` added to the grader's environment. A
   * program that cannot be found or run throws {@linkcode DidNotStart}.
   */
  constructor(command: string[], env?: Record<string, string>) {
    this.command = command;
    try {
      this.#child = new Deno.Command(command[0], {
        args: command.slice(1),
        env,
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
    this.#readers = [
      this.#child.stdout.getReader(),
      this.#child.stderr.getReader(),
    ];
    this.#reading = Promise.all([
      drain(this.#readers[0], this.stdout),
      drain(this.#readers[1], this.stderr),
    ]).then(() => {});
    RUNNING.add(this);
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
    if (
      await withinOrUndefined(this.#reading.then(() => true), STOP_MS) ===
        undefined
    ) {
      // A process that left the group still holds the pipes: stop reading.
      await Promise.all(
        this.#readers.map((reader) => reader.cancel().catch(() => {})),
      );
    }
    await this.#reading;
    RUNNING.delete(this);
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
    // The last lines that say something (a traceback's markers aside).
    const lines = text.split("\n").map((line) => line.trim())
      .filter((line) => /[a-z]/i.test(line)).slice(-2).map((line) =>
        line.length > 200 ? `${line.slice(0, 200)}...` : line
      );
    // Its bytes shown, never obeyed: no escape sequence reaches a terminal.
    const visible = [...lines.join(" | ")].map((c) => {
      const code = c.charCodeAt(0);
      return (code < 0x20 && c !== "\t") || code === 0x7f
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : c;
    }).join("");
    return `it said: ${visible}`;
  }
}

/** Resolves after `ms`. */
function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Reads `stream` to its end into `into`; never throws. */
async function drain(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  into: Captured,
) {
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) return;
      into.add(value);
    }
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
  const where = `127.0.0.1:${port}`;
  // Else the grader would grade whatever listens there, not the student's.
  if (isListening(transport, port)) {
    throw new DidNotStart(
      `another program already listens on ${where}: stop it, or give the ` +
        `student's program {port}`,
    );
  }
  const firstTry = Date.now();
  for (let attempt = 1;; attempt++) {
    const program = new StudentProgram(substitute(command, port));
    const start = Date.now();
    while (Date.now() - start < START_MS && !program.ended) {
      if (isListening(transport, port)) return program;
      await program.waitEnd(25);
    }
    const endedByItself = program.ended;
    const status = await program.stop();
    const held = endedByItself &&
      /in use|EADDRINUSE|BindException/i.test(program.said());
    // Our look at the port may have held it the moment the program bound.
    if (held && attempt === 1) continue;
    // Nothing listens, yet a fixed TCP port is in use: the last student's
    // connections hold it (TIME-WAIT), for a minute at most.
    const timeWait = held && transport === "tcp" && !takesPort(command);
    if (timeWait && Date.now() - firstTry < TIME_WAIT_MS) {
      await sleep(1_000);
      continue;
    }
    throw new DidNotStart(
      (endedByItself
        ? `${program.command.join(" ")} ended (exit ${status.code}) ` +
          `before it listened on ${where}; `
        : `${program.command.join(" ")} did not listen on ${where} ` +
          `within ${START_MS / 1000} s; `) +
        program.said() +
        (timeWait
          ? `. Started again for ${TIME_WAIT_MS / 1000} s, as long as ` +
            `TIME-WAIT holds a port: something else holds port ${port}`
          : ""),
    );
  }
}

/** Whether a server listens on 127.0.0.1:`port` now. */
function isListening(transport: "tcp" | "udp", port: number): boolean {
  // Bound, not connected to: a connection that sends nothing and closes
  // stops a server that reads a line and upper-cases it (readLine() null).
  try {
    withClosed(
      transport === "tcp"
        ? Deno.listen({ hostname: "127.0.0.1", port })
        : Deno.listenDatagram({ hostname: "127.0.0.1", port, transport }),
    );
    return false;
  } catch (error) {
    return error instanceof Deno.errors.AddrInUse;
  }
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

/**
 * Grades whatever upper-case TCP server listens at `hostname`:`port`, check
 * by check: a sentence, Unicode, a sentence longer than one `recv(1024)`,
 * how replies end, a second client while a first one sits idle, half-close,
 * and last, bytes that are not UTF-8 (which can stop a server). Every wait
 * is bounded by `timeout`; `signal` stops it between checks.
 *
 * Every connection it opens behaves as TCPClient.py does (it sends a line,
 * reads the reply, then closes), so no check but the last can stop a server
 * that serves one client at a time; a server found gone leaves the checks
 * after it SKIPped. Each check sends sentences of its own, and every reply
 * is compared with the one answer it must be.
 */
async function* checkTcp(options: GradeOptions): AsyncGenerator<CheckResult> {
  const server = new TcpServerUnderTest(options);
  for (const [check, run] of TCP_CHECKS) {
    if (options.signal?.aborted) return;
    yield server.gone === undefined
      ? await server.graded(check, run)
      : notChecked(check, server.gone);
  }
}

/** The TCP checks, in their order: the name, and the check. */
const TCP_CHECKS: [
  string,
  (server: TcpServerUnderTest, check: string) => Promise<CheckResult>,
][] = [
  ["a sentence", tcpCheckSentence],
  ["a sentence without a newline (as TCPClient.py sends it)", checkNoNewline],
  ["Unicode", tcpCheckUnicode],
  ["a sentence longer than recv(1024)", checkLongSentence],
  ["how a reply ends", checkReplyEnding],
  ["a second client while the first sits idle", checkSecondClient],
  ["half-close", checkHalfClose],
  ["bytes that are not UTF-8 (last: they can stop a server)", tcpCheckNotUtf8],
];

/** The server refused a connection after it had answered: it is gone. */
class ServerGone extends Error {}

/** The TCP server graded: connections to it, every wait bounded. */
class TcpServerUnderTest {
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
  /** How many checks have started. */
  #started = 0;

  /**
   * Bytes after the reply `came` (as a student reads it): a FAIL, in every
   * check where they come (they are no reply); undefined when none came.
   */
  extraAfter(
    check: string,
    came: string,
    extra: Uint8Array | undefined,
    more = "",
  ): CheckResult | undefined {
    if (extra === undefined || extra.length === 0) return undefined;
    return {
      check,
      verdict: "FAIL",
      why: `${came}, then ${shown(extra)}${more}: only the reply may ` +
        `come; a client reading one line per sentence takes the rest for ` +
        `the next reply`,
    };
  }

  constructor(options: GradeOptions) {
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
   * One sentence as a line client sends it: a connection of its own, the
   * sentence and a newline, the reply, then the close. After a right reply
   * line, whatever else comes before the server pauses is `extra`.
   */
  async ask(sentence: Uint8Array): Promise<Reading> {
    const probe = await this.open();
    try {
      await probe.send(withNewline(sentence));
      const line = await this.reply(probe, sentence);
      if (
        line.ending !== "newline" || !this.book.isReplyTo(sentence, line.data)
      ) {
        return line;
      }
      return { ...line, extra: (await probe.read(this.waitMs, "quiet")).data };
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
    run: (server: TcpServerUnderTest, check: string) => Promise<CheckResult>,
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
 * A sentence: "hello world" must come back "HELLO WORLD". Bytes after the
 * reply are a FAIL: a client would read them as the next reply.
 */
async function tcpCheckSentence(
  server: TcpServerUnderTest,
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
async function tcpCheckUnicode(
  server: TcpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(UNICODE_SENTENCE, UNICODE_REPLY);
  const { data, ending, extra } = await server.ask(sentence);
  if (data.length === 0) {
    return { check, verdict: "FAIL", why: nothingCame(ending, server.waitMs) };
  }
  const graded = gradeUnicode(withoutNewline(data), server.book);
  return (graded.verdict !== "FAIL" &&
    server.extraAfter(check, graded.why, extra)) || graded;
}

/**
 * A sentence without a newline, as TCPClient.py sends it, the connection
 * left open for the reply: a server that waits for a newline first would
 * leave the textbook's client waiting for ever (a WARN, if a newline then
 * brings the reply).
 */
async function checkNoNewline(
  server: TcpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence("no newline", "NO NEWLINE");
  const probe = await server.open();
  try {
    await probe.send(sentence);
    const reply = await server.reply(probe, sentence);
    const sent = `"no newline", sent without a newline as TCPClient.py ` +
      `sends it,`;
    if (reply.data.length > 0 || reply.ending !== "silent") {
      return await gradeNoNewlineReply(server, probe, reply, check, sent);
    }
    await probe.send(new Uint8Array([NEWLINE]));
    const late = await server.reply(probe, sentence);
    const waited = `${sent} got no reply within ${server.waitMs / 1000} s`;
    if (server.book.isReplyTo(sentence, late.data)) {
      const came = `${waited}, and "NO NEWLINE" once a newline followed`;
      const after = await probe.read(server.waitMs, "quiet");
      return server.extraAfter(check, came, after.data, endless(after)) ?? {
        check,
        verdict: "WARN",
        why: `${came}: the textbook's client would wait for ever`,
      };
    }
    return {
      check,
      verdict: "FAIL",
      why: late.data.length === 0
        ? `${waited}, nor after a newline (${
          nothingCame(late.ending, server.waitMs)
        })`
        : `${waited}; after a newline, ${
          server.book.wrong(sentence, late.data)
        }`,
    };
  } finally {
    probe.close();
  }
}

/** What came to a sentence sent without a newline, before any newline. */
async function gradeNoNewlineReply(
  server: TcpServerUnderTest,
  probe: Probe,
  reply: Reading,
  check: string,
  sent: string,
): Promise<CheckResult> {
  const sentence = encoder.encode("no newline");
  if (reply.data.length === 0) {
    const why = `${sent} got no reply: ${
      nothingCame(reply.ending, server.waitMs)
    }`;
    return { check, verdict: "FAIL", why };
  }
  if (
    !server.book.isReplyTo(sentence, reply.data) ||
    ["trickle", "flood"].includes(reply.ending)
  ) {
    const why = `${sent} ${
      server.book.wrong(sentence, reply.data).replace(/^"[^"]*" /, "")
    }${endless(reply)}`;
    return { check, verdict: "FAIL", why };
  }
  const came = `${sent} came back "NO NEWLINE"`;
  const after = reply.ending === "newline"
    ? await probe.read(server.waitMs, "quiet")
    : undefined;
  return server.extraAfter(check, came, after?.data, endless(after)) ??
    { check, verdict: "PASS", why: came };
}

/** A sentence of 3,000 bytes must come back whole, past one recv(1024). */
async function checkLongSentence(
  server: TcpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(
    "abcdefghij".repeat(300),
    "ABCDEFGHIJ".repeat(300),
  );
  const { data, ending, extra } = await server.ask(sentence);
  const reply = withoutNewline(data);
  const expected = server.book.replyTo(sentence);
  if (sameBytes(reply, expected)) {
    const whole = "the whole 3,000-byte sentence came back upper-cased";
    return server.extraAfter(check, whole, extra) ??
      { check, verdict: "PASS", why: whole };
  }
  if (data.length === 0) {
    return { check, verdict: "FAIL", why: nothingCame(ending, server.waitMs) };
  }
  const cut = reply.length < expected.length &&
    sameBytes(reply, expected.subarray(0, reply.length));
  const came = `only the first ${reply.length.toLocaleString("en-US")} of ` +
    `3,001 bytes came back, ${
      ending === "newline"
        ? "and a newline"
        : `then ${then(ending, server.waitMs)}`
    }`;
  // A limit of 1,024 bytes or more (the textbook's recv(1024)) is a WARN,
  // however the server came to it; fewer cut ordinary sentences.
  if (cut && reply.length >= 1024 && !["trickle", "flood"].includes(ending)) {
    return { check, verdict: "WARN", why: came };
  }
  return {
    check,
    verdict: "FAIL",
    why: cut ? came : server.book.wrong(sentence, data) +
      (ending === "flood" ? `, and ${then(ending, server.waitMs)}` : ""),
  };
}

/**
 * How a reply ends: a newline or the close must tell the client where it
 * ends; on a connection left open, a second line must get its own reply.
 */
async function checkReplyEnding(
  server: TcpServerUnderTest,
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
    case "silent":
      return {
        check,
        verdict: "WARN",
        why: `the reply ${shown(first.data)} has no newline, and then ` +
          `${then(first.ending, waitMs)}, with the connection open: ` +
          `TCPClient.py's one recv() takes it, a client reading a line ` +
          `waits for ever (end the reply with a newline)`,
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
  server: TcpServerUnderTest,
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
          `connection after it, as the textbook's does`,
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
      `line after line, two in one write too`,
  };
}

/**
 * Two lines in one write, as a pipe or `--stream` sends them, must get a
 * reply each: a server that takes a read for a line answers one, or one
 * cut. A FAIL, or undefined when both came.
 */
async function checkTwoInOneWrite(
  server: TcpServerUnderTest,
  probe: Probe,
  before: Uint8Array[],
  check: string,
): Promise<CheckResult | undefined> {
  // What came after the reply to "two" first: extra bytes FAIL.
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
  server: TcpServerUnderTest,
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
  server: TcpServerUnderTest,
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
  server: TcpServerUnderTest,
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
  if (i < 0) {
    const j = replies.findIndex((reply) => (reply.extra?.length ?? 0) > 0);
    return j < 0 ? undefined : server.extraAfter(
      check,
      `of two clients that sent at the same moment, ${clients[j]} got ` +
        `its reply`,
      replies[j].extra,
    );
  }
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
  server: TcpServerUnderTest;
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
  server: TcpServerUnderTest,
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
async function tcpCheckNotUtf8(
  server: TcpServerUnderTest,
): Promise<CheckResult> {
  const sentence = server.sentence(INVALID_SENTENCE, INVALID_REPLY);
  const still = server.sentence("still there", "STILL THERE");
  const { data, extra } = await server.ask(sentence);
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
  const graded = gradeInvalid(
    data.length > 0 ? withoutNewline(data) : undefined,
    after !== undefined && after.data.length > 0,
    server.book,
  );
  return (graded.verdict !== "FAIL" &&
    server.extraAfter(graded.check, graded.why, extra)) || graded;
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
  /** Bytes that came after a right reply line, if they were read. */
  extra?: Uint8Array;
}
/** Bytes a check reads at most at once: replies are a few KiB. */
const PROBE_LIMIT = 64 * 1024;
/** How long the idle first client looks for a close before it speaks. */
const IDLE_CHECK_MS = 50;
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
    case "newline":
      return "a newline";
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

/** The byte that ends a sentence, and the reply to it. */
const NEWLINE = 0x0a;

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
        `no connection to ${server} within ${timeoutMs / 1000} s: the ` +
          `connection was not accepted`,
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

/** The addresses of `hostname`, IPv4 first; an IP address is its own. */
async function lookupAddresses(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[(.*)\]$/, "$1");
  if (bare.includes(":") || /^[\d.]+$/.test(bare)) return [bare];
  const found = await lookup(bare, { all: true });
  return found.sort((a, b) => a.family - b.family).map((a) => a.address);
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
  let told = false;
  try {
    for await (
      const result of checks({ ...options, hostname: "127.0.0.1", port })
    ) {
      // The check after which it ended says how, in the program's words
      // (a moment for its exit to be seen, once its sockets have closed).
      if (!told) await program.waitEnd(50);
      if (program.ended && !told) {
        told = true;
        const { code } = await program.status;
        yield {
          ...result,
          why: `${result.why}; the server ended (exit ${code}), and ` +
            program.said(),
        };
      } else {
        yield result;
      }
    }
  } finally {
    await program.stop();
  }
}

/**
 * Grades whatever upper-case UDP server listens at `hostname`:`port`, check
 * by check: a sentence, Unicode, an empty datagram, a datagram longer than
 * the textbook's `recvfrom(2048)`, replies from the server's own port, two
 * clients at once, and last, bytes that are not UTF-8 (which can stop a
 * server); `signal` stops it between checks.
 *
 * Each datagram is sent as the sentence mode sends it: again every
 * `interval` while no reply comes, `1 + retries` times, and a reply to any
 * try counts. A datagram left unanswered while the server still answers
 * others gets twice as many tries once more, so a lossy server is not
 * failed for its losses. The first sentence gets twice the tries at once.
 */
async function* checkUdp(options: GradeOptions): AsyncGenerator<CheckResult> {
  requireUdp();
  const server = new UdpServerUnderTest(options);
  try {
    for (const [check, run] of UDP_CHECKS) {
      if (options.signal?.aborted) return;
      yield server.gone === undefined
        ? await server.graded(check, run)
        : notChecked(check, server.gone);
    }
  } finally {
    await server.close();
  }
}

/** The UDP checks, in their order: the name, and the check. */
const UDP_CHECKS: [
  string,
  (server: UdpServerUnderTest, check: string) => Promise<CheckResult>,
][] = [
  ["a sentence", udpCheckSentence],
  ["Unicode", udpCheckUnicode],
  ["an empty datagram", checkEmptyDatagram],
  ["a datagram longer than recvfrom(2048)", checkLongDatagram],
  ["replies from the server's own port", checkReplyPort],
  ["two clients at once", checkTwoClients],
  ["bytes that are not UTF-8 (last: they can stop a server)", udpCheckNotUtf8],
];

/** A datagram that came to a client socket of the grader, and when. */
interface Arrival {
  data: Uint8Array;
  from: Deno.NetAddr;
  at: number;
}

/** A reply to one datagram: the first that came, and anything after it. */
interface UdpAnswer {
  reply: Uint8Array;
  from: Deno.NetAddr;
  /** A second, different datagram that came after the reply. */
  extra?: Uint8Array;
}

/** No reply to one datagram: why, as far as it can be told. */
interface NoAnswer {
  /** How many times it was sent. */
  tries: number;
  /** The server answered nothing since, not even another datagram. */
  stopped: boolean;
  /** The server answers the first client's socket still, and no other. */
  firstOnly?: boolean;
  /** Datagrams that went to the first client's socket meanwhile. */
  misdirected: Arrival[];
}

/** A client socket of the grader: every datagram that comes is kept. */
class CheckSocket {
  readonly arrivals: Arrival[] = [];
  readonly address: Deno.NetAddr;
  #socket: { clientSocket: Deno.DatagramConn; close: () => void };
  #receiving: Promise<void>;
  #arrived: (() => void) | undefined;

  constructor(serverAddress: Deno.NetAddr) {
    this.#socket = openClientSocket(serverAddress);
    this.address = this.#socket.clientSocket.addr as Deno.NetAddr;
    this.#receiving = this.#receiveAll();
  }

  async #receiveAll() {
    const { clientSocket } = this.#socket;
    try {
      while (true) {
        const buffer = new Uint8Array(RECEIVE_BUFFER_SIZE);
        const [data, from] = await clientSocket.receive(buffer);
        const at = performance.now();
        this.arrivals.push({ data, from: from as Deno.NetAddr, at });
        this.#arrived?.();
      }
    } catch {
      // closed
    }
  }

  /** Sends `data`; a datagram the system refuses is merely lost. */
  async send(data: Uint8Array, to: Deno.NetAddr) {
    await this.#socket.clientSocket.send(data, to).catch(() => {});
  }

  /** Waits `ms` at most for more than `count` datagrams to have come. */
  async waitFor(count: number, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (this.arrivals.length <= count) {
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await withinOrUndefined(
        new Promise<void>((wake) => this.#arrived = wake),
        left,
      );
    }
    return true;
  }

  async close() {
    this.#socket.close();
    await this.#receiving;
  }
}

/** The UDP server graded: its address, and the clients it sent from. */
class UdpServerUnderTest {
  readonly hostname: string;
  readonly port: number;
  /** How long a reply is waited for after the last try. */
  waitMs: number;
  /** How long from one try to the next; longer for a slow server. */
  intervalMs: number;
  #askedIntervalMs: number;
  /** How many times a datagram is sent, at most (twice that once more). */
  readonly tries: number;
  /** Every sentence sent, and the reply it must get. */
  readonly book = new AnswerBook("datagram");
  /** Why the checks left are not run, once the server is found gone. */
  gone: string | undefined;
  /** The server's address, looked up by the first check. */
  serverAddress!: Deno.NetAddr;
  /** The first check's socket, kept open: replies sent to it, not to later clients, show there. */
  firstClient: CheckSocket | undefined;
  /** The reply to the first sentence. */
  firstAnswer: UdpAnswer | undefined;
  /** Every reply the first client's sentences got. */
  readonly firstClientReplies: Uint8Array[] = [];
  /** Every answer so far, with its sentence: where each came from. */
  readonly answers: { sentence: Uint8Array; answer: UdpAnswer }[] = [];
  /** The longest a reply to a first try took, once one has come. */
  slowestMs: number | undefined;
  #started = 0;

  constructor(options: GradeOptions) {
    this.hostname = options.hostname ?? "localhost";
    this.port = options.port ?? 12000;
    this.waitMs = (options.timeout ?? 2) * 1000;
    this.intervalMs = (options.interval ?? options.timeout ?? 2) * 1000;
    this.#askedIntervalMs = this.intervalMs;
    this.tries = 1 + (options.retries ?? 3);
  }

  /** Notes a sentence and its reply; returns the sentence's bytes. */
  sentence(
    text: string | Uint8Array,
    reply: string | Uint8Array,
    sender?: string,
  ): Uint8Array {
    const encode = (t: string | Uint8Array) =>
      typeof t === "string" ? new TextEncoder().encode(t) : t;
    this.book.expect(encode(text), encode(reply), sender);
    return encode(text);
  }

  /**
   * Sends `sentence` from `socket` every `spacingMs` until something more
   * comes, `tries` times at most, and waits `lastWaitMs` after the last;
   * resolves with how many times it was sent.
   */
  async send(
    socket: CheckSocket,
    sentence: Uint8Array,
    tries = this.tries,
    spacingMs = this.intervalMs,
    lastWaitMs = this.waitMs,
  ): Promise<number> {
    const before = socket.arrivals.length;
    const firstSentAt = performance.now();
    for (let sent = 1; sent <= tries; sent++) {
      await socket.send(sentence, this.serverAddress);
      const waitMs = sent < tries ? spacingMs : lastWaitMs;
      if (await socket.waitFor(before, waitMs)) {
        const took = socket.arrivals[before].at - firstSentAt;
        // Answered at the first try: how long this server takes to answer.
        if (sent === 1) this.slowestMs = Math.max(this.slowestMs ?? 0, took);
        // Answered only after a retry: the server may be slower than the
        // interval; tries sent faster than it answers pile up in its queue.
        else this.slowDown(took);
        return sent;
      }
    }
    return tries;
  }

  /**
   * Spaces tries further apart (up to twice the interval asked) when
   * a reply came only `tookMs` after the first try, later than the next.
   */
  slowDown(tookMs: number) {
    this.intervalMs = Math.min(
      2 * this.#askedIntervalMs,
      Math.max(this.intervalMs, 1.25 * tookMs),
    );
    this.waitMs = Math.max(this.waitMs, this.intervalMs);
  }

  /**
   * The reply to `sentence` from a socket of its own, and a second
   * datagram if one comes within `extraMs`; without a reply, whether the
   * server still answers anything, and if so, twice the tries once more
   * from the same socket (a lossy server; a reply to any try counts).
   */
  async ask(
    sentence: Uint8Array,
    options: { tries?: number; extraMs?: number } = {},
  ): Promise<UdpAnswer | NoAnswer> {
    const started = performance.now();
    let tries = 0;
    const socket = new CheckSocket(this.serverAddress);
    try {
      for (const round of [options.tries ?? this.tries, 2 * this.tries]) {
        tries += await this.send(socket, sentence, round);
        if (socket.arrivals.length > 0) {
          const extraMs = options.extraMs ?? QUIET_MS;
          const answer = await answerOf(socket, tries, extraMs);
          this.answers.push({ sentence, answer });
          return answer;
        }
        // Replies that went to the first client will not come here.
        const misdirected = this.misdirected(started);
        if (misdirected.length > 0) {
          return { tries, stopped: false, misdirected };
        }
        const answers = await this.stillAnswers();
        if (answers !== "yes") {
          const firstOnly = answers === "the first client";
          return { tries, stopped: !firstOnly, firstOnly, misdirected };
        }
      }
    } finally {
      await socket.close();
    }
    return { tries, stopped: false, misdirected: this.misdirected(started) };
  }

  /**
   * Whether the server answers a datagram of another client, anywhere;
   * if not, whether it still answers the first client's socket.
   */
  async stillAnswers(): Promise<"yes" | "the first client" | "no"> {
    const started = performance.now();
    // Twice the tries, so that a lossy server is not taken for gone,
    // as fast as this server has answered, and the whole wait after the
    // last, so that a server slower now than at first is not either.
    const spacingMs = this.slowestMs === undefined
      ? this.#askedIntervalMs
      : Math.min(this.#askedIntervalMs, Math.max(50, 2 * this.slowestMs));
    // The first client asks at the same time: a server may answer it alone.
    const first = this.firstClient;
    const before = first?.arrivals.length ?? 0;
    const again = this.sentence("still me", "STILL ME");
    this.firstClientReplies.push(this.book.replyTo(again));
    const socket = new CheckSocket(this.serverAddress);
    try {
      const there = this.sentence("are you there", "ARE YOU THERE");
      await Promise.all([
        this.send(socket, there, 2 * this.tries, spacingMs),
        first && this.send(first, again, 2 * this.tries, spacingMs),
      ]);
    } finally {
      await socket.close();
    }
    if (socket.arrivals.length > 0 || this.misdirected(started).length > 0) {
      return "yes";
    }
    return (first?.arrivals.length ?? 0) > before ? "the first client" : "no";
  }

  /** Datagrams that came to the first client since `since`, not for it. */
  misdirected(since: number): Arrival[] {
    return (this.firstClient?.arrivals ?? []).filter((arrival) =>
      arrival.at >= since &&
      !this.firstClientReplies.some((mine) => sameBytes(arrival.data, mine))
    );
  }

  /**
   * The next datagram on `socket` after `sentence` is sent from it, as
   * `ask` waits for one (copies of `late`, a reply that may still come
   * to an earlier try, are not it); and a second datagram if one comes.
   */
  async nextReply(
    socket: CheckSocket,
    sentence: Uint8Array,
    late?: Uint8Array,
  ): Promise<UdpAnswer | NoAnswer> {
    const started = performance.now();
    const from = socket.arrivals.length;
    const next = () =>
      socket.arrivals.slice(from).find((arrival) =>
        !late || !sameBytes(arrival.data, late)
      );
    let tries = 0;
    for (const round of [2 * this.tries, 2 * this.tries]) {
      for (let left = round; left > 0 && !next();) {
        const sent = await this.send(socket, sentence, left);
        tries += sent;
        left -= sent;
      }
      const arrival = next();
      if (arrival) {
        await socket.waitFor(socket.arrivals.indexOf(arrival) + 1, QUIET_MS);
        const after = socket.arrivals.slice(
          socket.arrivals.indexOf(arrival) + 1,
        )
          .find((a) =>
            !sameBytes(a.data, arrival.data) &&
            (!late || !sameBytes(a.data, late))
          );
        return { reply: arrival.data, from: arrival.from, extra: after?.data };
      }
      if (await this.stillAnswers() === "no") {
        return { tries, stopped: true, misdirected: [] };
      }
    }
    return { tries, stopped: false, misdirected: this.misdirected(started) };
  }

  /** The result of `run`; one that throws FAILs, saying why. */
  async graded(
    check: string,
    run: (server: UdpServerUnderTest, check: string) => Promise<CheckResult>,
  ): Promise<CheckResult> {
    const number = ++this.#started;
    try {
      return await run(this, check);
    } catch (error) {
      if (number === 1) this.gone = "the server did not answer a sentence";
      return {
        check,
        verdict: "FAIL",
        why: explainError(error, this.hostname),
      };
    }
  }

  /**
   * Why no reply came to `sentence`, in a student's words; a server that
   * stopped answering leaves the checks after this one not checked.
   */
  noReply(none: NoAnswer, what: string): string {
    const sent = `${what} got no reply within ${
      this.waitMs / 1000
    } s of its last try (sent ${none.tries} times)`;
    if (none.misdirected.length > 0) {
      const first = none.misdirected[0].data;
      return `${sent}; meanwhile ${shown(first)}${
        none.misdirected.length > 1
          ? ` and ${none.misdirected.length - 1} more`
          : ""
      } came to the first client (port ${this.firstClient!.address.port}): ` +
        `each reply must go to the address its datagram came from`;
    }
    if (none.firstOnly) {
      return `${sent}, though the server still answers the first client ` +
        `(port ${this.firstClient!.address.port}): it answers its first ` +
        `client only`;
    }
    if (none.stopped) {
      this.gone = `the server stopped answering during check ${this.#started}`;
      return `${sent}, and the server has answered nothing since, to any ` +
        `client`;
    }
    return `${sent}, though the server answers other datagrams`;
  }

  async close() {
    await this.firstClient?.close();
  }
}

/** The answer on `socket`, with a second datagram if one comes. */
async function answerOf(
  socket: CheckSocket,
  tries: number,
  extraMs: number,
): Promise<UdpAnswer> {
  const [{ data: reply, from }] = socket.arrivals;
  if (extraMs > 0) await socket.waitFor(1, extraMs);
  // After several tries, a repeat of the reply answers another try.
  const extra = socket.arrivals.slice(1).find((arrival) =>
    tries === 1 || !sameBytes(arrival.data, reply)
  );
  return { reply, from, extra: extra?.data };
}

/**
 * A sentence: "hello world" must come back "HELLO WORLD". Its socket stays
 * open as the first client, to see replies that go to it and not to later
 * clients; a second datagram after the reply is a WARN.
 */
async function udpCheckSentence(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  server.serverAddress = await resolveServer(server.hostname, server.port);
  const sentence = server.sentence("hello world", "HELLO WORLD");
  const socket = new CheckSocket(server.serverAddress);
  server.firstClient = socket;
  const tries = await server.send(socket, sentence, 2 * server.tries);
  if (socket.arrivals.length === 0) {
    server.gone = "the server did not answer a sentence";
    return {
      check,
      verdict: "FAIL",
      why:
        `no reply within ${
          server.waitMs / 1000
        } s of the last try (sent ${tries} times): is the server running? ` +
        `(a slow one? --timeout gives it longer; a lossy one? --retries ` +
        `gives it more tries)`,
    };
  }
  const answer = await answerOf(socket, tries, QUIET_MS);
  server.firstAnswer = answer;
  server.answers.push({ sentence, answer });
  server.firstClientReplies.push(answer.reply);
  if (!server.book.isReplyTo(sentence, answer.reply)) {
    return {
      check,
      verdict: "FAIL",
      why: server.book.wrong(sentence, answer.reply),
    };
  }
  const came = `"hello world" came back "HELLO WORLD"`;
  if (answer.extra) return extraDatagram(check, came, answer.extra);
  return await checkKeepsSending(server, check, tries > 1 ? answer : undefined);
}

/**
 * A FAIL for a datagram that came after a right reply (none came: the
 * result `otherwise`): it is no reply, in every check where it comes.
 */
function extraDatagram(
  check: string,
  came: string,
  extra: Uint8Array | undefined,
  otherwise?: CheckResult,
): CheckResult {
  if (extra === undefined) {
    return otherwise ?? { check, verdict: "PASS", why: came };
  }
  return {
    check,
    verdict: "FAIL",
    why: `${came}, then another datagram, ${shown(extra)}: only the reply ` +
      `may come; a client sending several sentences from one socket takes ` +
      `it for the next reply`,
  };
}

/**
 * A client that keeps sending from the first socket, as the chapter's
 * exercise asks, gets the reply to each sentence, not a stale or a kept
 * one. `late`: the first answer, when copies of it may still come.
 */
async function checkKeepsSending(
  server: UdpServerUnderTest,
  check: string,
  late: UdpAnswer | undefined,
): Promise<CheckResult> {
  const again = server.sentence("and again", "AND AGAIN");
  const next = await server.nextReply(server.firstClient!, again, late?.reply);
  if (!("reply" in next)) {
    const why = server.noReply(
      next,
      `a second sentence from the same socket, "and again",`,
    );
    return { check, verdict: "FAIL", why };
  }
  server.answers.push({ sentence: again, answer: next });
  server.firstClientReplies.push(next.reply);
  if (!server.book.isReplyTo(again, next.reply)) {
    const why = `from the same socket, ${server.book.wrong(again, next.reply)}`;
    return { check, verdict: "FAIL", why };
  }
  const came = `"hello world" came back "HELLO WORLD"`;
  return next.extra
    ? extraDatagram(
      check,
      `${came}, "and again" came back "AND AGAIN"`,
      next.extra,
    )
    : {
      check,
      verdict: "PASS",
      why: `${came}, and "and again" from the same socket "AND AGAIN"`,
    };
}

/** Unicode: "straße, é, κόσμος" must come back as Python upper-cases it. */
async function udpCheckUnicode(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(UNICODE_SENTENCE, UNICODE_REPLY);
  const answer = await server.ask(sentence);
  if (!("reply" in answer)) {
    const why = server.noReply(answer, shown(sentence));
    return { check, verdict: "FAIL", why };
  }
  const graded = gradeUnicode(answer.reply, server.book);
  return graded.verdict === "FAIL"
    ? graded
    : extraDatagram(check, graded.why, answer.extra, graded);
}

/** An empty datagram: the textbook's server sends an empty one back. */
async function checkEmptyDatagram(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence("", "");
  const answer = await server.ask(sentence);
  if (!("reply" in answer)) {
    const why = server.noReply(answer, "an empty datagram");
    return answer.stopped || answer.firstOnly ||
        answer.misdirected.length > 0
      ? { check, verdict: "FAIL", why }
      : {
        check,
        verdict: "WARN",
        why: `${why}; the textbook's server sends an empty one back`,
      };
  }
  return answer.reply.length === 0
    ? extraDatagram(check, "an empty datagram got an empty reply", answer.extra)
    : {
      check,
      verdict: "FAIL",
      why: server.book.wrong(sentence, answer.reply),
    };
}

/** 3,000 bytes, more than the textbook's `recvfrom(2048)` takes. */
async function checkLongDatagram(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const sentence = server.sentence(
    "abcdefghij".repeat(300),
    "ABCDEFGHIJ".repeat(300),
  );
  const answer = await server.ask(sentence);
  if (!("reply" in answer)) {
    const why = server.noReply(answer, "a 3,000-byte datagram");
    return { check, verdict: "FAIL", why };
  }
  const { reply } = answer;
  const expected = server.book.replyTo(sentence);
  if (sameBytes(reply, expected)) {
    const all = "all 3,000 bytes came back upper-cased";
    return extraDatagram(check, all, answer.extra);
  }
  // A limit of 1,024 bytes or more (the books' 1,024 and 2,048) is a WARN;
  // fewer cut ordinary sentences.
  if (
    reply.length >= 1024 && sameBytes(reply, expected.subarray(0, reply.length))
  ) {
    const cut = `a 3,000-byte datagram came back cut to its first ` +
      `${reply.length.toLocaleString("en-US")} bytes`;
    const warn: CheckResult = {
      check,
      verdict: "WARN",
      why: `${cut}: a receive buffer of 65,535 bytes takes any datagram`,
    };
    return extraDatagram(check, cut, answer.extra, warn);
  }
  return { check, verdict: "FAIL", why: server.book.wrong(sentence, reply) };
}

/** Whether every reply so far came from where its client sent. */
function checkReplyPort(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const { serverAddress } = server;
  const sentTo = formatAddress(serverAddress);
  const result = (verdict: Verdict, why: string) =>
    Promise.resolve({ check, verdict, why });
  const elsewhere = server.answers.find(({ answer }) =>
    answer.from.port !== serverAddress.port ||
    (answer.from.hostname !== serverAddress.hostname &&
      !fromServer(answer.from, serverAddress))
  );
  const { from } = elsewhere?.answer ?? server.firstAnswer!;
  const sender = formatAddress(from);
  const reply = elsewhere === undefined || elsewhere === server.answers[0]
    ? "the reply"
    : `the reply to ${shown(elsewhere.sentence)}`;
  if (from.port !== serverAddress.port) {
    return result(
      "FAIL",
      `${reply} came from ${sender}, not ${sentTo}: a client that ` +
        `checks who answers drops it, and so do firewalls and NAT (send ` +
        `with the socket that received)`,
    );
  }
  if (from.hostname === serverAddress.hostname) {
    return result(
      "PASS",
      `every reply came from ${sender}, where its client sent`,
    );
  }
  return fromServer(from, serverAddress)
    ? result(
      "PASS",
      `the replies came from ${sender}: the server's port at another address ` +
        `of this machine than ${sentTo}, where the client sent (a server ` +
        `bound to every address answers from the one the system picks; ` +
        `clients accept that from a server on their own machine)`,
    )
    : result(
      "FAIL",
      `${reply} came from ${sender}, another address than ${sentTo}, ` +
        `where the client sent: a client that checks who answers drops it`,
    );
}

/** Two clients sending at once must each get their own reply. */
async function checkTwoClients(
  server: UdpServerUnderTest,
  check: string,
): Promise<CheckResult> {
  const clients = ["the first client", "the second client"];
  const sentences = [
    server.sentence("first client", "FIRST CLIENT", clients[0]),
    server.sentence("second client", "SECOND CLIENT", clients[1]),
  ];
  const started = performance.now();
  const answers = await Promise.all(
    sentences.map((s) => server.ask(s, { extraMs: QUIET_MS })),
  );
  const replies = answers.map((a) => "reply" in a ? a.reply : undefined);
  if (
    replies.every((reply, i) =>
      reply && server.book.isReplyTo(sentences[i], reply)
    )
  ) {
    const extra = answers.find((a) => "reply" in a && a.extra);
    return sentElsewhere(server, check, answers, started) ?? extraDatagram(
      check,
      "two clients sending at once each got their own reply",
      extra && "reply" in extra ? extra.extra : undefined,
    );
  }
  if (
    replies[0] && replies[1] &&
    server.book.isReplyTo(sentences[1], replies[0]) &&
    server.book.isReplyTo(sentences[0], replies[1])
  ) {
    return {
      check,
      verdict: "FAIL",
      why: "two clients sending at once got each other's replies: reply " +
        "to the address each datagram came from",
    };
  }
  const i = replies.findIndex((reply, i) =>
    !reply || !server.book.isReplyTo(sentences[i], reply)
  );
  const answer = answers[i];
  return {
    check,
    verdict: "FAIL",
    why: `${clients[i]}: ${
      "reply" in answer
        ? server.book.wrong(sentences[i], answer.reply)
        : server.noReply(answer, shown(sentences[i]))
    }`,
  };
}

/**
 * A FAIL if a reply of the two clients went to another client too: the
 * other of the two, or the first check's client.
 */
function sentElsewhere(
  server: UdpServerUnderTest,
  check: string,
  answers: (UdpAnswer | NoAnswer)[],
  since: number,
): CheckResult | undefined {
  const clients = ["the first client", "the second client"];
  for (const [i, answer] of answers.entries()) {
    const other = answers[1 - i];
    if (
      "reply" in answer && answer.extra && "reply" in other &&
      sameBytes(answer.extra, other.reply)
    ) {
      return {
        check,
        verdict: "FAIL",
        why:
          `${clients[i]} got its own reply, and then ${clients[1 - i]}'s, ${
            shown(other.reply)
          }, too: each reply goes only to the ` +
          `address its datagram came from`,
      };
    }
  }
  const [stray] = server.misdirected(since);
  return stray && {
    check,
    verdict: "FAIL",
    why: `each got its own reply, but ${shown(stray.data)} came to the ` +
      `first check's client too (port ${server.firstClient!.address.port}): ` +
      `each reply goes only to the address its datagram came from`,
  };
}

/** Bytes that are not UTF-8, then whether the server still answers. */
async function udpCheckNotUtf8(
  server: UdpServerUnderTest,
): Promise<CheckResult> {
  const sentence = server.sentence(INVALID_SENTENCE, INVALID_REPLY);
  const answer = await server.ask(sentence);
  if (!("reply" in answer)) {
    // Not answered as no other client is: not these bytes' doing.
    return answer.firstOnly
      ? {
        check: "bytes that are not UTF-8 (last: they can stop a server)",
        verdict: "FAIL",
        why: server.noReply(answer, shown(sentence)),
      }
      : gradeInvalid(undefined, !answer.stopped, server.book);
  }
  // A reply does not show that the server lives on: ask it.
  const still = server.sentence("still there", "STILL THERE");
  const after = await server.ask(still);
  // Answered right before, and wrong after: the bytes broke it.
  const answeredRight = server.answers.some(({ sentence, answer }) =>
    server.book.isReplyTo(sentence, answer.reply)
  );
  if (
    answeredRight && "reply" in after &&
    !server.book.isReplyTo(still, after.reply)
  ) {
    return {
      check: "bytes that are not UTF-8 (last: they can stop a server)",
      verdict: "FAIL",
      why: `after the bytes that are not UTF-8, ${
        server.book.wrong(still, after.reply)
      }`,
    };
  }
  const graded = gradeInvalid(answer.reply, "reply" in after, server.book);
  return graded.verdict === "FAIL"
    ? graded
    : extraDatagram(graded.check, graded.why, answer.extra, graded);
}

/** Big enough for any datagram, so no reply is ever truncated. */
const RECEIVE_BUFFER_SIZE = 65_536;

/**
 * A client socket on any free port, of the server's address family. It is
 * closed at once if `signal` aborts; `close()` may be called again.
 */
function openClientSocket(serverAddress: Deno.NetAddr, signal?: AbortSignal) {
  const hostname = serverAddress.hostname.includes(":") ? "::" : "0.0.0.0";
  // One line, never Deno's prompt, for the bind and for the sends.
  requireNetAccess({ hostname, port: 0 });
  requireNetAccess(serverAddress);
  const clientSocket = Deno.listenDatagram({
    transport: "udp",
    hostname,
    port: 0,
  });
  let closed = false;
  function close() {
    if (closed) return;
    closed = true;
    signal?.removeEventListener("abort", close);
    clientSocket.close();
  }
  signal?.addEventListener("abort", close, { once: true });
  return { clientSocket, close };
}

/**
 * Whether a datagram from `from` is the server's: from the server's port,
 * and from its address or, when the server is on this machine, from any
 * address of this machine. A server bound to 0.0.0.0 answers from 127.0.0.1
 * a client that wrote to `--host 0.0.0.0` or to 127.0.1.1 (what `hostname`
 * names on Debian and Ubuntu).
 */
function fromServer(from: Deno.NetAddr, server: Deno.NetAddr): boolean {
  if (from.port !== server.port) return false;
  return from.hostname === server.hostname ||
    (isThisMachine(server.hostname) && isThisMachine(from.hostname));
}

/** Loopback (127.0.0.0/8, ::1) or "any address" (0.0.0.0, ::), IPv4-mapped too. */
function isThisMachine(address: string): boolean {
  const ipv4 = address.replace(/^::ffff:/i, "");
  return /^127\./.test(ipv4) || ipv4 === "0.0.0.0" || address === "::1" ||
    address === "::";
}

/** Resolves with the promise's value, or `undefined` after `ms`. */
async function withinOrUndefined<T>(
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

/** Throws the hint to run with `--unstable-net` when UDP is not available. */
function requireUdp() {
  if (typeof Deno.listenDatagram !== "function") {
    throw new Error(
      `UDP sockets need Deno's --unstable-net flag: ${runHint()}`,
    );
  }
}

/**
 * The server's address as an IP, looked up once so that replies can be
 * checked against it. IPv4 comes first, as the servers bind IPv4 by default.
 */
async function resolveServer(
  hostname: string,
  port: number,
): Promise<Deno.NetAddr> {
  // An IPv4-mapped IPv6 address (::ffff:127.0.0.1) is the IPv4 address;
  // "any address" (0.0.0.0, ::), as a server's ready line prints it, is this
  // machine, which a server bound to either answers on 127.0.0.1.
  const bare = hostname.replace(/^\[(.*)\]$/, "$1")
    .replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, "$1")
    .replace(/^(0\.0\.0\.0|::)$/, "127.0.0.1");
  let address: string;
  if (bare.includes(":")) {
    address = bare;
  } else if (/^[\d.]+$/.test(bare)) {
    address = canonical(bare, hostname);
  } else {
    const found = await lookup(bare, { all: true });
    const chosen = found.find((a) => a.family === 4) ?? found[0];
    if (chosen === undefined) {
      throw new Error(`cannot resolve host ${hostname}: check --host`);
    }
    address = chosen.address;
  }
  if (address.includes(":")) {
    // Canonical form ("0:0::1" is "::1"), as the system reports senders.
    address = canonical(`[${address}]`, hostname).slice(1, -1);
  }
  return { transport: "udp", hostname: address, port };
}

/** An IP address as the system writes it, or a one-line error naming `--host`. */
function canonical(address: string, hostname: string): string {
  try {
    return new URL(`http://${address}`).hostname;
  } catch {
    throw new Error(`cannot resolve host ${hostname}: check --host`);
  }
}

// ===========================================================================
// Grading servers: what the checks share
// ===========================================================================

/** After a reply, this long without another byte means nothing more comes. */
const QUIET_MS = 300;

/** What the grader sends to test Unicode, and what Python's upper() gives. */
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
 * Every sentence the grader has sent and the one reply it must get. Each
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
      if (at === 0 && expected.length === 0) return nulsSaid(line, "bytes");
      if (at === 0) return afterTheReply(got.subarray(expected.length));
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
 * "the reply, then" the bytes `rest`; NULs among them are named, as a
 * student may not see them in a terminal.
 */
function afterTheReply(rest: Uint8Array): string {
  const then = `the reply, then ${shown(rest)}`;
  return rest.includes(0) ? `${then}: ${nulsSaid(rest, "bytes past")}` : then;
}

/** What `bytes`, NULs among them, are: "1013 bytes of NUL past ...". */
function nulsSaid(bytes: Uint8Array, what: string): string {
  return (bytes.every((byte) => byte === 0)
    ? `${bytesOf(bytes.length)} of NUL`
    : `${what} of no reply, NULs among them,`) +
    ` past the end of the reply (send back only as many bytes as came)`;
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
    : "; then the server stopped answering: one client can stop it";
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
    : startsAndEndsAsReply(reply) &&
        indexOfBytes(reply, new Uint8Array([0xef, 0xbf, 0xbd])) >= 0
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

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

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
  // Shorter than the first: a reply buffer not cleared shows its tail.
  second: "a second one",
  stranger: "NOT FROM THE SERVER",
};

/** The textbook's smallest receive buffer: a shorter one cuts sentences. */
const TEXTBOOK_BUFFER = 1024;

/** How long a line's end may trail the sentence on the wire. */
const LINE_END_MS = 100;

/** Extra time for the first sentence, while the program starts (a JVM). */
const STARTUP_MS = 5_000;

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
  end?: HowItEnded;
}

/** How a program ended. */
interface HowItEnded {
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
    why: `typed ${quotedBytes(utf8(sentence))}${
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
async function finish(session: Session): Promise<HowItEnded> {
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
        `${quotedBytes(reply.subarray(0, cut))} then ` +
        `${quotedBytes(reply.subarray(cut))}: it printed the first piece only`,
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
  const said = `sent ${quotedBytes(first.bytes)} once and no reply came`;
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
  const due = utf8(TYPED.sentence.toUpperCase());
  if (binary(program.stdout.bytes()).includes(binary(due))) {
    return {
      verdict: "FAIL",
      why: `${said}; it ended and printed ${words}: the reply ` +
        `${quotedBytes(due)}, though none was sent`,
    };
  }
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
      why: `no reply came to ${quotedBytes(first.bytes)}; ${after} later it ` +
        `sent ${quotedBytes(again.bytes)}, not the sentence again`,
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
        `${quotedBytes(utf8(TYPED.stranger))}` +
        (longestPrefix(out, due) === due.length
          ? ""
          : `, and not the reply ${quotedBytes(due)}`),
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
        `${quotedBytes(utf8(TYPED.second))} never came (one sentence, as ` +
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
    return { verdict: "PASS", why: `it sent ${quotedBytes(heard.bytes)}` };
  }
  const sent = binary(heard.bytes).replace(/\r?\n$/, "");
  const pattern = [...sentence].map((char) =>
    char < "\x80" ? char.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") : "[^]{0,4}"
  ).join("");
  if (/[^ -~]/.test(sentence) && new RegExp(`^${pattern}$`).test(sent)) {
    return {
      verdict: "WARN",
      narrow: true,
      why:
        `typed ${quotedBytes(due)} (${
          bytesOf(due.length)
        } in UTF-8); it sent ` +
        `${quotedBytes(heard.bytes)}: the characters beyond ASCII not in UTF-8`,
    };
  }
  // A fixed input buffer of 1,024 bytes or more: a limit, as recv's is.
  const cut = heard.bytes.length >= 1024 && heard.bytes.length < due.length &&
    due.subarray(0, heard.bytes.length).every((b, i) => b === heard.bytes[i]);
  if (cut) {
    return {
      verdict: "WARN",
      why: `typed a line of ${count(due.length)} bytes; it sent only the ` +
        `first ${count(heard.bytes.length)} in one message`,
    };
  }
  return {
    verdict: "FAIL",
    why:
      `typed ${quotedBytes(due)}; it sent ${
        quotedBytes(heard.bytes)
      }, not the ` +
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
          `${quotedBytes(out.subarray(at - 2, at + due.length + 1))}`,
      };
    }
    let nuls = 0;
    while (out[at + due.length + nuls] === 0) nuls++;
    const next = out[at + due.length + nuls];
    // Letters run on with no space between: an earlier reply's tail, never
    // cleared (a narrower character set's "?" after a prefix is not that).
    if (next !== undefined && /[A-Za-z0-9]/.test(String.fromCharCode(next))) {
      const end = out.indexOf(0x0a, at + due.length);
      return {
        verdict: "FAIL",
        why: `it printed ${
          quotedBytes(out.subarray(at, end < 0 ? undefined : end))
        }: the reply ${quotedBytes(due)}, then more bytes on its line`,
      };
    }
    return nuls > 0
      ? {
        verdict: "WARN",
        why:
          `it printed the reply ${quotedBytes(due)} and ${count(nuls)} NUL ` +
          `bytes (\\0) after it`,
      }
      : { verdict: "PASS", why: `it printed the reply ${quotedBytes(due)}` };
  }
  const echoed = sentence !== undefined &&
    binary(out).includes(binary(utf8(sentence)));
  return {
    verdict: "FAIL",
    why:
      (out.length === 0
        ? `it printed nothing; the reply ${quotedBytes(due)} was due`
        : `it printed ${quotedBytes(out)}${
          echoed ? ", the sentence it sent," : ""
        } not the reply ${quotedBytes(due)}`) +
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
  return `a stack trace on stderr: ${quotedBytes(utf8(telling.trim()))}`;
}

/** What it printed on stdout and stderr, quoted; "" when nothing. */
function printedText(program: StudentProgram): string {
  const both = concat([program.stdout.bytes(), program.stderr.bytes()]);
  return both.length === 0 ? "" : quotedBytes(both);
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
function quotedBytes(bytes: Uint8Array, head = 40, tail = 15): string {
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
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  const run = await runClient(options, answerPing, pingerDeadline);
  if (options.signal?.aborted) return;
  const pinger = readPingerRun(run);
  for (const check of PINGER_CHECKS) {
    if (options.signal?.aborted) return;
    yield check(pinger);
  }
}

/** Pings the assignment's Pinger sends. */
const PINGS = 10;

/** The pings (by arrival, from 1) the grader drops, as the lab's server may. */
const DROPPED = new Set([3, 7]);

/** The ping whose reply is sent after its 1 s timeout, and when. */
const LATE_PING = 5;
const LATE_MS = 1_500;

/**
 * Each answered ping's reply delay, by arrival: all different, spread so
 * that no one number printed for every RTT is near them all, and long
 * enough that an RTT printed in the wrong unit (off by 1,000) shows. The
 * 6th is short so that the late reply comes while the 7th (dropped) waits.
 */
const DELAYS_MS = [100, 800, 0, 150, 0, 250, 0, 600, 120, 400];

/** The assignment's timeout, and how far a client's wait may be from it. */
const PING_TIMEOUT_MS = 1_000;
const WAIT_RANGE_MS = [800, 1_600];

/** Longest a client's run lasts. */
const CLIENT_RUN_MS = 30_000;

/** A client silent this long (no datagram either way) has stopped sending. */
const LAB_QUIET_MS = 5_000;

/** How long a Pinger has, after its 10th ping, to end by itself. */
const END_MS = 4_000;

/**
 * Python holds its stdout to a pipe until it exits, and a client the grader
 * has to end may not get to exit (Ctrl-C is ignored where the grader runs
 * in the background): unbuffered, what it printed is all there.
 */
const UNBUFFERED = { PYTHONUNBUFFERED: "1" };

/** How long the reply to the `index`-th datagram waits; undefined: none. */
function answerPing(index: number): number | undefined {
  if (DROPPED.has(index)) return undefined;
  if (index === LATE_PING) return LATE_MS;
  return DELAYS_MS[(index - 1) % DELAYS_MS.length];
}

/** When a Pinger's run ends, on `performance.now()`'s clock. */
function pingerDeadline(server: LabServer, start: number): number {
  const last = server.arrivals.at(-1);
  const end = last === undefined
    ? start + START_MS
    : server.arrivals.length >= PINGS
    // Counted from the 10th: a client that floods does not keep it going.
    ? server.arrivals[PINGS - 1].at + END_MS
    : server.lastActivity + LAB_QUIET_MS;
  return Math.min(end, start + CLIENT_RUN_MS);
}

/** Most datagrams a client's server keeps; the rest are only counted. */
const KEPT_ARRIVALS = 1_000;

/** A datagram the grader received as the client's server. */
interface LabArrival {
  /** 1 for the first datagram. */
  index: number;
  /** When it came, on `performance.now()`'s clock. */
  at: number;
  /** When it came, ms since 1970. */
  epochMs: number;
  bytes: Uint8Array;
  /** When its reply was sent, if it was. */
  repliedAt?: number;
}

/**
 * The server the grader plays for a client, as the lab's: one UDP port on
 * 127.0.0.1 and ::1 both (a client's `localhost` may be either), every
 * datagram recorded, each answered upper-cased from the port it came to,
 * after the delay `answer` gives (or never).
 */
class LabServer {
  /** Every datagram received, in order, up to {@linkcode KEPT_ARRIVALS}. */
  readonly arrivals: LabArrival[] = [];
  /** How many more came. */
  uncounted = 0;
  /** When the last datagram came or went, on `performance.now()`'s clock. */
  lastActivity = performance.now();
  #sockets: Deno.DatagramConn[];
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #serving: Promise<void>[];
  #wake = () => {};

  /** Takes `port` on both loopbacks; throws DidNotStart if it cannot. */
  constructor(port: number, answer: (index: number) => number | undefined) {
    this.#sockets = [];
    for (const hostname of ["127.0.0.1", "::1"]) {
      try {
        this.#sockets.push(
          Deno.listenDatagram({ hostname, port, transport: "udp" }),
        );
      } catch (error) {
        // A machine without IPv6 has only 127.0.0.1 to offer.
        if (error instanceof Deno.errors.AddrNotAvailable) continue;
        for (const socket of this.#sockets) socket.close();
        throw new DidNotStart(
          `the grader could not be the server at ${
            formatAddress({ hostname, port })
          }: ${(error as Error).message}; give another --port, or 0`,
        );
      }
    }
    this.#serving = this.#sockets.map((socket) => this.#serve(socket, answer));
  }

  async #serve(
    socket: Deno.DatagramConn,
    answer: (index: number) => number | undefined,
  ) {
    try {
      for (;;) {
        const [bytes, from] = await socket.receive();
        this.#touch();
        // A flood is counted, not kept, nor answered.
        if (this.arrivals.length >= KEPT_ARRIVALS) {
          this.uncounted++;
          continue;
        }
        const index = this.arrivals.length + 1;
        const arrival = {
          index,
          at: performance.now(),
          epochMs: Date.now(),
          bytes,
        };
        this.arrivals.push(arrival);
        const delay = answer(index);
        if (delay !== undefined) this.#reply(socket, arrival, from, delay);
      }
    } catch {
      // Closed by `close`.
    }
  }

  #reply(
    socket: Deno.DatagramConn,
    arrival: LabArrival,
    to: Deno.Addr,
    ms: number,
  ) {
    const timer = setTimeout(() => {
      this.#timers.delete(timer);
      arrival.repliedAt = performance.now();
      this.#touch();
      socket.send(asciiUpper(arrival.bytes), to).catch(() => {});
    }, ms);
    this.#timers.add(timer);
  }

  #touch() {
    this.lastActivity = performance.now();
    this.#wake();
  }

  /** Resolves at the next datagram in or out, or after `ms`, or `also`. */
  async changed(ms: number, ...also: Promise<unknown>[]): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          this.#wake = resolve;
          timer = setTimeout(resolve, Math.max(0, ms));
        }),
        ...also,
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops answering and closes the port. */
  async close() {
    for (const timer of this.#timers) clearTimeout(timer);
    for (const socket of this.#sockets) socket.close();
    await Promise.all(this.#serving);
  }
}

/** Bytes upper-cased as Python's `bytes.upper()` does: a-z only. */
function asciiUpper(bytes: Uint8Array): Uint8Array {
  return bytes.map((byte) => byte >= 0x61 && byte <= 0x7a ? byte - 32 : byte);
}

/** What a client did in one run: on the wire, and what it printed. */
interface ClientRun {
  arrivals: LabArrival[];
  /** Datagrams past the ones kept. */
  uncounted: number;
  /** Its stdout, read when it ended. */
  printed: string;
  /** Whether it ended before the grader ended it. */
  endedItself: boolean;
  /** When it ended or was ended, on `performance.now()`'s clock. */
  endedAt: number;
  /** Its exit status. */
  code: number;
  /** How it ended, for a reason: with its exit status and last words. */
  ending: string;
}

/**
 * Runs the client of `options.command` once against a {@linkcode LabServer}
 * on its port until it ends or `deadline` passes; then ends it, Ctrl-C
 * first, so that a program that holds its output until exit still prints it.
 */
async function runClient(
  options: GradeOptions,
  answer: (index: number) => number | undefined,
  deadline: (server: LabServer, start: number) => number,
): Promise<ClientRun> {
  if (options.command === undefined) {
    throw new DidNotStart("a client is graded by running it: give its command");
  }
  const port = options.port === 0 ? freePort("udp") : options.port ?? 12000;
  const server = new LabServer(port, answer);
  try {
    const program = new StudentProgram(
      substitute(options.command, port),
      UNBUFFERED,
    );
    let endedAt = 0;
    program.status.then(() => endedAt = performance.now());
    const stopped = new Promise((resolve) =>
      options.signal?.addEventListener("abort", resolve, { once: true })
    );
    const start = performance.now();
    while (!program.ended && !options.signal?.aborted) {
      const left = deadline(server, start) - performance.now();
      if (left <= 0) break;
      await server.changed(left, program.status, stopped);
    }
    const endedItself = program.ended;
    if (!endedItself) {
      endedAt = performance.now();
      try {
        Deno.kill(-program.pid, "SIGINT");
      } catch {
        // It has just ended.
      }
      await program.waitEnd(INTERRUPT_MS);
    }
    const { code } = await program.stop();
    return {
      arrivals: server.arrivals,
      uncounted: server.uncounted,
      printed: program.stdout.text(),
      endedItself,
      endedAt,
      code,
      ending: endedItself
        ? `the client ended (exit ${code}; ${program.said()})`
        : "the client was ended",
    };
  } finally {
    await server.close();
  }
}

/** One ping as the grader saw it on the wire. */
interface Ping extends LabArrival {
  /** Its text, the line end taken off. */
  text: string;
  /** SEQ and TIME, if it reads as `Ping SEQ TIME`. */
  seq?: number;
  time?: string;
  /** Its reply's text, if one was sent. */
  reply?: string;
  /** Whether it was answered within the timeout. */
  answered: boolean;
}

/** A Pinger's run, read: the pings, what it printed for each, the rest. */
interface PingerRun extends ClientRun {
  pings: Ping[];
  said: Map<number, Said>;
  /** By ping: a line that shows the text it sent. */
  sent: Map<number, string>;
  /** Lines that say a reply came late. */
  lateLines: string[];
  statistics: Statistics;
  /** The ping (by arrival) waiting when the late reply came, if it came. */
  waiting?: number;
}

/** Reads a Pinger's run: each datagram as a ping, its output by ping. */
function readPingerRun(run: ClientRun): PingerRun {
  const pings = run.arrivals.map((arrival): Ping => {
    const text = new TextDecoder().decode(arrival.bytes).replace(/\r?\n$/, "");
    const parts = text.match(/^ping\s+(-?\d+)\s+(\S.*)$/is);
    return {
      ...arrival,
      text,
      seq: parts ? Number(parts[1]) : undefined,
      time: parts?.[2],
      reply: arrival.repliedAt === undefined
        ? undefined
        : new TextDecoder().decode(asciiUpper(arrival.bytes)).trim(),
      answered: arrival.repliedAt !== undefined &&
        arrival.repliedAt - arrival.at < PING_TIMEOUT_MS,
    };
  });
  const late = pings[LATE_PING - 1]?.repliedAt;
  const waiting = late === undefined
    ? undefined
    : pings.findLast((ping) => ping.at < late)?.index;
  const { said, lateLines, summary, sent } = readPrinted(run.printed, pings);
  return {
    ...run,
    pings,
    said,
    sent,
    lateLines,
    statistics: readStatistics(summary, pings.length),
    waiting,
  };
}

/** Each of a Pinger's checks, in the order they are printed. */
const PINGER_CHECKS: ((run: PingerRun) => CheckResult)[] = [
  checkPingCount,
  checkPingFormat,
  checkOneAtATime,
  checkTimeoutWait,
  checkRepliesPrinted,
  checkRttsPrinted,
  checkTimedOutLines,
  checkLateReply,
  checkMinAvgMax,
  checkLossRate,
  checkPingerEnds,
];

/** The count: ten pings. */
function checkPingCount(run: PingerRun): CheckResult {
  const check = "10 pings";
  const count = run.pings.length + run.uncounted;
  if (count === PINGS) {
    return { check, verdict: "PASS", why: `${count} pings came` };
  }
  const last = run.pings.at(-1);
  const what = last === undefined
    ? `no ping came before ${run.ending}`
    : `${count} ${count === 1 ? "ping" : "pings"} came` +
      (count < PINGS
        ? `, then nothing for ${seconds(run.endedAt - last.at)} until ` +
          run.ending
        : "");
  return { check, verdict: "FAIL", why: `${what}; ${PINGS} were due` };
}

/** `Ping SEQ TIME`, SEQ 1 to 10 in order, TIME a time the grader reads. */
function checkPingFormat(run: PingerRun): CheckResult {
  const check = "Ping SEQ TIME";
  if (run.pings.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came" };
  }
  for (const ping of run.pings) {
    if (ping.seq === undefined) {
      return {
        check,
        verdict: "FAIL",
        why: `ping ${ping.index} was ${shownBytes(ping.bytes)}; due ` +
          `"Ping ${ping.index} TIME"`,
      };
    }
    if (ping.seq !== ping.index) {
      return {
        check,
        verdict: "FAIL",
        why: `SEQ went ${listed(run.pings.map((p) => p.seq))}; ` +
          `due 1, 2, 3 and on by one (ping ${ping.index} was ` +
          `${shownBytes(ping.bytes)})`,
      };
    }
  }
  for (const ping of run.pings) {
    const off = timeOff(ping.time!, ping.epochMs);
    if (off !== undefined && Math.abs(off) <= 60_000) continue;
    return {
      check,
      verdict: "WARN",
      why: off === undefined
        ? `TIME "${ping.time}" in ping ${ping.index} is not a time the ` +
          `grader can read (seconds or ms since 1970, or a date)`
        : `TIME "${ping.time}" in ping ${ping.index} is ` +
          `${seconds(Math.abs(off))} ${off < 0 ? "behind" : "ahead of"} ` +
          `the grader's clock`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `"${run.pings[0].text}" and on, SEQ 1 to ${run.pings.length}`,
  };
}

/** Each ping only after the one before it was answered (or timed out). */
function checkOneAtATime(run: PingerRun): CheckResult {
  const check = "one ping at a time";
  if (run.pings.length < 2) {
    return { check, verdict: "SKIP", why: "fewer than 2 pings came" };
  }
  for (const ping of run.pings.slice(0, -1)) {
    const next = run.pings[ping.index];
    if (!ping.answered || next.at >= ping.repliedAt! - 1) continue;
    return {
      check,
      verdict: "FAIL",
      why: `ping ${next.index} came ${seconds(next.at - ping.at)} after ` +
        `ping ${ping.index}, before its reply (sent after ` +
        `${seconds(ping.repliedAt! - ping.at)}); due after the reply`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: "each answered ping was followed only after its reply",
  };
}

/**
 * The timeout: after a ping with no reply at all, the next follows after
 * about 1 s (more only by the pause the client takes after every reply).
 */
function checkTimeoutWait(run: PingerRun): CheckResult {
  const check = "1 s timeout";
  const lost = run.pings.filter((ping) =>
    !ping.answered && ping.index !== run.waiting
  );
  if (lost.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came that had no reply" };
  }
  const waits: string[] = [];
  for (const ping of lost) {
    const next = run.pings[ping.index];
    if (next === undefined) {
      if (ping.index >= PINGS) continue;
      return {
        check,
        verdict: "FAIL",
        why: `ping ${ping.index} had no reply, and no ping came in the ` +
          `${seconds(run.endedAt - ping.at)} after it until the client ` +
          `${run.endedItself ? "ended" : "was ended"}; due 1 s after`,
      };
    }
    const wait = next.at - ping.at;
    const [low, high] = WAIT_RANGE_MS;
    if (wait < low || wait - pauseAfterReply(run) > high) {
      return {
        check,
        verdict: "FAIL",
        why: `ping ${next.index} came ${seconds(wait)} after ping ` +
          `${ping.index}, which had no reply; due about 1 s after`,
      };
    }
    waits.push(`${seconds(wait)} after ping ${ping.index}`);
  }
  return {
    check,
    verdict: "PASS",
    why: `the next ping came ${waits.join(", ")} (each had no reply)`,
  };
}

/** The shortest time from a reply to the next ping: a client's own pause. */
function pauseAfterReply(run: PingerRun): number {
  const pauses = run.pings.slice(0, -1).filter((ping) => ping.answered)
    .map((ping) => run.pings[ping.index].at - ping.repliedAt!);
  return Math.max(0, Math.min(...pauses));
}

/** What a client printed for one ping: a reply, or that it timed out. */
interface Said {
  kind: "reply" | "timeout";
  lines: string[];
  /** The ping (by arrival) whose reply's text it shows. */
  replyOf?: number;
  rtt?: Rtt;
}

/** An RTT as printed: the number and its unit, if it has one. */
interface Rtt {
  value: number;
  unit?: "ms" | "s";
  text: string;
}

/** What a Pinger printed, read line by line. */
interface Printed {
  /** By ping (by arrival): what it printed for it. */
  said: Map<number, Said>;
  /** By ping: a line that shows the text it sent. */
  sent: Map<number, string>;
  lateLines: string[];
  summary: string[];
}

/** A line that tells of a late or stray reply, not of a ping's own. */
const LATE_LINE =
  /\blate\b|\bdiscard|\bignor|\bstale\b|out of order|unexpected/i;

/**
 * A line of the statistics at the end: a word of theirs, or "lost" with a
 * count of all ("3 of 10 packets lost"), unlike one ping's "lost".
 */
const SUMMARY_LINE =
  /\b(min(imum)?|max(imum)?|avg|average|mean|loss|transmitted|statistics|summary|estimatedrtt|devrtt|timeoutinterval|mdev)\b|^(?=.*\blost\b).*(\d\s*%|rate|total|packets|\bof\s+\d|\d\s*\/\s*\d)/i;

/** A line that says a ping timed out. */
const TIMEOUT_LINE = /timed?[\s_-]*out|timeout|no (reply|response)|\blost\b/i;

/**
 * Reads what a Pinger printed into what it said of each ping. A line that
 * shows the text a ping sent starts that ping's part; a reply whose text
 * names a ping not yet told of is that ping's; any other reply or timeout
 * is the next ping's; an RTT on a line of its own goes with the reply
 * above it.
 */
function readPrinted(text: string, pings: Ping[]): Printed {
  const printed: Printed = {
    said: new Map(),
    sent: new Map(),
    lateLines: [],
    summary: [],
  };
  const cursor = { at: 0, last: 0, fresh: false };
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    if (LATE_LINE.test(line)) printed.lateLines.push(line);
    else if (SUMMARY_LINE.test(line)) printed.summary.push(line);
    else placeLine(printed, cursor, line, pings);
  }
  // Lines past the last ping tell of none of them.
  for (const index of printed.said.keys()) {
    if (index > pings.length) printed.said.delete(index);
  }
  return printed;
}

/** Places one line of a Pinger's output with the ping it tells of. */
function placeLine(
  printed: Printed,
  cursor: { at: number; last: number; fresh: boolean },
  line: string,
  pings: Ping[],
) {
  const { rest, replyOf, sentOf } = findPayloads(line, pings);
  if (sentOf !== undefined) {
    printed.sent.set(sentOf, line);
    cursor.at = sentOf;
    cursor.last = sentOf;
    cursor.fresh = !printed.said.has(sentOf);
  }
  const timeout = TIMEOUT_LINE.test(rest);
  const rtt = timeout ? undefined : findRtt(rest);
  if (!timeout && rtt === undefined && replyOf === undefined) return;
  const said: Said = {
    kind: timeout ? "timeout" : "reply",
    lines: [line],
    replyOf,
    rtt,
  };
  // An RTT on a line of its own goes with the reply printed just above.
  const above = printed.said.get(cursor.last);
  if (
    !cursor.fresh && above?.kind === "reply" && said.kind === "reply" &&
    above.rtt === undefined && rtt !== undefined &&
    (replyOf === undefined || replyOf === above.replyOf)
  ) {
    above.rtt = rtt;
    above.lines.push(line);
    return;
  }
  if (cursor.fresh) {
    cursor.last = cursor.at;
  } else if (replyOf !== undefined && !printed.said.has(replyOf)) {
    // A reply's text names its ping, printed in order or not.
    cursor.last = replyOf;
    cursor.at = Math.max(cursor.at, replyOf);
  } else {
    do cursor.at++; while (printed.said.has(cursor.at));
    cursor.last = cursor.at;
  }
  printed.said.set(cursor.last, said);
  cursor.fresh = false;
}

/**
 * The pings whose reply or sent text `line` shows, and the line without
 * them (their numbers are not RTTs).
 */
function findPayloads(line: string, pings: Ping[]) {
  let rest = line;
  let replyOf: number | undefined;
  let sentOf: number | undefined;
  for (const ping of pings) {
    const sent = ping.text.trim();
    if (ping.reply && rest.includes(ping.reply)) {
      replyOf ??= ping.index;
      rest = rest.replaceAll(ping.reply, " ");
    } else if (sent !== "" && rest.includes(sent)) {
      sentOf ??= ping.index;
      rest = rest.replaceAll(sent, " ");
    }
  }
  // A reply shown in part: its SEQ still names it.
  const seq = replyOf === undefined ? rest.match(/\bPING\s+(\d+)\b/) : null;
  if (seq) {
    replyOf = pings.find((ping) => ping.seq === Number(seq[1]))?.index;
    rest = rest.replace(seq[0], " ");
  }
  return { rest, replyOf, sentOf };
}

const NUMBER = String.raw`(?<![\d.])(\d+(?:\.\d+)?(?:[eE]-?\d+)?)`;
const UNIT = String.raw`(ms|msecs?|milliseconds?|s|secs?|seconds?)\b`;
const RTT_LABEL = String
  .raw`(?:rtt|round[\s_-]*trip(?:[\s_-]*time)?|\btime|took|delay|latency|elapsed)`;
/** An RTT label, then soon a number with its unit. */
const LABELLED_RTT = new RegExp(
  `${RTT_LABEL}.{0,30}?${NUMBER}\\s*${UNIT}`,
  "i",
);
/** A number with a unit of time. */
const TIMED_NUMBER = new RegExp(`${NUMBER}\\s*${UNIT}`, "i");
/** An RTT label, then a number without a unit (one may be in between). */
const BARE_RTT = new RegExp(`${RTT_LABEL}([^\\d\\n]{0,20}?)${NUMBER}`, "i");

/** The RTT a line prints, if any: labelled, or with a unit of time. */
function findRtt(text: string): Rtt | undefined {
  const found = text.match(LABELLED_RTT) ?? text.match(TIMED_NUMBER);
  if (found) return rttOf(found[1], found[2], found[0]);
  const bare = text.match(BARE_RTT);
  return bare
    ? rttOf(bare[2], bare[1].match(/\b(ms|s)\b/i)?.[1], bare[0])
    : undefined;
}

/** An {@linkcode Rtt} from its number and unit as printed. */
function rttOf(number: string, unit: string | undefined, text: string): Rtt {
  return {
    value: Number(number),
    unit: unit === undefined ? undefined : /^m/i.test(unit) ? "ms" : "s",
    text: text.trim(),
  };
}

/**
 * `rtt` in ms, in its unit, or, without one, in whichever of s and ms is
 * nearer `dueMs`; and whether it is within the tolerance of `dueMs`.
 */
function rttMs(rtt: Rtt, dueMs: number): { ms: number; near: boolean } {
  const ways = rtt.unit === "ms"
    ? [rtt.value]
    : rtt.unit === "s"
    ? [rtt.value * 1000]
    : [rtt.value * 1000, rtt.value];
  const ms = ways.reduce((a, b) =>
    Math.abs(a - dueMs) <= Math.abs(b - dueMs) ? a : b
  );
  return { ms, near: isNear(ms, dueMs) };
}

/**
 * Whether a printed RTT is near the grader's: 50 ms or half of it under,
 * 250 ms or half over, since a client's RTT also holds its own time before
 * the send and after the receive (a JVM's first ping, under load, 100 ms
 * and more). An RTT off by 1,000 is far out either way: the delays are
 * 100 ms and more.
 */
function isNear(ms: number, dueMs: number): boolean {
  return ms >= dueMs - Math.max(50, dueMs / 2) &&
    ms <= dueMs + Math.max(250, dueMs / 2);
}

/** What a client printed for ping `index`, quoted, or that it printed none. */
function saidOf(run: PingerRun, index: number): string {
  const said = run.said.get(index);
  if (said === undefined) {
    return run.printed.trim() === ""
      ? "it printed nothing at all"
      : `nothing it printed tells of ping ${index}`;
  }
  return `for ping ${index} it printed ${
    said.lines.map((line) => quoted(line)).join(" and ")
  }`;
}

/** Each answered ping's reply printed: the upper-cased text that came. */
function checkRepliesPrinted(run: PingerRun): CheckResult {
  const check = "replies printed";
  const answered = run.pings.filter((ping) => ping.answered);
  if (answered.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came that was answered" };
  }
  for (const ping of answered) {
    const said = run.said.get(ping.index);
    if (said?.kind === "reply" && said.replyOf === ping.index) continue;
    const sent = run.sent.get(ping.index);
    return {
      check,
      verdict: "FAIL",
      why: `ping ${ping.index} was answered ${quoted(ping.reply!)}; ` +
        saidOf(run, ping.index) +
        (said?.replyOf !== undefined && said.replyOf !== ping.index
          ? `, the reply to ping ${said.replyOf}`
          : "") +
        (sent && said?.replyOf === undefined
          ? `, and what it sent: ${quoted(sent)}`
          : ""),
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `the reply to each of the ${answered.length} answered pings`,
  };
}

/** Each answered ping's RTT printed, near the one the grader saw. */
function checkRttsPrinted(run: PingerRun): CheckResult {
  const check = "RTTs printed";
  const answered = run.pings.filter((ping) => ping.answered);
  if (answered.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came that was answered" };
  }
  const seen: string[] = [];
  for (const ping of answered) {
    const due = ping.repliedAt! - ping.at;
    const said = run.said.get(ping.index);
    const rtt = said?.kind === "reply" ? said.rtt : undefined;
    const ms = rtt && rttMs(rtt, due);
    if (ms?.near) {
      seen.push(`${ms.ms.toFixed(0)}`);
      continue;
    }
    return {
      check,
      verdict: "FAIL",
      why: `ping ${ping.index}'s reply was sent ${millis(due)} after it ` +
        `came; ` + (rtt === undefined
          ? `no RTT was printed for it: ${saidOf(run, ping.index)}`
          : `the RTT printed, ${quoted(rtt.text)}, is ${millis(ms!.ms)}`),
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `RTTs of ${seen.join(", ")} ms, each near the grader's (50 ms ` +
      `under to 250 ms over, or half)`,
  };
}

/** `Request timed out` for each ping with no reply within 1 s. */
function checkTimedOutLines(run: PingerRun): CheckResult {
  const check = "Request timed out";
  const lost = run.pings.filter((ping) => !ping.answered);
  if (lost.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came that had no reply" };
  }
  for (const ping of lost) {
    if (run.said.get(ping.index)?.kind === "timeout") continue;
    const what = ping.repliedAt === undefined
      ? "had no reply"
      : `had its reply only after ${seconds(ping.repliedAt - ping.at)}`;
    return {
      check,
      verdict: "FAIL",
      why: `ping ${ping.index} ${what}; due a line that says it timed ` +
        `out: ${saidOf(run, ping.index)}`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `for pings ${lost.map((ping) => ping.index).join(", ")}: ` +
      quoted(run.said.get(lost[0].index)!.lines[0]),
  };
}

/** The late reply (to ping 5) never taken for the ping after it. */
function checkLateReply(run: PingerRun): CheckResult {
  const check = "late reply";
  const late = run.pings[LATE_PING - 1];
  if (late?.repliedAt === undefined || run.waiting === undefined) {
    return {
      check,
      verdict: "SKIP",
      why: late === undefined
        ? `ping ${LATE_PING}, to be answered late, never came`
        : `the client ended before ping ${LATE_PING}'s reply was due`,
    };
  }
  const what = `the reply to ping ${LATE_PING} came ` +
    `${seconds(late.repliedAt - late.at)} after it` +
    (run.waiting === LATE_PING
      ? ""
      : ` (${
        seconds(late.repliedAt - run.pings[run.waiting - 1].at)
      } after ping ${run.waiting})`);
  for (const [index, said] of run.said) {
    if (index === LATE_PING || said.kind !== "reply") continue;
    if (
      said.replyOf === LATE_PING ||
      (index > LATE_PING && !run.pings[index - 1]?.answered)
    ) {
      return { check, verdict: "FAIL", why: `${what}; ${saidOf(run, index)}` };
    }
  }
  const waiting = run.pings[run.waiting - 1];
  const next = run.pings[run.waiting];
  if (
    !waiting.answered && next !== undefined &&
    next.at - late.repliedAt < 50 && next.at - waiting.at < WAIT_RANGE_MS[0]
  ) {
    return {
      check,
      verdict: "FAIL",
      why: `${what} with no reply of its own; ping ${next.index} came ` +
        `${millis(next.at - late.repliedAt)} after that late reply, ` +
        `${seconds(next.at - waiting.at)} after ping ${run.waiting}`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `${what}; it was not printed as another ping's reply` +
      (run.lateLines.length > 0 ? ` (${quoted(run.lateLines[0])})` : ""),
  };
}

/** Whether the client ended by itself once its pings were done. */
function checkPingerEnds(run: PingerRun): CheckResult {
  const check = "ends by itself";
  // After its 10th when it sent more: the last of a flood says little.
  const last = run.pings[Math.min(run.pings.length, PINGS) - 1];
  if (last === undefined) {
    return { check, verdict: "SKIP", why: "no ping came" };
  }
  const after = `${seconds(run.endedAt - last.at)} after its ${
    last.index === PINGS ? "10th" : "last"
  } ping`;
  if (!run.endedItself) {
    return {
      check,
      verdict: "FAIL",
      why: `it was still running ${after}; the grader ended it`,
    };
  }
  return run.code === 0
    ? { check, verdict: "PASS", why: `it ended ${after}, exit 0` }
    : { check, verdict: "FAIL", why: `${run.ending} ${after}` };
}

/** The statistics a Pinger printed at the end, those it printed. */
interface Statistics {
  min?: Rtt;
  avg?: Rtt;
  max?: Rtt;
  /** The loss rate, in percent. */
  loss?: number;
  lossLine?: string;
}

/** The names each of min, avg and max goes by. */
const STATISTIC_NAMES = {
  min: /^min(?:imum)?$/i,
  avg: /^(?:avg|average|mean)$/i,
  max: /^max(?:imum)?$/i,
};

/** Reads min, avg, max and the loss rate from the statistics' lines. */
function readStatistics(lines: string[], came: number): Statistics {
  const statistics: Statistics = {};
  for (const line of lines) {
    const unit = line.match(/\b(ms|msecs?|milliseconds?|secs?|seconds?)\b/i)
      ?.[1];
    const slashed = line.match(
      /([a-z]+(?:\/[a-z]+)+)[^\d\n]{0,12}?(\d[\d.]*(?:\/[\d.]+)+)\s*([a-z]+)?/i,
    );
    const names = slashed?.[1].split("/") ?? [];
    const values = slashed?.[2].split("/") ?? [];
    for (const [key, name] of Object.entries(STATISTIC_NAMES)) {
      const at = names.findIndex((word) => name.test(word));
      const word = new RegExp(
        `\\b${
          name.source.slice(1, -1)
        }\\b[^\\d\\n]{0,25}?${NUMBER}(?:\\s*${UNIT})?`,
        "i",
      );
      const found = at >= 0 && values[at] !== undefined
        ? [slashed![0], values[at], slashed![3]]
        : line.match(word);
      if (found && statistics[key as "min"] === undefined) {
        statistics[key as "min"] = rttOf(found[1], found[2] ?? unit, found[0]);
      }
    }
    if (/loss|lost/i.test(line) && statistics.loss === undefined) {
      statistics.loss = lossOf(line, came);
      if (statistics.loss !== undefined) statistics.lossLine = line;
    }
  }
  return statistics;
}

/** The loss rate a line prints, in percent: as a percentage, rate or count. */
function lossOf(line: string, came: number): number | undefined {
  const percent = line.match(new RegExp(`${NUMBER}\\s*%`));
  if (percent) return Number(percent[1]);
  const rate = line.match(new RegExp(`rate\\D{0,15}?${NUMBER}`, "i"));
  if (rate) {
    return Number(rate[1]) <= 1 ? Number(rate[1]) * 100 : Number(rate[1]);
  }
  const count = line.match(new RegExp(NUMBER));
  if (!count || came === 0) return undefined;
  return Number(count[1]) <= came ? Number(count[1]) * 100 / came : undefined;
}

/**
 * min/avg/max RTT, if printed: right for the RTTs it printed, and near the
 * grader's.
 */
function checkMinAvgMax(run: PingerRun): CheckResult {
  const check = "min/avg/max RTT";
  const answered = run.pings.filter((ping) => ping.answered);
  const printed = (["min", "avg", "max"] as const).filter((key) =>
    run.statistics[key] !== undefined
  );
  if (run.pings.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came" };
  }
  if (printed.length === 0) {
    return {
      check,
      verdict: "WARN",
      why: "no min, avg or max RTT printed at the end (optional)",
    };
  }
  if (answered.length === 0) {
    return { check, verdict: "SKIP", why: "no ping came that was answered" };
  }
  const grader = answered.map((ping) => ping.repliedAt! - ping.at);
  const own = answered.map((ping) => {
    const rtt = run.said.get(ping.index)?.rtt;
    return rtt && rttMs(rtt, ping.repliedAt! - ping.at).ms;
  });
  const complete = own.every((ms) => ms !== undefined);
  for (const key of printed) {
    const due = summarise(key, grader);
    const mine = complete ? summarise(key, own as number[]) : due;
    const { ms } = rttMs(run.statistics[key]!, mine);
    // Its own RTTs give it exactly, up to rounding; the grader's, roughly.
    const ownRight = !complete || Math.abs(ms - mine) <= Math.max(1, mine / 20);
    if (ownRight && isNear(ms, due)) continue;
    return {
      check,
      verdict: "FAIL",
      why: `${key} printed as ${quoted(run.statistics[key]!.text)}, ` +
        `${millis(ms)}; due ` + (ownRight
          ? `${millis(due)}, the grader's ${key} over ${answered.length} ` +
            `replies`
          : `${millis(mine)} from the RTTs it printed`),
    };
  }
  const missing = ["min", "avg", "max"].filter((key) =>
    !printed.includes(key as "min")
  );
  return {
    check,
    verdict: missing.length === 0 ? "PASS" : "WARN",
    why: `${printed.join(", ")} right for the ${answered.length} replies` +
      (missing.length > 0 ? `; no ${missing.join(" or ")} printed` : ""),
  };
}

/** The smallest, mean or largest of `values`. */
function summarise(key: "min" | "avg" | "max", values: number[]): number {
  if (key === "min") return Math.min(...values);
  if (key === "max") return Math.max(...values);
  return values.reduce((sum, value) => sum + value, 0) / values.length;
}

/** The loss rate, if printed: right for what happened. */
function checkLossRate(run: PingerRun): CheckResult {
  const check = "loss rate";
  const { loss, lossLine } = run.statistics;
  const came = run.pings.length;
  if (came === 0) return { check, verdict: "SKIP", why: "no ping came" };
  if (loss === undefined) {
    return {
      check,
      verdict: "WARN",
      why: "no loss rate printed at the end (optional)",
    };
  }
  const lost = run.pings.filter((ping) => !ping.answered).length;
  const due = lost * 100 / came;
  return Math.abs(loss - due) <= 1
    ? { check, verdict: "PASS", why: `${quoted(lossLine!)}` }
    : {
      check,
      verdict: "FAIL",
      why: `${quoted(lossLine!)} says ${loss}%; ${lost} of ${came} pings ` +
        `had no reply within 1 s: due ${Number(due.toFixed(1))}%`,
    };
}

/** Grades a UDP Heartbeat client: see DESIGN.md, "The grader". */
async function* gradeHeartbeat(
  options: GradeOptions,
): AsyncGenerator<CheckResult> {
  const run = await runClient(options, () => undefined, heartbeatDeadline);
  if (options.signal?.aborted) return;
  const beats = run.arrivals.map(readBeat);
  for (const check of HEARTBEAT_CHECKS) {
    if (options.signal?.aborted) return;
    yield check(beats, run);
  }
}

/** Heartbeats the grader waits for, and for how long at most. */
const HEARTBEATS = 6;
const HEARTBEAT_RUN_MS = 8_000;

/** When a Heartbeat client's run ends, on `performance.now()`'s clock. */
function heartbeatDeadline(server: LabServer, start: number): number {
  return server.arrivals.length >= HEARTBEATS ? 0 : start + HEARTBEAT_RUN_MS;
}

/** One heartbeat as it came: its SEQ and TIME, if it reads as such. */
interface Beat extends LabArrival {
  seq?: number;
  time?: string;
}

/**
 * SEQ is the first whole number in a heartbeat, after words ("Heartbeat",
 * "seq="); TIME is what follows, after a label of its own ("time=").
 */
function readBeat(arrival: LabArrival): Beat {
  const text = new TextDecoder().decode(arrival.bytes).trim();
  const parts = text.match(
    /^[^\d]*?(\d+)\s*[\s,;:|]\s*(?:"?[A-Za-z_]+"?\s*[=:]\s*)?(\S.*)$/s,
  );
  return {
    ...arrival,
    seq: parts ? Number(parts[1]) : undefined,
    time: parts?.[2],
  };
}

/** Each of a Heartbeat client's checks, in the order they are printed. */
const HEARTBEAT_CHECKS: ((beats: Beat[], run: ClientRun) => CheckResult)[] = [
  checkBeatsCame,
  checkBeatFormat,
  checkBeatSequence,
  checkBeatTime,
  checkBeatInterval,
];

/** Heartbeats came: at least 3 in the time the grader listens. */
function checkBeatsCame(beats: Beat[], run: ClientRun): CheckResult {
  const check = "heartbeats";
  const span = beats.length > 0 ? beats.at(-1)!.at - beats[0].at : 0;
  if (beats.length >= 3) {
    return {
      check,
      verdict: "PASS",
      why: `${beats.length} came in ${seconds(span)}`,
    };
  }
  return {
    check,
    verdict: "FAIL",
    why: `${beats.length} came before ${run.ending}; due one a second or ` +
      `so, ${HEARTBEATS} within ` +
      `${seconds(HEARTBEAT_RUN_MS)}`,
  };
}

/** Each heartbeat reads as `WORD SEQ TIME`. */
function checkBeatFormat(beats: Beat[]): CheckResult {
  const check = "Heartbeat SEQ TIME";
  if (beats.length === 0) return { check, verdict: "SKIP", why: "none came" };
  const unread = beats.find((beat) => beat.seq === undefined);
  if (unread) {
    return {
      check,
      verdict: "FAIL",
      why: `heartbeat ${unread.index} was ${shownBytes(unread.bytes)}: ` +
        `the grader cannot read a SEQ and a TIME in it; due ` +
        `"Heartbeat SEQ TIME"`,
    };
  }
  return {
    check,
    verdict: "PASS",
    why: `${shownBytes(beats[0].bytes)} and on`,
  };
}

/** SEQ rises by one, from 0 or 1. */
function checkBeatSequence(beats: Beat[]): CheckResult {
  const check = "SEQ by one";
  const read = beats.filter((beat) => beat.seq !== undefined);
  if (read.length < 2) {
    return { check, verdict: "SKIP", why: "fewer than 2 readable came" };
  }
  const seqs = read.map((beat) => beat.seq!);
  const first = seqs[0];
  const wrong = seqs.findIndex((seq, i) => i > 0 && seq !== seqs[i - 1] + 1);
  if (
    (first === 0 || first === 1) && wrong < 0 && read.length === beats.length
  ) {
    return { check, verdict: "PASS", why: `SEQ went ${listed(seqs)}` };
  }
  return {
    check,
    verdict: "FAIL",
    why:
      `SEQ went ${listed(seqs)}; due ${
        first === 0 ? "0, 1, 2" : "1, 2, 3"
      } and on by one` + (wrong > 0
        ? ` (${seqs[wrong]} after ${seqs[wrong - 1]})`
        : first > 1
        ? ` (the first was ${first})`
        : ""),
  };
}

/** TIME in each heartbeat is when it was sent, within a second. */
function checkBeatTime(beats: Beat[]): CheckResult {
  const check = "send time";
  const read = beats.filter((beat) => beat.time !== undefined);
  if (read.length === 0) {
    return { check, verdict: "SKIP", why: "no readable heartbeat came" };
  }
  let worst = 0;
  for (const beat of read) {
    const off = timeOff(beat.time!, beat.epochMs);
    if (off === undefined) {
      return {
        check,
        verdict: "WARN",
        why: `TIME "${beat.time}" in heartbeat ${beat.index} ` +
          `(${shownBytes(beat.bytes)}) is not a time the grader can read ` +
          `(seconds or ms since 1970, or a date)`,
      };
    }
    // A TIME in whole seconds may be up to a second behind.
    const slack = /^\d+$/.test(beat.time!.trim()) ||
        !/[.,]\d/.test(beat.time!)
      ? 1_000
      : 0;
    if (Math.abs(off) > 1_000 + slack) {
      return {
        check,
        verdict: "FAIL",
        why: `TIME "${beat.time}" in heartbeat ${beat.index} is ` +
          `${seconds(Math.abs(off))} ${off < 0 ? "behind" : "ahead of"} ` +
          `the grader's clock when it came; due within 1 s`,
      };
    }
    worst = Math.max(worst, Math.abs(off));
  }
  return {
    check,
    verdict: "PASS",
    why: `each within ${millis(worst)} of the grader's clock`,
  };
}

/** A steady interval: the gaps' spread small next to their mean. */
function checkBeatInterval(beats: Beat[]): CheckResult {
  const check = "steady interval";
  if (beats.length < 3) {
    return { check, verdict: "SKIP", why: "fewer than 3 heartbeats came" };
  }
  const gaps = beats.slice(1).map((beat, i) => beat.at - beats[i].at);
  const mean = gaps.reduce((sum, gap) => sum + gap, 0) / gaps.length;
  const spread = Math.sqrt(
    gaps.reduce((sum, gap) => sum + (gap - mean) ** 2, 0) / gaps.length,
  );
  const shown = `every ${seconds(mean)} on average, give or take ` +
    `${millis(spread)}`;
  return spread <= Math.max(50, mean / 5)
    ? { check, verdict: "PASS", why: shown }
    : {
      check,
      verdict: "FAIL",
      why: `${shown}; gaps of ${gaps.map(seconds).join(", ")}`,
    };
}

/**
 * How far `time` (seconds or ms since 1970, whole or not, or a date) is
 * from `epochMs`, in ms; undefined if it is not a time the grader reads.
 */
function timeOff(time: string, epochMs: number): number | undefined {
  // Quotes and brackets around it, as JSON or a tuple prints them.
  const text = time.trim().replace(/^["'([{]+|["')\]}]+$/g, "");
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(text)) {
    const value = Number(text);
    // Told apart by size: ns, us, ms or s since 1970.
    const scale = value >= 1e17
      ? 1e-6
      : value >= 1e14
      ? 1e-3
      : value >= 1e11
      ? 1
      : 1_000;
    ms = value * scale;
  } else {
    ms = Date.parse(text);
  }
  // A date further than a day off is a number read as a date by chance.
  return Number.isFinite(ms) && Math.abs(ms - epochMs) < 86_400_000
    ? ms - epochMs
    : undefined;
}

/** Sequence numbers as a list, the first dozen: "1, 2, ?, 4". */
function listed(numbers: (number | undefined)[]): string {
  const shown = numbers.slice(0, 12).map((seq) => seq ?? "?").join(", ");
  return numbers.length > 12 ? `${shown}, ... (${numbers.length})` : shown;
}

/** `ms` as milliseconds: "100.2 ms". */
function millis(ms: number): string {
  return `${ms.toFixed(1)} ms`;
}

/** A line as printed, quoted, cut if long. */
function quoted(line: string): string {
  return JSON.stringify(line.length > 100 ? `${line.slice(0, 100)}...` : line);
}

/** Bytes quoted, anything not printable ASCII escaped: "\x00", "\n". */
function shownBytes(bytes: Uint8Array, max = 80): string {
  let shown = "";
  for (const byte of bytes.subarray(0, max)) {
    shown += byte === 0x0a
      ? "\\n"
      : byte === 0x0d
      ? "\\r"
      : byte === 0x22 || byte === 0x5c
      ? `\\${String.fromCharCode(byte)}`
      : byte >= 0x20 && byte < 0x7f
      ? String.fromCharCode(byte)
      : `\\x${byte.toString(16).padStart(2, "0")}`;
  }
  return `"${shown}"` +
    (bytes.length > max
      ? ` (the first ${max} of ${bytesOf(bytes.length)})`
      : "");
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
  endProgramsOnSignal();
  Deno.exit(await main(Deno.args));
}
