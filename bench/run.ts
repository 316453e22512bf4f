/**
 * `deno task bench`: measures our servers against the textbook's Python
 * programs, Node.js and a C epoll server, on loopback, and writes
 * `bench/results.svg` and the end of `bench/RESULTS.md` (below its marker
 * line: the analyses above it are kept).
 *
 * The load comes from `bench/loadgen.c` (built here with the system's C
 * compiler), which checks every reply. Where `taskset` exists the server
 * runs on core 0 and the load generator on core 1; the load generator's own
 * CPU time is reported beside every figure, so that its limit is never
 * mistaken for the server's.
 *
 *   deno task bench [--seconds 5] [--stream-mib 256] [--idle 5000]
 *                   [--only ours] [--servers-from REV]
 *                   [--modes once,pingpong,stream,udp,idle,fairness,uppercase]
 *
 * `fairness`: one client streams ASCII, Greek or invalid UTF-8 at full
 * speed (or 300 clients stream random bytes) while another opens a
 * connection every 20 ms for one short exchange; reports the streams' rate
 * and the probes' latency. `bench/ab.ts` compares two revisions.
 * `uppercase`: MiB/s of upper-casing each of those payloads, over one TCP
 * connection and in UDP datagrams, every reply checked.
 *
 * @module
 */
import { parseArgs } from "node:util";

const root = new URL("../", import.meta.url).pathname;
const build = `${root}bench/.build`;

/** How a server upper-cases, as loadgen checks it (see bench/loadgen.c). */
type Rule = "design" | "ascii" | "replace";

interface Peer {
  name: string;
  command(mode: "tcp" | "udp"): string[];
  available: boolean;
  /** What its replies are checked against in the uppercase mode; none: skipped. */
  rule?: Rule;
}

interface LoadResult {
  mode: string;
  ops: number;
  seconds: number;
  rate: number;
  errors: number;
  p50_us: number;
  p99_us: number;
  served: number;
  clients: number;
  cpu_s: number;
}

interface Row {
  peer: string;
  result?: LoadResult;
  serverCpu?: number;
  note?: string;
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    "stream-mib": { type: "string", default: "256" },
    idle: { type: "string", default: "5000" },
    clients: { type: "string", default: "64" },
    // For quick comparisons while tuning: --only ours --modes udp,idle
    only: { type: "string" },
    // Measure our servers as of a git revision: --servers-from HEAD
    "servers-from": { type: "string" },
    modes: {
      type: "string",
      default: "once,pingpong,stream,udp,idle,fairness,uppercase",
    },
  },
});
const seconds = Number(values.seconds);
const streamMib = Number(values["stream-mib"]);
const idleCount = Number(values.idle);
const clients = Number(values.clients);
const chosenModes = values.modes.split(",");

async function has(program: string): Promise<boolean> {
  const { success } = await new Deno.Command("sh", {
    args: ["-c", `command -v ${program}`],
    stdout: "null",
  }).output();
  return success;
}

async function sh(script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`failed: ${script}`);
  return new TextDecoder().decode(out.stdout);
}

// Build the load generator and the C reference server.
if (!(await has("cc"))) {
  console.error("bench: needs a C compiler (cc) for bench/loadgen.c");
  Deno.exit(1);
}
await sh(
  `mkdir -p ${build} && cc -O2 -o ${build}/loadgen ${root}bench/loadgen.c && ` +
    `cc -O2 -o ${build}/c_server ${root}bench/c_server.c`,
);
const pin = await has("taskset");

// Our servers are copied before anything runs, so that every measurement
// uses the same code even if the files are edited meanwhile; --servers-from
// takes them from a git revision instead of the working tree.
const serverDir = `${build}/servers`;
const serverFiles = ["tcp_server.ts", "udp_server.ts"];
const serversFrom = values["servers-from"];

/** git's standard output, trimmed; "" when git fails. */
async function git(...args: string[]): Promise<string> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-C", root, ...args],
      stdout: "piped",
      stderr: "null",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : "";
  } catch {
    return "";
  }
}

await Deno.mkdir(serverDir, { recursive: true });
for (const file of serverFiles) {
  if (serversFrom === undefined) {
    await Deno.copyFile(`${root}${file}`, `${serverDir}/${file}`);
    continue;
  }
  const text = await git("show", `${serversFrom}:${file}`);
  if (text === "") {
    console.error(`bench: no ${file} at ${serversFrom}`);
    Deno.exit(1);
  }
  await Deno.writeTextFile(`${serverDir}/${file}`, text + "\n");
}

