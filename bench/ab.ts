/**
 * A/B: our servers as of a git revision ("old") against the working tree
 * ("new"), in alternating rounds on the same machine, beside Node.js and the
 * C epoll server measured in the same rounds. Prints a markdown report: for
 * each mode the median over rounds of each server's rate and of its ratio
 * to C and to Node.js in that round, and the fairness probes' latency.
 *
 *   deno run -A bench/ab.ts \
 *     --old REV [--rounds 5] [--seconds 3] [--stream-mib 256]
 *     [--modes stream,once,udp,pingpong,fairness]
 *
 * (`-A`: Deno 2.9.6 asks for all access to read `/proc/PID/stat`, the
 * server's CPU time.)
 *
 * The server runs on core 0 and the load generator on core 1 when
 * `taskset` exists; each round runs old and new in turn, the order
 * swapped every round, so that a drift of the machine falls on both.
 *
 * @module
 */
import { parseArgs } from "node:util";

const root = new URL("../", import.meta.url).pathname;
const build = `${root}bench/.build`;

const { values } = parseArgs({
  args: Deno.args,
  options: {
    old: { type: "string" },
    rounds: { type: "string", default: "5" },
    seconds: { type: "string", default: "3" },
    "stream-mib": { type: "string", default: "256" },
    clients: { type: "string", default: "64" },
    modes: { type: "string", default: "stream,once,udp,pingpong,fairness" },
  },
});
if (values.old === undefined) {
  console.error("ab: --old REV is required (the revision to compare with)");
  Deno.exit(2);
}
const rounds = Number(values.rounds);
const seconds = values.seconds;
const clients = values.clients;
const modes = values.modes.split(",");

/** Runs a shell command; its standard output. */
async function sh(script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`failed: ${script}`);
  return new TextDecoder().decode(out.stdout);
}

await sh(
  `mkdir -p ${build}/old ${build}/new && ` +
    `cc -O2 -o ${build}/loadgen ${root}bench/loadgen.c && ` +
    `cc -O2 -o ${build}/c_server ${root}bench/c_server.c`,
);
for (const file of ["tcp_server.ts", "udp_server.ts"]) {
  await sh(`git -C ${root} show ${values.old}:${file} > ${build}/old/${file}`);
  await Deno.copyFile(`${root}${file}`, `${build}/new/${file}`);
}
const oldCommit = (await sh(`git -C ${root} rev-parse --short ${values.old}`))
  .trim();
const pin = (await new Deno.Command("sh", {
  args: ["-c", "command -v taskset"],
  stdout: "null",
}).output()).success;

type Transport = "tcp" | "udp";
type Peer = "old" | "new" | "Node.js" | "C";

/** How to start each server for a transport. */
function command(peer: Peer, transport: Transport): string[] {
  if (peer === "Node.js") return ["node", "bench/node_server.mjs", transport];
  if (peer === "C") return [`${build}/c_server`, transport];
  return [
    Deno.execPath(),
    ...["run", "--allow-net", "--unstable-net"],
    `${build}/${peer}/${transport}_server.ts`,
    ...["--host", "127.0.0.1", "-p", "0"],
  ];
}

/** Starts `peer`, runs loadgen with `args(port)`, stops it; loadgen's JSON. */
async function measure(
  peer: Peer,
  transport: Transport,
  args: (port: number) => string[],
): Promise<Record<string, number>> {
  const argv = command(peer, transport);
  const child = new Deno.Command(pin ? "taskset" : argv[0], {
    args: pin ? ["-c", "0", ...argv] : argv.slice(1),
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    let ready = "";
    while (!ready.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`${peer} did not start`);
      ready += value;
    }
    const port = Number(ready.match(/:(\d+)\s*$/m)?.[1]);
    const cpuBefore = await cpuSeconds(child.pid);
    const loadgen = pin
      ? ["taskset", "-c", "1", `${build}/loadgen`]
      : [`${build}/loadgen`];
    const out = await new Deno.Command(loadgen[0], {
      args: [...loadgen.slice(1), ...args(port)],
      stdout: "piped",
      stderr: "inherit",
      signal: AbortSignal.timeout(120_000),
    }).output();
    const result = JSON.parse(new TextDecoder().decode(out.stdout));
    result.server_cpu_s = await cpuSeconds(child.pid) - cpuBefore;
    return result;
  } finally {
    child.kill("SIGKILL");
    await child.status;
    await reader.cancel();
  }
}

