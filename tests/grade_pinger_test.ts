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
import { type CheckResult, DidNotStart, grade } from "../grade.ts";
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
  ipv6: canBind("::1"),
};

/** Whether a UDP socket can be bound on `hostname` here. */
function canBind(hostname: string): boolean {
  try {
    Deno.listenDatagram({ hostname, port: 0, transport: "udp" }).close();
    return true;
  } catch {
    return false;
  }
}

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

/** Compares every verdict by check name, the reasons asked, the score. */
function assertGrades(client: GradedClient, results: CheckResult[]) {
  const checks = client.kind === "pinger" ? PINGER_CHECKS : HEARTBEAT_CHECKS;
  const shown = JSON.stringify(results, null, 1);
  assert.deepEqual(
    results.map((result) => `${result.check}: ${result.verdict[0]}`),
    checks.map((check, i) => `${check}: ${client.verdicts[i]}`),
    `${client.name}: ${shown}`,
  );
  for (const [check, reason] of Object.entries(client.reasons ?? {})) {
    const result = results.find((result) => result.check === check);
    assert.match(result?.why ?? "", reason, `${client.name}: ${shown}`);
  }
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
      6,
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

Deno.test("tests/peers/pingers/README.md shows every client of corpus.ts with its verdicts and score", async () => {
  const readme = await Deno.readTextFile(`${HERE}README.md`);
  const rows = readme.split("\n").filter((line) => /^\| `/.test(line));
  assert.equal(rows.length, CLIENTS.length);
  for (const [i, client] of CLIENTS.entries()) {
    const cells = rows[i].split("|").map((cell) => cell.trim());
    assert.deepEqual(
      [cells[3], Number(cells[4])],
      [`\`${client.verdicts}\``, client.score],
      `${client.name}: ${rows[i]}`,
    );
  }
});

Deno.test("grade.ts pinger says which address it could not take when --port is held", async () => {
  const held = Deno.listenDatagram({
    hostname: "127.0.0.1",
    port: 0,
    transport: "udp",
  });
  const port = (held.addr as Deno.NetAddr).port;
  try {
    const results = grade("pinger", { command: ["true"], port });
    await assert.rejects(
      () => results.next(),
      (error: Error) =>
        error instanceof DidNotStart &&
        error.message.includes(`127.0.0.1:${port}`),
    );
  } finally {
    held.close();
  }
});

Deno.test("grade.ts pinger says a client's command was not found, and leaves nothing open", async () => {
  const results = grade("pinger", {
    command: ["no-such-pinger-program", "{port}"],
    port: 0,
  });
  await assert.rejects(
    () => results.next(),
    (error: Error) =>
      error instanceof DidNotStart && /was not found/.test(error.message),
  );
});

Deno.test({
  name:
    "grade.ts pinger stops the client and checks nothing once its signal is aborted",
  ignore: !canRun(tools.python3, "the Python Pinger needs python3"),
  async fn() {
    const controller = new AbortController();
    const command = ["python3", `${HERE}pinger_ok.py`, "{port}"];
    const results = grade("pinger", {
      command,
      port: 0,
      signal: controller.signal,
    });
    const first = results.next();
    controller.abort();
    const { done } = await withTimeout(first, "the aborted grading", 5_000);
    assert.equal(done, true);
  },
});
