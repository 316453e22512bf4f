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
