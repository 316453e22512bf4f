/**
 * `grade.ts tcp-client` and `udp-client` against the clients a class
 * brings (tests/peers/clients/corpus.ts): every verdict, in the checks'
 * order, and the score; then the command line: one line per check, --json,
 * a command that cannot start, and a client that hangs, floods and forks,
 * ended with its process group, nothing left running.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, grade } from "../grade.ts";
import { canRun, hasProgram, ROOT, withTimeout } from "./_helpers.ts";
import {
  CLIENTS,
  type GradedClient,
  TCP_CLIENT_CHECKS,
  UDP_CLIENT_CHECKS,
} from "./peers/clients/corpus.ts";

const CLIENT_DIR = `${ROOT}tests/peers/clients`;

const AVAILABLE: Record<GradedClient["needs"], boolean> = {
  deno: true,
  python3: await hasProgram("python3"),
  gcc: await hasProgram("gcc"),
  java: await hasProgram("javac") && await hasProgram("java"),
  node: await hasProgram("node"),
};

/** Compiles `client`'s sources into `into`. */
async function build(client: GradedClient, into: string) {
  for (const source of client.build ?? []) {
    const args = source.endsWith(".c")
      ? ["gcc", "-o", `${into}/${source.slice(0, -2)}`, source]
      : ["javac", "-d", into, source];
    const out = await new Deno.Command(args[0], {
      args: args.slice(1),
      cwd: CLIENT_DIR,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(out.success, new TextDecoder().decode(out.stderr));
  }
}

/** Every result of grading `command` as `kind`, bounded. */
async function graded(
  kind: GradedClient["kind"],
  command: string[],
  timeout: number,
): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  await withTimeout(
    (async () => {
      for await (const result of grade(kind, { command, port: 0, timeout })) {
        results.push(result);
      }
    })(),
    `grading ${command.join(" ")}`,
    120_000,
  );
  return results;
}

for (const client of CLIENTS) {
  Deno.test(`grade.ts ${client.kind}: ${client.name}`, async () => {
    if (!canRun(AVAILABLE[client.needs], `${client.needs} is not installed`)) {
      return;
    }
    const folder = await Deno.makeTempDir();
    try {
      await build(client, folder);
      const command = client.command.map((word) =>
        word.replace("{deno}", Deno.execPath()).replace("{build}", folder)
          .replace("{clients}", CLIENT_DIR)
      );
      const started = Date.now();
      const results = await graded(client.kind, command, client.timeout);
      const shown = `${client.name} (${Date.now() - started} ms): ` +
        JSON.stringify(results, null, 1);
      const checks = client.kind === "tcp-client"
        ? TCP_CLIENT_CHECKS
        : UDP_CLIENT_CHECKS;
      assert.deepEqual(results.map((r) => r.check), checks, shown);
      assert.equal(
        results.map((r) => r.verdict[0]).join(""),
        client.verdicts,
        shown,
      );
      const score = results.reduce(
        (sum, r) =>
          sum + (r.verdict === "PASS" ? 1 : r.verdict === "WARN" ? 0.5 : 0),
        0,
      );
      assert.equal(score, client.score, shown);
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  });
}

/** Runs grade.ts with `args`, bounded; what it printed and its status. */
async function gradeCommand(args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--unstable-net",
      "--allow-run",
      "grade.ts",
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).output();
  return {
    code: out.code,
    lines: new TextDecoder().decode(out.stdout).trimEnd().split("\n"),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

const OURS_UDP = [
  "--",
  Deno.execPath(),
  "run",
  "--allow-net",
  "--unstable-net",
  "udp_client.ts",
  "--port",
  "{port}",
];

Deno.test("grade.ts udp-client: one line per check, the score, exit 0", async () => {
  const { code, lines } = await gradeCommand([
    "udp-client",
    "--port",
    "0",
    ...OURS_UDP,
  ]);
  assert.equal(code, 0, lines.join("\n"));
  assert.match(lines[0], /^Grading .* as a udp-client/);
  assert.deepEqual(
    lines.slice(1, -1).map((line) => line.split(":")[0]),
    UDP_CLIENT_CHECKS.map((check) => `PASS  ${check}`),
  );
  assert.equal(lines.at(-1), "Score: 7 of 7 (7 PASS, 0 WARN, 0 FAIL)");
});

Deno.test("grade.ts udp-client --json: one object per check, then the score", async () => {
  const { code, lines } = await gradeCommand([
    "udp-client",
    "--json",
    "--port",
    "0",
    ...OURS_UDP,
  ]);
  assert.equal(code, 0, lines.join("\n"));
  const objects = lines.map((line) => JSON.parse(line));
  assert.deepEqual(
    objects.slice(0, -1).map(({ check, verdict }) => ({ check, verdict })),
    UDP_CLIENT_CHECKS.map((check) => ({ check, verdict: "PASS" })),
  );
  assert.ok(objects.slice(0, -1).every((o) => typeof o.why === "string"));
  assert.deepEqual(objects.at(-1), {
    score: 7,
    out_of: 7,
    PASS: 7,
    WARN: 0,
    FAIL: 0,
    SKIP: 0,
  });
});

Deno.test("grade.ts tcp-client: a command that cannot be found did not start, exit 1", async () => {
  const { code, lines } = await gradeCommand([
    "tcp-client",
    "--port",
    "0",
    "--",
    "no-such-client-program",
    "{port}",
  ]);
  assert.equal(code, 1);
  assert.equal(
    lines.at(-1),
    "did not start: no-such-client-program was not found: check the " +
      "command after --",
  );
});

Deno.test("grade.ts udp-client: a client that hangs, floods stdout and forks is ended whole", async () => {
  if (
    !canRun(AVAILABLE.python3, "python3 is not installed") ||
    !canRun(await hasProgram("pgrep"), "pgrep is not installed")
  ) return;
  const mark = `misbehaves-${crypto.randomUUID()}`;
  const { code, lines } = await gradeCommand([
    "udp-client",
    "--port",
    "0",
    "--timeout",
    "0.2",
    "--",
    "python3",
    `${CLIENT_DIR}/misbehaves.py`,
    "{port}",
    mark,
  ]);
  assert.equal(code, 1, lines.join("\n"));
  assert.match(
    lines.find((line) => line.includes("end of input:")) ?? "",
    /^FAIL {2}end of input: .*still running, and was ended by the grader$/,
  );
  assert.equal(await processesWith(mark), "");
});

/** The running processes whose command line holds `mark`, from pgrep. */
async function processesWith(mark: string): Promise<string> {
  const out = await new Deno.Command("pgrep", {
    args: ["-af", mark],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

Deno.test("tests/peers/clients/README.md: its grades are corpus.ts's", async () => {
  const readme = await Deno.readTextFile(`${CLIENT_DIR}/README.md`);
  const rows = [
    ...readme.matchAll(/^\| (.+?) +\| ([PWFS]+) +\| ([\d.]+) +\|/gm),
  ]
    .map(([, name, verdicts, score]) => [name, verdicts, Number(score)]);
  const named = (name: string) =>
    name.replace(/^textbook\/(\w+\.py)$/, "textbook $1");
  assert.deepEqual(
    rows.toSorted(),
    CLIENTS.map((c) => [named(c.name), c.verdicts, c.score]).toSorted(),
  );
});

Deno.test("grade(): an aborted signal stops the grading between checks", async () => {
  const controller = new AbortController();
  const results: CheckResult[] = [];
  const command = OURS_UDP.slice(1);
  await withTimeout(
    (async () => {
      for await (
        const result of grade("udp-client", {
          command,
          port: 0,
          signal: controller.signal,
        })
      ) {
        results.push(result);
        controller.abort();
      }
    })(),
    "grading stopped by its signal",
  );
  assert.deepEqual(results.map((r) => r.check), ["sentence"]);
});