/** CPU seconds process `pid` has used (taskset execs the server). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function median(numbers: number[]): number {
  const sorted = [...numbers].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

const throughputModes: {
  key: string;
  title: string;
  transport: Transport;
  args: (port: number) => string[];
  value: string;
}[] = [
  {
    key: "stream",
    title: `TCP stream, ${values["stream-mib"]} MiB (MiB/s)`,
    transport: "tcp",
    args: (port) => ["stream", "127.0.0.1", `${port}`, values["stream-mib"]],
    value: "rate",
  },
  {
    key: "once",
    title: `TCP one sentence per connection, ${clients} clients (tx/s)`,
    transport: "tcp",
    args: (port) => ["once", "127.0.0.1", `${port}`, clients, seconds],
    value: "rate",
  },
  {
    key: "udp",
    title: `UDP, ${clients} outstanding (req/s)`,
    transport: "udp",
    args: (port) => ["udp", "127.0.0.1", `${port}`, clients, seconds],
    value: "rate",
  },
  {
    key: "pingpong",
    title: `TCP ping-pong, ${clients} clients (round trips/s)`,
    transport: "tcp",
    args: (port) => ["pingpong", "127.0.0.1", `${port}`, clients, seconds],
    value: "rate",
  },
];

const report: string[] = [
  `Old: servers from ${values.old} (commit ${oldCommit}); new: the working ` +
  `tree. ${rounds} rounds, old and new alternating, ${seconds} s a run; ` +
  `medians over the rounds, ratios taken within each round.`,
  "",
];
for (const mode of throughputModes.filter((m) => modes.includes(m.key))) {
  const rates: Record<Peer, number[]> = {
    old: [],
    new: [],
    "Node.js": [],
    C: [],
  };
  const costs: Record<Peer, number[]> = {
    old: [],
    new: [],
    "Node.js": [],
    C: [],
  };
  for (let round = 0; round < rounds; round++) {
    const order: Peer[] = round % 2 === 0
      ? ["old", "new", "Node.js", "C"]
      : ["new", "old", "C", "Node.js"];
    for (const peer of order) {
      console.error(`ab: ${mode.key}, round ${round + 1}: ${peer}`);
      const result = await measure(peer, mode.transport, mode.args);
      if (result.errors > 0) throw new Error(`${peer}: errors in ${mode.key}`);
      rates[peer].push(result[mode.value]);
      // Server CPU microseconds per unit of work (per MiB for the stream).
      costs[peer].push(result.server_cpu_s * 1e6 / result.ops);
    }
  }
  const ratio = (peer: Peer, to: Peer) =>
    median(rates[peer].map((rate, round) => rate / rates[to][round]));
  report.push(
    `### ${mode.title}`,
    "",
    "| server | median rate | vs C | vs Node.js | server CPU µs a unit | rounds |",
    "|---|---|---|---|---|---|",
  );
  for (const peer of ["old", "new", "Node.js", "C"] as Peer[]) {
    report.push(
      `| ${peer} | ${median(rates[peer]).toFixed(0)} | ` +
        `${ratio(peer, "C").toFixed(2)}x | ` +
        `${ratio(peer, "Node.js").toFixed(2)}x | ` +
        `${median(costs[peer]).toFixed(1)} | ` +
        `${rates[peer].map((rate) => rate.toFixed(0)).join(", ")} |`,
    );
  }
  report.push("");
}

if (modes.includes("fairness")) {
  const payloads = [
    { label: "ASCII, 1 stream", args: ["ascii", seconds, "1"] },
    { label: "Greek, 1 stream", args: ["greek", seconds, "1"] },
    { label: "invalid UTF-8, 1 stream", args: ["invalid", seconds, "1"] },
    { label: "random bytes, 300 streams", args: ["random", seconds, "300"] },
  ];
  report.push(
    "### Fairness: a probe connection every 20 ms beside the streams",
    "",
    "| server | streams | probe p50 ms | p99 ms | max ms | unanswered | bulk MiB/s |",
    "|---|---|---|---|---|---|---|",
  );
  for (const payload of payloads) {
    const results: Record<string, Record<string, number>[]> = {};
    for (let round = 0; round < rounds; round++) {
      const order: Peer[] = round % 2 === 0
        ? ["old", "new", "Node.js"]
        : ["new", "old", "Node.js"];
      for (const peer of order) {
        console.error(
          `ab: fairness ${payload.label}, round ${round + 1}: ${peer}`,
        );
        const result = await measure(
          peer,
          "tcp",
          (port) => ["fairness", "127.0.0.1", `${port}`, ...payload.args],
        );
        (results[peer] ??= []).push(result);
      }
    }
    for (const peer of ["old", "new", "Node.js"]) {
      const of = (key: string) => median(results[peer].map((r) => r[key]));
      report.push(
        `| ${peer} | ${payload.label} | ${
          (of("p50_us") / 1000).toFixed(1)
        } | ` +
          `${(of("p99_us") / 1000).toFixed(1)} | ` +
          `${(of("max_us") / 1000).toFixed(1)} | ` +
          `${of("unanswered")} of ${of("probes")} | ` +
          `${of("bulk_mib_s").toFixed(1)} |`,
      );
    }
  }
  report.push("");
}
console.log(report.join("\n"));
