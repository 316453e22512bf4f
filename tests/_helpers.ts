/**
 * Helpers shared by the test suites: run a server in-process, or the real
 * scripts as subprocesses and read their ready lines, and bound every wait.
 *
 * @module
 */
import {
  serveTcp,
  type TcpServerOptions,
  type TcpServerStats,
} from "../tcp_server.ts";
import {
  serveUdp,
  type UdpServerOptions,
  type UdpServerStats,
} from "../udp_server.ts";

/** The repository root, where the four scripts live. */
export const ROOT = decodeURIComponent(
  new URL("../", import.meta.url).pathname,
);

/** Flags every script runs with, as its shebang line does. */
export const RUN_FLAGS = ["run", "--allow-net", "--unstable-net"];

/**
 * The command line that runs one of the four scripts with the permissions
 * its shebang gives it: the UDP ones also need `--unstable-net`.
 */
export function script(name: string, ...args: string[]): string[] {
  const flags = name.startsWith("udp_") ? RUN_FLAGS : ["run", "--allow-net"];
  return [Deno.execPath(), ...flags, name, ...args];
}

/** Longest wait for anything a test waits for. */
export const WAIT_MS = 10_000;

/** Rejects if `promise` has not settled within `ms`. */
export async function withTimeout<T>(
  promise: Promise<T>,
  what: string,
  ms = WAIT_MS,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${ms} ms: ${what}`)),
      ms,
    );
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** The options and statistics of each in-process server, by kind. */
export interface InProcessServer {
  tcp: { options: TcpServerOptions; stats: TcpServerStats };
  udp: { options: UdpServerOptions; stats: UdpServerStats };
}

/**
 * Runs `fn` against an in-process server, {@linkcode serveTcp} or
 * {@linkcode serveUdp} as `kind` says: on a free port (0) of 127.0.0.1, its
 * log lines collected in `logs` (not printed), unless `options` says
 * otherwise. However `fn` ends, the server is then aborted and its
 * `finished` awaited (bounded); resolves with its statistics.
 *
 * @example
 * ```ts
 * const stats = await withServer("udp", { dropRate: 1 }, async (port) => {
 *   // talk to 127.0.0.1:port
 * });
 * ```
 */
export async function withServer<Kind extends keyof InProcessServer>(
  kind: Kind,
  options: InProcessServer[Kind]["options"],
  fn: (port: number, logs: string[]) => Promise<void>,
): Promise<InProcessServer[Kind]["stats"]> {
  const controller = new AbortController();
  const logs: string[] = [];
  const settings = {
    hostname: "127.0.0.1",
    port: 0,
    log: (line: string) => {
      logs.push(line);
    },
    ...options,
    signal: controller.signal,
  };
  const server = kind === "tcp"
    ? serveTcp(settings as TcpServerOptions)
    : serveUdp(settings as UdpServerOptions);
  const finished = () =>
    withTimeout(
      server.finished as Promise<InProcessServer[Kind]["stats"]>,
      `the ${kind.toUpperCase()} server to finish`,
    );
  try {
    await fn(server.addr.port, logs);
  } catch (error) {
    // Stopped all the same, but what went wrong in `fn` is the news.
    controller.abort();
    await finished().catch(() => {});
    throw error;
  }
  controller.abort();
  return await finished();
}

/** What a finished subprocess printed. */
export interface Output {
  code: number;
  signal: Deno.Signal | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run` on a script with arguments and optional standard input,
 * killed if it outlives `ms`.
 */
export async function runScript(
  script: string,
  args: string[],
  options: {
    stdin?: string | Uint8Array;
    ms?: number;
    flags?: string[];
    cwd?: string;
  } = {},
): Promise<Output> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [...(options.flags ?? RUN_FLAGS), script, ...args],
    cwd: options.cwd ?? ROOT,
    stdin: options.stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(options.ms ?? WAIT_MS),
  });
  const child = command.spawn();
  if (options.stdin !== undefined) {
    const writer = child.stdin.getWriter();
    const input = typeof options.stdin === "string"
      ? new TextEncoder().encode(options.stdin)
      : options.stdin;
    await writer.write(input).catch(() => {});
    await writer.close().catch(() => {});
  }
  const { code, signal, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return {
    code,
    signal,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** A server script running as a subprocess. */
export interface RunningServer {
  /** Its process id. */
  pid: number;
  /** The port from its ready line. */
  port: number;
  /** Its ready line. */
  readyLine: string;
  /** Sends `signal`, waits for the exit, and returns what it printed. */
  stop(signal?: Deno.Signal): Promise<Output>;
}

/**
 * Starts a server script (or any program printing the ready line), in `ROOT`
 * unless `options.cwd` says otherwise, and waits for
 * `The server is ready to receive on HOST:PORT`.
 */
export async function startServer(
  commandLine: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<RunningServer> {
  const [program, ...args] = commandLine;
  const child = new Deno.Command(program, {
    args,
    cwd: options.cwd ?? ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONUNBUFFERED: "1", PYTHONIOENCODING: "utf-8", ...options.env },
  }).spawn();
  const stderrText = new Response(child.stderr).text();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  async function readyLine(): Promise<string> {
    while (!buffered.includes("\n")) {
      const { value, done } = await lines.read();
      if (done) {
        throw new Error(`server exited before its ready line: ${buffered}`);
      }
      buffered += value;
    }
    return buffered.slice(0, buffered.indexOf("\n"));
  }
  let line: string;
  try {
    line = await withTimeout(readyLine(), "the server's ready line");
  } catch (error) {
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();
    throw new Error(`${(error as Error).message}\n${await stderrText}`);
  }
  const match = line.match(/^The server is ready to receive on (.+):(\d+)$/);
  if (!match) {
    child.kill("SIGKILL");
    await child.status;
    await lines.cancel();
    await stderrText;
    throw new Error(`unexpected ready line: ${line}`);
  }
  return {
    pid: child.pid,
    port: Number(match[2]),
    readyLine: line,
    async stop(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // It has exited already (a server a test made crash).
      }
      let status: Deno.CommandStatus;
      try {
        status = await withTimeout(child.status, "the server's exit");
      } catch (error) {
        child.kill("SIGKILL");
        await child.status;
        throw error;
      }
      let rest = buffered;
      while (true) {
        const { value, done } = await lines.read();
        if (done) break;
        rest += value;
      }
      return {
        code: status.code,
        signal: status.signal,
        stdout: rest,
        stderr: await stderrText,
      };
    },
  };
}

/** Whether a program can be run here (for tests that need python3 or nc). */
export async function hasProgram(name: string): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("sh", {
      args: ["-c", `command -v ${name}`],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

/** Resident memory of a process in KiB, from `ps`. */
export async function residentKiB(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim());
}

/** `true`, or prints why a test is skipped and gives `false`. */
export function canRun(available: boolean, reason: string): boolean {
  if (!available) console.warn(`skipping: ${reason}`);
  return available;
}

/** Opens a UDP socket on loopback for a test to talk to a server with. */
export function udpSocket(hostname = "127.0.0.1"): Deno.DatagramConn {
  return Deno.listenDatagram({ transport: "udp", hostname, port: 0 });
}

/** Sends one datagram and waits (bounded) for the next one to arrive. */
export async function udpRoundTrip(
  socket: Deno.DatagramConn,
  message: Uint8Array,
  port: number,
  hostname = "127.0.0.1",
): Promise<Uint8Array> {
  await socket.send(message, { transport: "udp", hostname, port });
  const [reply] = await withTimeout(socket.receive(), "a UDP reply");
  return reply;
}

/** UTF-8 bytes of a string. */
export function bytes(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

/** Text of UTF-8 bytes. */
export function text(data: Uint8Array): string {
  return new TextDecoder().decode(data);
}

/** Reads a connection to its end (bounded). */
export async function readAll(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(64 * 1024);
  await withTimeout(
    (async () => {
      while (true) {
        const count = await conn.read(buffer);
        if (count === null) break;
        chunks.push(buffer.slice(0, count));
      }
    })(),
    "the end of a TCP stream",
  );
  const all = new Uint8Array(chunks.reduce((sum, c) => sum + c.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    all.set(chunk, offset);
    offset += chunk.length;
  }
  return all;
}

/** Reads from a connection until `count` bytes have come (bounded). */
export async function readExactly(
  conn: Deno.Conn,
  count: number,
): Promise<Uint8Array> {
  const data = new Uint8Array(count);
  let filled = 0;
  await withTimeout(
    (async () => {
      while (filled < count) {
        const n = await conn.read(data.subarray(filled));
        if (n === null) throw new Error(`stream ended after ${filled} bytes`);
        filled += n;
      }
    })(),
    `${count} bytes from a TCP stream`,
  );
  return data;
}

/** Sends `message`, half-closes, and reads the reply to the end. */
export async function tcpExchange(
  port: number,
  message: Uint8Array,
  hostname = "127.0.0.1",
): Promise<Uint8Array> {
  const conn = await withTimeout(
    Deno.connect({ hostname, port }),
    "a TCP connection",
  );
  try {
    const writing = (async () => {
      for (let sent = 0; sent < message.length;) {
        sent += await conn.write(message.subarray(sent));
      }
      await conn.closeWrite();
    })();
    const reply = await readAll(conn);
    await writing;
    return reply;
  } finally {
    conn.close();
  }
}

/** Sends from a new socket until a reply comes: 20 tries, 0.5 s apart. */
export async function probeUntilAnswered(
  message: Uint8Array,
  port: number,
): Promise<Uint8Array> {
  const socket = udpSocket();
  const receiving = socket.receive();
  try {
    for (let attempt = 0; attempt < 20; attempt++) {
      await socket.send(message, {
        transport: "udp",
        hostname: "127.0.0.1",
        port,
      });
      let timer;
      const reply = await Promise.race([
        receiving,
        new Promise<undefined>((r) =>
          timer = setTimeout(() => r(undefined), 500)
        ),
      ]);
      clearTimeout(timer);
      if (reply) return reply[0];
    }
    throw new Error("no reply after 20 tries");
  } finally {
    socket.close();
    await receiving.catch(() => {});
  }
}

/**
 * What a program printed on a pseudo-terminal, as lines: its own output,
 * without the warnings Deno itself may print there (a busy cache, say).
 */
export function onTerminal(raw: Uint8Array): string {
  const escape = String.fromCharCode(0x1b); // colours: ESC [ ... m
  return text(raw).replaceAll("\r\n", "\n").split("\n").filter((line) =>
    !line.replaceAll(new RegExp(`${escape}\\[[\\d;]*m`, "g"), "")
      .startsWith("Warning")
  ).join("\n");
}

/** Resolves once a line of `logs` holds `part` (bounded). */
export async function untilLogged(logs: string[], part: string) {
  await withTimeout(
    (async () => {
      while (!logs.some((line) => line.includes(part))) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })(),
    `a log line with "${part}"`,
  );
}

/**
 * A TCP server in this process, on a free port of 127.0.0.1: `serve` runs
 * for each connection, which is closed after it. However `fn` ends, the
 * listener and every connection are closed and awaited.
 */
export async function withTcpHandler(
  serve: (conn: Deno.TcpConn) => Promise<void>,
  fn: (port: number) => Promise<void>,
) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.TcpConn>();
  const serving: Promise<void>[] = [];
  const accepting = (async () => {
    for await (const conn of listener) {
      connections.add(conn);
      serving.push((async () => {
        try {
          await serve(conn);
        } catch { /* closed by the grader or the test */ }
        connections.delete(conn);
        try {
          conn.close();
        } catch { /* closed */ }
      })());
    }
  })();
  try {
    await fn(listener.addr.port);
  } finally {
    listener.close();
    await accepting.catch(() => {});
    for (const conn of connections) conn.close();
    await Promise.all(serving);
  }
}

/**
 * Reads `conn` line by line (a line ends at `\n`), calling `answer` with
 * each line's bytes, its newline taken off; ends at the client's close.
 */
export async function eachLine(
  conn: Deno.TcpConn,
  answer: (line: Uint8Array) => Promise<void>,
) {
  let pending = new Uint8Array(0);
  const buffer = new Uint8Array(65536);
  while (true) {
    const count = await conn.read(buffer);
    if (count === null) return;
    pending = new Uint8Array([...pending, ...buffer.subarray(0, count)]);
    for (let at = pending.indexOf(0x0a); at >= 0; at = pending.indexOf(0x0a)) {
      const line = pending.slice(0, at);
      pending = pending.slice(at + 1);
      await answer(line);
    }
  }
}

/**
 * A UDP server in this process, on a free port of 127.0.0.1: `answer` is
 * called with each datagram and its sender, and may send with `socket`.
 * However `fn` ends, the socket is closed and the loop awaited.
 */
export async function withUdpHandler(
  answer: (
    socket: Deno.DatagramConn,
    data: Uint8Array,
    from: Deno.NetAddr,
  ) => Promise<void>,
  fn: (port: number) => Promise<void>,
) {
  const socket = udpSocket();
  const serving = (async () => {
    try {
      while (true) {
        const [data, from] = await socket.receive();
        await answer(socket, data, from as Deno.NetAddr);
      }
    } catch { /* closed by the test */ }
  })();
  try {
    await fn((socket.addr as Deno.NetAddr).port);
  } finally {
    socket.close();
    await serving;
  }
}

/**
 * Why a command cannot be run here in namespaces of its own with system
 * files of the test's (see {@linkcode withSystemFiles}), or `undefined` if it
 * can: it needs Linux, `unshare` (util-linux), the right to bind-mount in a
 * private mount namespace (root, or a user namespace), and, with `network`,
 * a network namespace too and `ip` (iproute2) to bring its loopback up.
 */
export async function namespacesUnavailable(
  { network = false } = {},
): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "mount namespaces need Linux";
  if (!(await hasProgram("unshare"))) return "needs unshare (util-linux)";
  if (network && !(await hasProgram("ip"))) return "needs ip (iproute2)";
  if (await unshareFlags(network) === undefined) {
    return `this machine does not allow unshare ${
      network ? "-mn" : "-m"
    } and mount --bind (root, or unprivileged user namespaces, are needed)`;
  }
  return undefined;
}

/**
 * Runs `fn` with `inNamespace`, which turns a command line into one that
 * runs it in a mount namespace of its own (`unshare -m`, or `-rm` where only
 * a user namespace is allowed) where each of `files` (a path such as
 * /etc/hosts, and the text to put there) is bind-mounted over the system's;
 * with `network`, in a network namespace of its own too, with loopback up
 * and nothing else. Nothing outside sees the files; they are removed when
 * `fn` ends. Without `network` the network is the machine's, so a program
 * run this way and one run outside talk as usual. Check
 * {@linkcode namespacesUnavailable} first: here it throws.
 *
 * @example
 * ```ts
 * await withSystemFiles({ "/etc/hosts": "::1 localhost\n" }, (inNamespace) =>
 *   startServer(inNamespace(script("udp_server.ts", "-p", "0"))));
 * ```
 */
export async function withSystemFiles<T>(
  files: Record<string, string>,
  fn: (inNamespace: (commandLine: string[]) => string[]) => Promise<T>,
  { network = false } = {},
): Promise<T> {
  const flags = await unshareFlags(network);
  if (flags === undefined) {
    throw new Error(await namespacesUnavailable({ network }));
  }
  const dir = await Deno.makeTempDir({ prefix: "system_files_" });
  try {
    const mounts: string[] = [];
    for (const [path, content] of Object.entries(files)) {
      const copy = `${dir}/${path.replaceAll("/", "_")}`;
      await Deno.writeTextFile(copy, content);
      mounts.push(`mount --bind '${copy}' '${path}'`);
    }
    if (network) mounts.push("ip link set lo up");
    const setUp = [...mounts, 'exec "$@"'].join(" && ");
    return await fn((commandLine) => [
      "unshare",
      ...flags,
      ...["sh", "-c", setUp, "sh", ...commandLine],
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const unshareProbes = new Map<boolean, Promise<string[] | undefined>>();

/**
 * The `unshare` flags that allow a bind mount over /etc/hosts here (`-m` as
 * root, else `-rm`; with `n` added for a network namespace, whose loopback
 * must come up), tried once each way; `undefined` if neither does.
 */
function unshareFlags(network: boolean): Promise<string[] | undefined> {
  const probe = unshareProbes.get(network) ?? (async () => {
    const n = network ? "n" : "";
    const test = "mount --bind /etc/hosts /etc/hosts" +
      (network ? " && ip link set lo up" : "");
    for (const flags of [[`-m${n}`], [`-rm${n}`]]) {
      const tried = await new Deno.Command("unshare", {
        args: [...flags, "sh", "-c", test],
        stdout: "null",
        stderr: "null",
        signal: AbortSignal.timeout(WAIT_MS),
      }).output().catch(() => undefined);
      if (tried?.success) return flags;
    }
    return undefined;
  })();
  unshareProbes.set(network, probe);
  return probe;
}
