/**
 * grade.ts against the servers a class brings (tests/peers/corpus.ts): the
 * textbook's TCPServer.py and UDPServer.py as the chapter prints them, a
 * Java server that behaves as the companion's, student servers with the
 * usual mistakes, and ours. Every verdict is looked up by the check's name
 * and compared, and so is the score; the textbook servers must survive
 * every check but the last.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, grade } from "../grade.ts";
import {
  canRun,
  hasProgram,
  ROOT,
  startServer,
  withServer,
  withTimeout,
} from "./_helpers.ts";
import {
  CORPUS,
  type GradedServer,
  TCP_CHECKS,
  UDP_CHECKS,
} from "./peers/corpus.ts";

const hasPython = await hasProgram("python3");
const hasJava = await hasProgram("javac") && await hasProgram("java");
const hasGcc = await hasProgram("gcc");
const hasNode = await hasProgram("node");

const VERDICTS: Record<string, string> = {
  P: "PASS",
  W: "WARN",
  F: "FAIL",
  S: "SKIP",
};

/** Every result of a run of the grader, bounded. */
async function grades(
  results: AsyncIterable<CheckResult>,
  what: string,
): Promise<CheckResult[]> {
  const all: CheckResult[] = [];
  await withTimeout(
    (async () => {
      for await (const result of results) all.push(result);
    })(),
    `grade.ts of ${what}`,
    120_000,
  );
  return all;
}

/** The grader's run against the server at `port`, for `server`. */
function gradeAt(server: GradedServer, port: number): Promise<CheckResult[]> {
  const options = { hostname: "127.0.0.1", port, timeout: server.timeout };
  return grades(
    grade(`${server.transport}-server`, options),
    server.name,
  );
}

/** Compares every verdict by check name, every reason asked, the score. */
function assertGrades(server: GradedServer, results: CheckResult[]) {
  const checks = server.transport === "tcp" ? TCP_CHECKS : UDP_CHECKS;
  const shown = JSON.stringify(results, null, 1);
  const byName = new Map(results.map((r) => [r.check, r]));
  assert.equal(byName.size, checks.length, shown);
  assert.deepEqual(
    Object.fromEntries(
      checks.map(([name]) => [name, byName.get(name)?.verdict]),
    ),
    Object.fromEntries(
      checks.map(([name], i) => [name, VERDICTS[server.verdicts[i]]]),
    ),
    `${server.name}: ${shown}`,
  );
  for (const [column, reason] of Object.entries(server.reasons ?? {})) {
    const name = checks.find(([, heading]) => heading === column)?.[0];
    assert.ok(name, `no check is headed ${column}`);
    assert.match(byName.get(name)!.why, reason, `${server.name}: ${shown}`);
  }
  const score = results.reduce(
    (sum, r) =>
      sum + (r.verdict === "PASS" ? 1 : r.verdict === "WARN" ? 0.5 : 0),
    0,
  );
  assert.equal(score, server.score);
}