/** Where the measured servers come from, for RESULTS.md. */
async function serverVersion(): Promise<string> {
  const commit = await git(
    "rev-parse",
    "--short",
    `${serversFrom ?? "HEAD"}^{commit}`,
  );
  if (commit === "") return "";
  if (serversFrom !== undefined) {
    return ` Servers from ${serversFrom} (commit ${commit}).`;
  }
  const changed: string[] = [];
  for (const file of serverFiles) {
    const measured = await git("hash-object", `${serverDir}/${file}`);
    if (measured !== await git("rev-parse", `HEAD:${file}`)) {
      changed.push(`${file} (blob ${measured.slice(0, 7)})`);
    }
  }
  return ` Servers from commit ${commit}${
    changed.length > 0
      ? `, with ${changed.join(" and ")} as in the working tree`
      : ""
  }.`;
}
const version = await serverVersion();

const allPeers: Peer[] = [
  {
    name: "ours (Deno)",
    available: true,
    rule: "design",
    command: (mode) =>
      mode === "tcp"
        ? [
          Deno.execPath(),
          "run",
          "--allow-net",
          `${serverDir}/tcp_server.ts`,
          "--host",
          "127.0.0.1",
          "-p",
          "0",
        ]
        : [
          Deno.execPath(),
          ...["run", "--allow-net", "--unstable-net"],
          `${serverDir}/udp_server.ts`,
          ...["--host", "127.0.0.1", "-p", "0"],
        ],
  },
  {
    name: "textbook Python",
    available: await has("python3"),
    command: (mode) => ["python3", `tests/peers/textbook_${mode}_server.py`],
  },
  {
    name: "Node.js",
    available: await has("node"),
    rule: "replace",
    command: (mode) => ["node", "bench/node_server.mjs", mode],
  },
  {
    name: "C epoll",
    available: true,
    rule: "ascii",
    command: (mode) => [`${build}/c_server`, mode],
  },
];

const peers = allPeers.filter((peer) =>
  values.only === undefined ||
  peer.name.toLowerCase().startsWith(values.only.toLowerCase())
);

