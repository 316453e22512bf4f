/**
 * `deno task bench`: measures our servers against the textbook's Python
 * programs, Node.js and a C epoll server, on loopback, and writes
 * `bench/RESULTS.md` and `bench/results.svg`.
 *
 * The load comes from `bench/loadgen.c` (built here with the system's C
 * compiler), which checks every reply. Where `taskset` exists the server
 * runs on core 0 and the load generator on core 1; the load generator's own
 * CPU time is reported beside every figure, so that its limit is never
 * mistaken for the server's.
 *
 *   deno task bench [--seconds 5] [--stream-mib 256] [--idle 5000]
 *
 * @module
 */
import { parseArgs } from "node:util";

const root = new URL("../", import.meta.url).pathname;
const build = `${root}bench/.build`;

interface Peer {
  name: string;
  command(mode: "tcp" | "udp"): string[];
  available: boolean;
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
    modes: { type: "string", default: "once,pingpong,stream,udp,idle" },
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

const allPeers: Peer[] = [
  {
    name: "ours (Deno)",
    available: true,
    command: (mode) =>
      mode === "tcp"
        ? [
          Deno.execPath(),
          "run",
          "--allow-net",
          "tcp_server.ts",
          "--host",
          "127.0.0.1",
          "-p",
          "0",
        ]
        : [
          Deno.execPath(),
          ...["run", "--allow-net", "--unstable-net", "udp_server.ts"],
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
    command: (mode) => ["node", "bench/node_server.mjs", mode],
  },
  {
    name: "C epoll",
    available: true,
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

async function load(args: string[]): Promise<LoadResult> {
  const command = pin
    ? ["taskset", "-c", "1", `${build}/loadgen`, ...args]
    : [`${build}/loadgen`, ...args];
  const out = await new Deno.Command(command[0], {
    args: command.slice(1),
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(120_000),
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

async function measure(
  peer: Peer,
  transport: "tcp" | "udp",
  args: (port: number) => string[],
): Promise<Row> {
  if (!peer.available) return { peer: peer.name, note: "not installed" };
  const server = await startServer(peer.command(transport));
  try {
    const cpuBefore = await cpuSeconds(server.pid);
    const result = await load(args(server.port));
    const serverCpu = (await cpuSeconds(server.pid)) - cpuBefore;
    return { peer: peer.name, result, serverCpu };
  } finally {
    await server.stop();
  }
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

// RESULTS.md
const cpuModel =
  (await sh("grep -m1 'model name' /proc/cpuinfo || true")).split(":")[1]
    ?.trim() ?? "unknown";
const lines = [
  "# Benchmark results",
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
  `${seconds} s per run. Ratios are what to read: absolute figures drift from run to run.`,
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
lines.push(`## Memory, ${idleCount} idle TCP connections`, "");
lines.push("| server | growth |", "|---|---|");
for (const row of idleRows) lines.push(`| ${row.peer} | ${row.note} |`);
lines.push("", "![Throughput relative to C](results.svg)", "");
await Deno.writeTextFile(`${root}bench/RESULTS.md`, lines.join("\n"));

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
await Deno.writeTextFile(`${root}bench/results.svg`, svg);
console.log(lines.join("\n"));

function escapeXml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(
    />/g,
    "&gt;",
  );
}