/** Compiles a Java file into a folder of its own; returns the folder. */
async function compileJava(
  file = "tests/peers/TCPServer.java",
): Promise<string> {
  const folder = await Deno.makeTempDir();
  const { success, stderr } = await new Deno.Command("javac", {
    args: ["-d", folder, `${ROOT}${file}`],
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return folder;
}

/** Compiles a C file into a folder of its own; returns the program. */
async function compileC(file: string): Promise<string> {
  const folder = await Deno.makeTempDir();
  const program = `${folder}/server`;
  const { success, stderr } = await new Deno.Command("gcc", {
    args: ["-o", program, `${ROOT}${file}`],
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  return program;
}

/** Grades `server` through grade.ts's COMMAND mode: the grader starts it. */
function gradeCommand(server: GradedServer): Promise<CheckResult[]> {
  return grades(
    grade(`${server.transport}-server`, {
      command: server.command,
      port: 0,
      timeout: server.timeout,
    }),
    server.name,
  );
}

/** Grades a server started by `command`; it is killed after. */
async function gradeProcess(
  server: GradedServer,
  command: string[],
  env: Record<string, string> = {},
): Promise<CheckResult[]> {
  const running = await startServer(command, { env });
  try {
    return await gradeAt(server, running.port);
  } finally {
    await running.stop("SIGKILL");
  }
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

/** Grades `server` as its `start` says. */
async function gradeServer(server: GradedServer): Promise<CheckResult[]> {
  if (server.start === "ours") {
    let results: CheckResult[] = [];
    await withServer(server.transport, {}, async (port) => {
      results = await gradeAt(server, port);
    });
    return results;
  }
  if (server.command !== undefined) return await gradeCommand(server);
  const { start } = server;
  if (start === "java" || (typeof start === "object" && "javac" in start)) {
    const folder = await compileJava(
      start === "java" ? undefined : start.javac,
    );
    try {
      const main = start === "java" ? "TCPServer" : start.main;
      const command = ["java", "-cp", folder, main];
      return await gradeProcess(server, command, { LC_ALL: "C.UTF-8" });
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  }
  if (typeof start === "object" && "gcc" in start) {
    const program = await compileC(start.gcc);
    try {
      return await gradeProcess(server, [program]);
    } finally {
      await Deno.remove(program.replace(/\/server$/, ""), { recursive: true });
    }
  }
  return await gradeProcess(server, start);
}

/** Whether what `server` needs to run is here; if not, says so. */
function runnable(server: GradedServer): boolean {
  const { start } = server;
  if (start === "ours") return true;
  if (start === "java" || "javac" in start) {
    return canRun(hasJava, `${server.name} needs javac and java`);
  }
  if ("gcc" in start) return canRun(hasGcc, `${server.name} needs gcc`);
  if (start[0] === "node") return canRun(hasNode, `${server.name} needs node`);
  return canRun(hasPython, `${server.name} needs python3`);
}

// The servers are graded a few at a time (most of the time goes in waits),
// then each one's grades are a step of their own.
for (const transport of ["tcp", "udp"] as const) {
  Deno.test(`grade.ts grades every ${transport.toUpperCase()} server of the corpus as tests/peers/corpus.ts says`, async (t) => {
    const servers = CORPUS.filter((server) =>
      server.transport === transport && runnable(server)
    );
    const graded = await atMost(
      6,
      servers.map((server) => () => gradeServer(server)),
    );
    for (const [i, server] of servers.entries()) {
      await t.step(
        `${server.name}: ${server.verdicts}, ${server.score} of ${server.verdicts.length}`,
        () => {
          assertGrades(server, graded[i]);
        },
      );
    }
  });
}

Deno.test({
  name:
    "grade.ts grades the Java server without a UTF-8 locale alike: each character past ASCII one byte",
  ignore: !canRun(hasJava, "the Java server needs javac and java"),
  async fn() {
    const java = CORPUS.find((server) => server.start === "java")!;
    const folder = await compileJava();
    try {
      const command = ["java", "-cp", folder, "TCPServer"];
      const results = await gradeProcess(java, command, { LC_ALL: "C" });
      assertGrades(java, results);
      assert.match(
        results.find((r) => r.check === "Unicode")!.why,
        /came back "STRA\\xfd\\xfdE, \\xfd/,
      );
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  },
});

Deno.test("grade.ts grades udp_server.ts --drop-rate 0.36 without a FAIL, seeds 1 to 40", async () => {
  const seeds = Array.from({ length: 40 }, (_, i) => i + 1);
  const failed = await atMost(
    4,
    seeds.map((seed) => async () => {
      let results: CheckResult[] = [];
      await withServer("udp", { dropRate: 0.36, seed }, async (port) => {
        results = await grades(
          grade("udp-server", { hostname: "127.0.0.1", port, timeout: 0.1 }),
          `seed ${seed}`,
        );
      });
      return results.filter((r) => r.verdict !== "PASS")
        .map((r) => `seed ${seed}: ${r.verdict} ${r.check}: ${r.why}`);
    }),
  );
  assert.deepEqual(failed.flat(), []);
});

Deno.test("grade.ts of a UDP server bound to every address, sent to 127.0.0.2: the reply's address is told as it is", async () => {
  await withServer("udp", { hostname: "0.0.0.0" }, async (port) => {
    const results = await grades(
      grade("udp-server", { hostname: "127.0.0.2", port, timeout: 0.5 }),
      "a server bound to 0.0.0.0",
    );
    const own = results.find((r) =>
      r.check === "replies from the server's own port"
    )!;
    assert.equal(own.verdict, "PASS");
    const from = own.why.match(/came from ([^\s:]+):\d+/)![1];
    if (from === "127.0.0.2") {
      assert.match(own.why, /where the client sent/);
    } else {
      assert.match(
        own.why,
        new RegExp(
          `came from ${from.replaceAll(".", "\\.")}:${port}: the ` +
            `server's port at another address of this machine than ` +
            `127\\.0\\.0\\.2:${port}`,
        ),
      );
    }
  });
});