interface Server {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startServer(command: string[]): Promise<Server> {
  const args = pin ? ["-c", "0", ...command] : command.slice(1);
  const child = new Deno.Command(pin ? "taskset" : command[0], {
    args,
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`${command.join(" ")} did not start`);
    text += value;
  }
  const port = Number(text.match(/:(\d+)\s*$/m)?.[1]);
  return {
    pid: child.pid,
    port,
    async stop() {
      child.kill("SIGKILL");
      await child.status;
      await reader.cancel();
    },
  };
}

/** CPU seconds a process has used, from /proc. */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await sh(`cat /proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function rssKiB(pid: number): Promise<number> {
  return Number((await sh(`ps -o rss= -p ${pid}`)).trim());
}

async function load<T = LoadResult>(args: string[]): Promise<T> {
  const command = pin
    ? ["taskset", "-c", "1", `${build}/loadgen`, ...args]
    : [`${build}/loadgen`, ...args];
  const out = await new Deno.Command(command[0], {
    args: command.slice(1),
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(120_000),
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (!out.success || text.trim() === "") {
    throw new Error(`loadgen ${args.join(" ")} failed`);
  }
  return JSON.parse(text);
}

/** Starts a fresh server, runs loadgen against it, and stops the server. */
async function withServer<T>(
  peer: Peer,
  transport: "tcp" | "udp",
  args: (port: number) => string[],
): Promise<{ result: T; serverCpu: number }> {
  const server = await startServer(peer.command(transport));
  try {
    const cpuBefore = await cpuSeconds(server.pid);
    const result = await load<T>(args(server.port));
    const serverCpu = (await cpuSeconds(server.pid)) - cpuBefore;
    return { result, serverCpu };
  } finally {
    await server.stop();
  }
}

async function measure(
  peer: Peer,
  transport: "tcp" | "udp",
  args: (port: number) => string[],
): Promise<Row> {
  if (!peer.available) return { peer: peer.name, note: "not installed" };
  return { peer: peer.name, ...(await withServer(peer, transport, args)) };
}

async function measureIdle(peer: Peer): Promise<Row> {
  if (!peer.available || peer.name === "textbook Python") {
    return { peer: peer.name, note: "n/a" };
  }
  const server = await startServer(peer.command("tcp"));
  try {
    const before = await rssKiB(server.pid);
    const generator = new Deno.Command(`${build}/loadgen`, {
      args: ["idle", "127.0.0.1", String(server.port), String(idleCount)],
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const reader = generator.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    const { value } = await reader.read();
    const opened = JSON.parse(value ?? "{}").open as number;
    // Give the server a moment to accept the backlog before reading RSS.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const after = await rssKiB(server.pid);
    await generator.stdin.close();
    await generator.status;
    await reader.cancel();
    return {
      peer: peer.name,
      note:
        `${
          ((after - before) / opened).toFixed(1)
        } KiB per connection (${opened} open, ` +
        `${(before / 1024).toFixed(0)} -> ${(after / 1024).toFixed(0)} MiB)`,
    };
  } finally {
    await server.stop();
  }
}

interface Mode {
  key: string;
  title: string;
  unit: string;
  transport: "tcp" | "udp";
  args: (port: number) => string[];
  skip: string[];
}

const modes: Mode[] = [
  {
    key: "once",
    title: `TCP, one sentence per connection, ${clients} clients`,
    unit: "tx/s",
    transport: "tcp",
    args: (
      port: number,
    ) => ["once", "127.0.0.1", String(port), String(clients), String(seconds)],
    skip: [],
  },
  {
    key: "pingpong",
    title: `TCP, persistent line ping-pong, ${clients} clients`,
    unit: "round trips/s",
    transport: "tcp",
    args: (
      port: number,
    ) => [
      "pingpong",
      "127.0.0.1",
      String(port),
      String(clients),
      String(seconds),
    ],
    skip: ["textbook Python"],
  },
  {
    key: "stream",
    title: `TCP stream, ${streamMib} MiB echoed`,
    unit: "MiB/s",
    transport: "tcp",
    args: (
      port: number,
    ) => ["stream", "127.0.0.1", String(port), String(streamMib)],
    skip: ["textbook Python"],
  },
  {
    key: "udp",
    title: `UDP, ${clients} outstanding`,
    unit: "req/s",
    transport: "udp",
    args: (
      port: number,
    ) => ["udp", "127.0.0.1", String(port), String(clients), String(seconds)],
    skip: [],
  },
];

const sections: { title: string; unit: string; rows: Row[] }[] = [];
for (const mode of modes.filter((m) => chosenModes.includes(m.key))) {
  const rows: Row[] = [];
  for (const peer of peers) {
    if (mode.skip.includes(peer.name)) {
      rows.push({ peer: peer.name, note: "n/a (reads once per connection)" });
      continue;
    }
    console.error(`bench: ${mode.title}: ${peer.name}`);
    rows.push(await measure(peer, mode.transport, mode.args));
  }
  sections.push({ title: mode.title, unit: mode.unit, rows });
}
const idleRows: Row[] = [];
for (const peer of chosenModes.includes("idle") ? peers : []) {
  console.error(`bench: ${idleCount} idle connections: ${peer.name}`);
  idleRows.push(await measureIdle(peer));
}

// fairness and uppercase: the same three payloads for each.
type PayloadKind = "ascii" | "greek" | "invalid";
const payloads: { key: PayloadKind; label: string }[] = [
  { key: "ascii", label: "ASCII" },
  { key: "greek", label: "Greek" },
  { key: "invalid", label: "invalid UTF-8 (ff 61)" },
];
// The fairness mode also runs 300 streams of random bytes at once.
const fairnessPayloads = [
  ...payloads.map((payload) => ({ ...payload, streams: 1 })),
  { key: "random", label: "random bytes, 300 streams", streams: 300 },
];
const ruleLabels: Record<Rule, string> = {
  design: "Unicode, invalid bytes kept (DESIGN.md)",
  replace: "Unicode, invalid bytes as U+FFFD (toString, toUpperCase)",
  ascii: "ASCII a-z only",
};
// Datagrams outstanding per size: enough to keep the server busy, few enough
// that a burst fits the server's default receive buffer (212,992 bytes).
const udpSizes = [{ size: 1400, outstanding: 64 }, {
  size: 32000,
  outstanding: 4,
}];

interface FairnessResult {
  bulk_mib_s: number;
  probes: number;
  unanswered: number;
  failed: number;
  p50_us: number;
  p99_us: number;
  max_us: number;
  errors: number;
  cpu_s: number;
}

interface UppercaseResult {
  in_mib_s: number;
  out_mib_s: number;
  units: number;
  bad_units: number;
  first_bytes: string;
  errors: number;
  cpu_s: number;
}

interface UdpcaseResult {
  size: number;
  reply_size: number;
  rate: number;
  in_mib_s: number;
  errors: number;
  lost: number;
  first_bytes: string;
  p50_us: number;
  p99_us: number;
  cpu_s: number;
}

/** A markdown table row for a peer that was not measured. */
function skipped(peer: Peer, reason: string, columns: number): string {
  return `| ${peer.name} | ${reason} |${" |".repeat(columns - 2)}`;
}

/** Runs one loadgen measurement; a failure becomes a row note. */
async function attempt<T>(
  peer: Peer,
  transport: "tcp" | "udp",
  args: (port: number) => string[],
): Promise<{ result: T; serverCpu: number } | string> {
  try {
    return await withServer<T>(peer, transport, args);
  } catch (error) {
    return `failed: ${(error as Error).message}`;
  }
}

const ms = (us: number) => (us / 1000).toFixed(1);
const extraSections: string[][] = [];

if (chosenModes.includes("fairness")) {
  const columns = 9;
  const table = [
    `## TCP fairness: clients stream, another opens a connection every 20 ms, ${seconds} s`,
    "",
    "One client (or 300) streams the payload over one connection as fast as the server takes it,",
    "reading every reply as it comes. Meanwhile a probe starts every 20 ms, whether or",
    "not earlier ones were answered: a new connection, `probe\\n`, read until `PROBE\\n`,",
    "close. A probe without the whole answer within 2 s is unanswered and counts as",
    "2000 ms. Bulk MiB/s: reply bytes the streaming client received per second. Both",
    "clients are one loadgen process. DESIGN.md asks for every probe answered within",
    "milliseconds whatever the stream carries.",
    "",
    "| server | payload | bulk MiB/s | probe p50 ms | p99 ms | max ms | unanswered | server CPU s | loadgen CPU s |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const peer of peers) {
    if (!peer.available) {
      table.push(skipped(peer, "not installed", columns));
      continue;
    }
    if (peer.rule === undefined) {
      table.push(
        skipped(
          peer,
          "skipped (serves one connection at a time: no probe is answered while the stream is open)",
          columns,
        ),
      );
      continue;
    }
    for (const payload of fairnessPayloads) {
      console.error(`bench: fairness, ${payload.key}: ${peer.name}`);
      const outcome = await attempt<FairnessResult>(
        peer,
        "tcp",
        (
          port,
        ) => [
          "fairness",
          "127.0.0.1",
          String(port),
          payload.key,
          String(seconds),
          String(payload.streams),
        ],
      );
      if (typeof outcome === "string") {
        table.push(
          `| ${peer.name} | ${payload.label} | ${outcome} |${
            " |".repeat(columns - 3)
          }`,
        );
        continue;
      }
      const r = outcome.result;
      const broken = r.failed > 0
        ? ` (${r.failed} refused, reset or wrong)`
        : "";
      table.push(
        `| ${peer.name} | ${payload.label} | ${r.bulk_mib_s.toFixed(1)} | ${
          ms(r.p50_us)
        } | ` +
          `${ms(r.p99_us)} | ${
            ms(r.max_us)
          } | ${r.unanswered} of ${r.probes}${broken} | ` +
          `${outcome.serverCpu.toFixed(2)} | ${r.cpu_s.toFixed(2)} |`,
      );
    }
  }
  extraSections.push(table);
}

