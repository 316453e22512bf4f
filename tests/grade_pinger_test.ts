/**
 * `grade.ts pinger` and `grade.ts heartbeat` against the clients a class
 * brings (tests/peers/pingers/corpus.ts): correct ones in Python, Java, C
 * and Node, ours, and the usual mistakes. Every verdict is compared check
 * by check, and the score. One Pinger run takes seconds of waiting, so the
 * clients are graded several at a time, each on a free port of its own.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, grade } from "../grade.ts";
import {
  canRun,
  hasProgram,
  ROOT,
  runScript,
  withTimeout,
} from "./_helpers.ts";
import {
  CLIENTS,
  type GradedClient,
  HEARTBEAT_CHECKS,
  HERE,
  PINGER_CHECKS,
} from "./peers/pingers/corpus.ts";

const tools = {
  deno: true,
  python3: await hasProgram("python3"),
  javac: await hasProgram("javac") && await hasProgram("java"),
  gcc: await hasProgram("gcc"),
  node: await hasProgram("node"),
};

/** Every result of one grading, bounded. */
async function gradeClient(
  client: GradedClient,
  dir: string,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const command = client.command.map((word) => word.replace("{dir}", dir));
  await withTimeout(
    (async () => {
      for await (const result of grade(client.kind, { command, port: 0 })) {
        results.push(result);
      }
    })(),
    `grading ${client.name}`,
    60_000,
  );
  return results;
}

/** Compiles the Java and C clients into a new folder; returns it. */
async function compile(): Promise<string> {
  const dir = await Deno.makeTempDir();
  const builds: [boolean, string, string[]][] = [
    [tools.javac, "javac", ["-d", dir, `${HERE}PingerClient.java`]],
    [tools.gcc, "gcc", ["-o", `${dir}/pinger_ok`, `${HERE}pinger_ok.c`]],
  ];
  for (const [available, tool, args] of builds) {
    if (!available) continue;
    const { success, stderr } = await new Deno.Command(tool, {
      args,
      stderr: "piped",
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
  }
  return dir;
}

/** Runs `jobs`, `limit` at a time; resolves with their results in order. */
async function atMost<T>(limit: number, jobs: (() => Promise<T>)[]) {
  const results: T[] = [];
  let next = 0;
  async function worker() {
    while (next < jobs.length) {
      const i = next++;
      results[i] = await jobs[i]();
    }
  }
  await Promise.all(Array.from({ length: limit }, worker));
  return results;
}

/** Compares every verdict by check name, then the score. */
function assertGrades(client: GradedClient, results: CheckResult[]) {
  const checks = client.kind === "pinger" ? PINGER_CHECKS : HEARTBEAT_CHECKS;
  const shown = JSON.stringify(results, null, 1);
  assert.deepEqual(
    results.map((result) => `${result.check}: ${result.verdict[0]}`),
    checks.map((check, i) => `${check}: ${client.verdicts[i]}`),
    `${client.name}: ${shown}`,
  );
  const score = results.reduce(
    (sum, r) =>
      sum + (r.verdict === "PASS" ? 1 : r.verdict === "WARN" ? 0.5 : 0),
    0,
  );
  assert.equal(score, client.score, `${client.name}: ${shown}`);
}

Deno.test("grade.ts pinger and heartbeat grade every client of the corpus as tests/peers/pingers/corpus.ts says", async (t) => {
  const clients = CLIENTS.filter((client) =>
    canRun(tools[client.needs], `${client.name} needs ${client.needs}`)
  );
  const dir = await compile();
  try {
    const graded = await atMost(
      8,
      clients.map((client) => () => gradeClient(client, dir)),
    );
    for (const [i, client] of clients.entries()) {
      await t.step(
        `${client.name}: ${client.verdicts}, ${client.score}`,
        () => {
          assertGrades(client, graded[i]);
        },
      );
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("grade.ts pinger on the command line prints a line per check and the score, exit 0, for udp_client.ts --ping 10", async () => {
  const { code, stdout } = await runScript("grade.ts", [
    "pinger",
    "--port",
    "0",
    "--",
    Deno.execPath(),
    "run",
    "--allow-net",
    "--unstable-net",
    "udp_client.ts",
    "--ping",
    "10",
    "--port",
    "{port}",
  ], {
    flags: ["run", "--allow-net", "--unstable-net", "--allow-run"],
    cwd: ROOT,
    ms: 40_000,
  });
  const lines = stdout.trimEnd().split("\n");
  assert.match(lines[0], /^Grading .* as a pinger/, stdout);
  assert.deepEqual(
    lines.slice(1, -1).map((line) =>
      line.slice(0, 6) + line.slice(6).split(":")[0]
    ),
    PINGER_CHECKS.map((check) => `PASS  ${check}`),
    stdout,
  );
  assert.equal(lines.at(-1), "Score: 11 of 11 (11 PASS, 0 WARN, 0 FAIL)");
  assert.equal(code, 0, stdout);
});