if (chosenModes.includes("uppercase")) {
  const tcpColumns = 9;
  const tcp = [
    `## Upper-casing throughput, TCP, one connection, ${seconds} s`,
    "",
    "One connection streams the payload as fast as the server takes it and reads the",
    "replies. MiB/s upper-cased: request bytes whose whole reply came back, per second;",
    "reply MiB/s is larger for Greek (U+0390 upper-cases to three code points,",
    "U+0399 U+0308 U+0301) and for U+FFFD replacements. Each server's replies are",
    "checked against its own rule, unit by unit (a line; for invalid UTF-8 one `ff 61`",
    "pair): a Node.js U+FFFD is its rule, not an error, while a character Node splits",
    "between two reads and replaces is. The C server upper-cases ASCII only.",
    "",
    "| server | payload | MiB/s upper-cased | reply MiB/s | reply begins | checked against | units wrong | server CPU s | loadgen CPU s |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  const udpColumns = 11;
  const udp = [
    `## Upper-casing throughput, UDP, ${seconds} s`,
    "",
    "Datagrams of a 17-byte numbered header and whole payload units, each reply checked",
    "whole against the server's rule; " +
    udpSizes.map((u) => `${u.outstanding} outstanding of ${u.size} bytes`)
      .join(", ") +
    ".",
    "The larger size stays well under 65,507 so that every reply fits one datagram",
    "(Greek replies are 24% longer, Node's invalid-byte replies twice as long). A",
    "datagram without a reply for 1 s is given up and sent anew. MiB/s counts",
    "request bytes.",
    "",
    "| server | payload | bytes (reply) | replies/s | MiB/s | reply begins | checked against | wrong replies | given up | server CPU s | loadgen CPU s |",
    "|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const peer of peers) {
    if (!peer.available || peer.rule === undefined) {
      const reason = peer.available ? "skipped" : "not installed";
      tcp.push(skipped(peer, reason, tcpColumns));
      udp.push(skipped(peer, reason, udpColumns));
      continue;
    }
    const rule = peer.rule;
    for (const payload of payloads) {
      console.error(`bench: uppercase TCP, ${payload.key}: ${peer.name}`);
      const outcome = await attempt<UppercaseResult>(
        peer,
        "tcp",
        (
          port,
        ) => [
          "uppercase",
          "127.0.0.1",
          String(port),
          payload.key,
          rule,
          String(seconds),
        ],
      );
      if (typeof outcome === "string") {
        tcp.push(
          `| ${peer.name} | ${payload.label} | ${outcome} |${
            " |".repeat(tcpColumns - 3)
          }`,
        );
        continue;
      }
      const r = outcome.result;
      tcp.push(
        `| ${peer.name} | ${payload.label} | ${r.in_mib_s.toFixed(1)} | ${
          r.out_mib_s.toFixed(1)
        } | ` +
          `\`${r.first_bytes}\` | ${
            ruleLabels[rule]
          } | ${r.bad_units} of ${r.units}` +
          `${
            r.errors > (r.bad_units > 0 ? 1 : 0) ? " (connection closed)" : ""
          } | ` +
          `${outcome.serverCpu.toFixed(2)} | ${r.cpu_s.toFixed(2)} |`,
      );
    }
    for (const payload of payloads) {
      for (const { size, outstanding } of udpSizes) {
        console.error(
          `bench: uppercase UDP, ${payload.key}, ${size} bytes: ${peer.name}`,
        );
        const outcome = await attempt<UdpcaseResult>(
          peer,
          "udp",
          (port) => [
            "udpcase",
            "127.0.0.1",
            String(port),
            payload.key,
            rule,
            String(size),
            String(outstanding),
            String(seconds),
          ],
        );
        if (typeof outcome === "string") {
          udp.push(
            `| ${peer.name} | ${payload.label} | ${outcome} |${
              " |".repeat(udpColumns - 3)
            }`,
          );
          continue;
        }
        const r = outcome.result;
        udp.push(
          `| ${peer.name} | ${payload.label} | ${r.size} (${r.reply_size}) | ${
            r.rate.toFixed(0)
          } | ` +
            `${r.in_mib_s.toFixed(1)} | \`${r.first_bytes}\` | ${
              ruleLabels[rule]
            } | ${r.errors} | ` +
            `${r.lost} | ${outcome.serverCpu.toFixed(2)} | ${
              r.cpu_s.toFixed(2)
            } |`,
        );
      }
    }
  }
  extraSections.push(tcp, udp);
}

// RESULTS.md

/** The line in RESULTS.md above which nothing is rewritten. */
const KEPT_ABOVE =
  "<!-- deno task bench rewrites what follows and keeps what is above -->";
const cpuModel =
  (await sh("grep -m1 'model name' /proc/cpuinfo || true")).split(":")[1]
    ?.trim() ?? "unknown";
const lines = [
  "## The last full run of `deno task bench`",
  "",
  `Written by \`deno task bench\` on ${
    new Date().toISOString().slice(0, 10)
  }: ${cpuModel}, ` +
  `${navigator.hardwareConcurrency} cores, Deno ${Deno.version.deno}` +
  `${
    pin
      ? ", server on core 0 and load generator on core 1"
      : ", not pinned (no taskset)"
  }, ` +
  `${seconds} s per run.${version} Ratios are what to read: absolute figures drift from run to run.`,
  "",
  "Each row: the load generator's rate, errors (replies that did not match), latency",
  "percentiles, clients served, and the CPU seconds of the server and of the load",
  "generator during the run. A load generator near 100% of its core is the limit.",
  "",
];
for (const section of sections) {
  const c = section.rows.find((r) => r.peer === "C epoll")?.result?.rate;
  lines.push(`## ${section.title}`, "");
  lines.push(
    `| server | ${section.unit} | vs C | errors | p50 ms | p99 ms | clients served | server CPU s | loadgen CPU s |`,
    "|---|---|---|---|---|---|---|---|---|",
  );
  for (const row of section.rows) {
    const r = row.result;
    if (!r) {
      lines.push(`| ${row.peer} | ${row.note} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${row.peer} | ${r.rate.toFixed(0)} | ${
        c ? (r.rate / c).toFixed(2) : ""
      } | ${r.errors} | ` +
        `${(r.p50_us / 1000).toFixed(2)} | ${
          (r.p99_us / 1000).toFixed(2)
        } | ${r.served}/${r.clients} | ` +
        `${row.serverCpu?.toFixed(2)} | ${r.cpu_s.toFixed(2)} |`,
    );
  }
  lines.push("");
}
if (chosenModes.includes("idle")) {
  lines.push(`## Memory, ${idleCount} idle TCP connections`, "");
  lines.push("| server | growth |", "|---|---|");
  for (const row of idleRows) lines.push(`| ${row.peer} | ${row.note} |`);
  lines.push("");
}
for (const table of extraSections) lines.push(...table, "");
// The chart shows the modes measured against C; without them it is kept.
if (sections.length > 0) {
  lines.push("![Throughput relative to C](results.svg)", "");
}
await Deno.writeTextFile(
  `${root}bench/RESULTS.md`,
  await keptResults() + `${KEPT_ABOVE}\n\n` + lines.join("\n"),
);

/**
 * What RESULTS.md holds above `KEPT_ABOVE`, the analyses written by hand
 * from `bench/ab.ts` runs: each run replaces only what is below. A file
 * without the line is kept whole.
 */
async function keptResults(): Promise<string> {
  let previous: string;
  try {
    previous = await Deno.readTextFile(`${root}bench/RESULTS.md`);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "# Benchmark results\n\n";
    throw error;
  }
  const end = previous.indexOf(KEPT_ABOVE);
  return end === -1 ? `${previous.trimEnd()}\n\n` : previous.slice(0, end);
}

// results.svg: one group of bars per mode, each bar the rate relative to C.
const colors = ["#2b7bb9", "#e0a030", "#5aa05a", "#888888"];
const barHeight = 14;
const groupGap = 30;
const width = 640;
const left = 260;
const scale = 260;
let y = 40;
const parts: string[] = [];
for (const section of sections) {
  const c = section.rows.find((r) => r.peer === "C epoll")?.result?.rate;
  parts.push(
    `<text x="10" y="${y}" font-weight="bold">${
      escapeXml(section.title)
    }</text>`,
  );
  y += 8;
  section.rows.forEach((row, i) => {
    const ratio = row.result && c ? row.result.rate / c : 0;
    parts.push(
      `<text x="20" y="${y + barHeight - 3}">${escapeXml(row.peer)}</text>`,
      `<rect x="${left}" y="${y}" width="${
        (Math.min(ratio, 1.4) * scale).toFixed(1)
      }" height="${barHeight}" fill="${colors[i]}"/>`,
      `<text x="${left + Math.min(ratio, 1.4) * scale + 5}" y="${
        y + barHeight - 3
      }">${
        row.result ? `${ratio.toFixed(2)}x` : escapeXml(row.note ?? "")
      }</text>`,
    );
    y += barHeight + 4;
  });
  y += groupGap;
}
const svg =
  `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="20" font-size="14">Throughput relative to the C epoll server (1.00x), higher is better</text>
<line x1="${left + scale}" y1="28" x2="${left + scale}" y2="${
    y - groupGap
  }" stroke="#444" stroke-dasharray="4 3"/>
${parts.join("\n")}
</svg>
`;
if (sections.length > 0) {
  await Deno.writeTextFile(`${root}bench/results.svg`, svg);
}
console.log(lines.join("\n"));

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}
