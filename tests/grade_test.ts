/**
 * grade.ts's own command line and how it runs a student's program: usage
 * errors, a program that does not start (said from its own stderr, never a
 * score of 0), a port still held by the last student's connections, a
 * program that forks or floods (ended with its process group, nothing left
 * running), and a whole class in one command. What each kind's checks say
 * is tested in the corpus tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import { canRun, hasProgram, ROOT, WAIT_MS } from "./_helpers.ts";

const hasPython = await hasProgram("python3");

/** Flags grade.ts runs with, as its shebang line gives them. */
const GRADE_FLAGS = ["run", "--allow-net", "--unstable-net", "--allow-run"];

/** What a run of grade.ts printed. */
interface Graded {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs grade.ts with `args`, bounded by `ms`. */
async function runGrade(args: string[], ms = 60_000): Promise<Graded> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [...GRADE_FLAGS, "grade.ts", ...args],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(ms),
  }).output();
  const decoder = new TextDecoder();
  return {
    code,
    stdout: decoder.decode(stdout),
    stderr: decoder.decode(stderr),
  };
}

/** Our tcp_server.ts as a student's command, on the grader's `{port}`. */
const OUR_TCP_SERVER = [
  Deno.execPath(),
  "run",
  "--allow-net",
  `${ROOT}tcp_server.ts`,
  "--host",
  "127.0.0.1",
  "--port",
  "{port}",
];

/** Process ids whose command line holds `marker`. */
async function processesWith(marker: string): Promise<string[]> {
  const { stdout } = await new Deno.Command("pgrep", {
    args: ["-f", marker],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(stdout).split("\n").filter((l) => l);
}

Deno.test("grade CLI prints one line and exits 2 on a usage error", async (t) => {
  const cases: [string, string[], RegExp][] = [
    ["no KIND", [], /give a KIND: tcp-server, udp-server/],
    ["an unknown KIND", ["ftp-server"], /ftp-server is not a KIND/],
    [
      "a client kind without a command",
      ["pinger"],
      /pinger grades a program the grader runs: give its command after --/,
    ],
    ["-- with nothing after it", ["tcp-server", "--"], /-- must be followed/],
    [
      "files without a command",
      ["tcp-server", "a.py"],
      /files are graded with a command/,
    ],
    [
      "--host with a command",
      ["tcp-server", "--host", "::1", "--", "python3", "s.py"],
      /--host names a server already running/,
    ],
    [
      "--timeout for a pinger",
      ["pinger", "--timeout", "3", "--", "python3", "p.py"],
      /--timeout does not go with pinger/,
    ],
    [
      "--port 0 without {port}",
      ["udp-client", "--port", "0", "--", "python3", "c.py"],
      /--port 0 picks a free port the program must be told/,
    ],
    [
      "{file} without files",
      ["udp-server", "--", "python3", "{file}", "{port}"],
      /\{file\} is in the command, but no files are given/,
    ],
    ["--port 65536", ["tcp-server", "--port", "65536"], /--port must be/],
    [
      "--retries for TCP",
      ["tcp-server", "--retries", "2"],
      /--retries and --interval go with udp-server/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const { code, stdout, stderr } = await runGrade(args);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, message);
      assert.equal(stderr.trim().split("\n").length, 1, stderr);
    });
  }
});

Deno.test("grade CLI --help names every kind and the exact deno run line", async () => {
  const { code, stdout } = await runGrade(["--help"]);
  assert.equal(code, 0);
  for (
    const kind of [
      "tcp-server",
      "udp-server",
      "tcp-client",
      "udp-client",
      "pinger",
      "heartbeat",
    ]
  ) {
    assert.match(stdout, new RegExp(`^  ${kind} `, "m"));
  }
  assert.match(
    stdout,
    /deno run --allow-net --unstable-net --allow-run grade\.ts pinger/,
  );
});

Deno.test("grade CLI says a program that cannot be found did not start, exit 1, no score", async () => {
  const { code, stdout } = await runGrade([
    "tcp-client",
    "--port",
    "0",
    "--",
    "no-such-program-for-grading",
    "{port}",
  ]);
  assert.equal(code, 1);
  assert.match(
    stdout,
    /^did not start: no-such-program-for-grading was not found/m,
  );
  assert.doesNotMatch(stdout, /Score/);
});

Deno.test("grade CLI says why a server did not start from its own stderr", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const { code, stdout } = await runGrade([
    "udp-server",
    "--json",
    "--",
    "python3",
    "-c",
    "import sys; sys.exit('ImportError: no module named sockets')",
    "{port}",
  ]);
  assert.equal(code, 1);
  const [result, ...rest] = stdout.trim().split("\n").map((line) =>
    JSON.parse(line)
  );
  assert.deepEqual(rest, []);
  assert.equal(result.started, false);
  assert.match(
    result.why,
    /ended \(exit 1\) before it listened on 127\.0\.0\.1:\d+/,
  );
  assert.match(result.why, /it said: ImportError: no module named sockets/);
});

Deno.test("grade CLI starts a server again while its fixed port is still held (TIME-WAIT)", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const folder = await Deno.makeTempDir();
  try {
    // In use the first time, as after the last student's TCPServer.py.
    const wrapper = `${folder}/busy_once.py`;
    await Deno.writeTextFile(
      wrapper,
      [
        "import os, sys",
        `marker = ${JSON.stringify(`${folder}/tried`)}`,
        "if not os.path.exists(marker):",
        "    open(marker, 'w').close()",
        "    sys.exit('OSError: [Errno 98] Address already in use')",
        "os.execv(sys.argv[1], sys.argv[1:])",
      ].join("\n"),
    );
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = listener.addr.port; // free, chosen by the system
    listener.close();
    const { code, stdout } = await runGrade([
      "tcp-server",
      "--port",
      `${port}`,
      "--",
      "python3",
      wrapper,
      ...OUR_TCP_SERVER.map((word) => word.replace("{port}", `${port}`)),
    ]);
    assert.doesNotMatch(stdout, /did not start/, stdout);
    assert.match(stdout, /^Score: (\d+) of \1 /m, stdout);
    assert.equal(code, 0);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("grade CLI refuses to grade a fixed port where another program listens already", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const { code, stdout } = await runGrade([
      "tcp-server",
      "--port",
      `${listener.addr.port}`,
      "--",
      ...OUR_TCP_SERVER,
    ]);
    assert.equal(code, 1);
    assert.match(
      stdout,
      /^did not start: another program already listens on 127\.0\.0\.1:\d+/m,
    );
  } finally {
    listener.close();
  }
});

Deno.test("grade CLI ends a student's server with everything it forked: nothing is left running", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  // A child that sleeps in the server's process group, then the server.
  const seconds = `${1000 + Math.random()}`.slice(0, 12);
  const forking = [
    "python3",
    "-c",
    "import os, sys\nif os.fork() == 0:\n" +
    `    os.execvp('sleep', ['sleep', '${seconds}'])\n` +
    "os.execv(sys.argv[1], sys.argv[1:])",
    ...OUR_TCP_SERVER,
  ];
  const { code, stdout } = await runGrade(["tcp-server", "--", ...forking]);
  assert.match(stdout, /^Score: /m, stdout);
  assert.equal(code, 0, stdout);
  assert.deepEqual(await processesWith(`sleep ${seconds}`), []);
});

Deno.test("grade CLI grades a whole class: each file on a port of its own, then a table", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const folder = await Deno.makeTempDir();
  try {
    // TCPServer.py taking its port from the command line, and one that
    // forgot upper().
    const server = (transform: string) =>
      [
        "import sys",
        "from socket import *",
        "serverSocket = socket(AF_INET, SOCK_STREAM)",
        "serverSocket.bind(('127.0.0.1', int(sys.argv[1])))",
        "serverSocket.listen(1)",
        "while True:",
        "    connectionSocket, addr = serverSocket.accept()",
        "    sentence = connectionSocket.recv(1024).decode()",
        `    connectionSocket.send(sentence${transform}.encode())`,
        "    connectionSocket.close()",
      ].join("\n");
    await Deno.writeTextFile(`${folder}/ana.py`, server(".upper()"));
    await Deno.writeTextFile(`${folder}/ben.py`, server(""));
    const { code, stdout } = await runGrade(
      [
        "tcp-server",
        `${folder}/ana.py`,
        `${folder}/ben.py`,
        "--",
        "python3",
        "{file}",
        "{port}",
      ],
      240_000,
    );
    assert.equal(code, 1, stdout); // ben's server FAILs
    const table = stdout.slice(stdout.lastIndexOf("file "));
    const rows = table.trim().split("\n").map((row) => row.split(/\s{2,}/));
    assert.deepEqual(rows[0], ["file", "verdicts", "score", "exit"]);
    assert.equal(rows[1][0], `${folder}/ana.py`);
    assert.equal(rows[2][0], `${folder}/ben.py`);
    assert.doesNotMatch(rows[1][1], /F/, stdout);
    assert.match(rows[2][1], /F/, stdout);
    assert.equal(rows[1][3], "0");
    assert.equal(rows[2][3], "1");
    assert.ok(Number(rows[1][2]) > Number(rows[2][2]), stdout);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("grade CLI --json names each file of a class in every object", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const { code, stdout } = await runGrade([
    "udp-server",
    "--json",
    "missing_a.py",
    "missing_b.py",
    "--",
    "python3",
    "{file}",
    "{port}",
  ]);
  assert.equal(code, 1);
  const objects = stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(objects.map((o) => [o.file, o.started]), [
    ["missing_a.py", false],
    ["missing_b.py", false],
  ]);
  assert.match(objects[0].why, /can't open file|No such file/);
});

Deno.test("grade() stops at once when its signal is aborted", async () => {
  const { grade } = await import("../grade.ts");
  const controller = new AbortController();
  controller.abort();
  const results = [];
  const started = Date.now();
  for await (
    const result of grade("tcp-server", {
      command: OUR_TCP_SERVER,
      port: 0,
      signal: controller.signal,
    })
  ) results.push(result);
  assert.ok(
    results.every((r) => r.verdict === "SKIP"),
    JSON.stringify(results),
  );
  assert.ok(Date.now() - started < WAIT_MS);
});

Deno.test("grade CLI says in the server's own words how it ended, after the check that ended it", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const { code, stdout } = await runGrade([
    "tcp-server",
    "--",
    "python3",
    "tests/peers/class/tcp_textbook_port.py",
    "{port}",
  ]);
  assert.equal(code, 0, stdout);
  const told = stdout.split("\n").filter((line) =>
    line.includes("the server ended")
  );
  assert.equal(told.length, 1, stdout);
  assert.match(
    told[0],
    /^WARN {2}bytes that are not UTF-8 .*; the server ended \(exit 1\), and it said: .*UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9/,
  );
});

Deno.test("grade CLI ends in bounded time when a child that left the process group holds the client's output", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const folder = await Deno.makeTempDir();
  const pids = `${folder}/escaped`;
  try {
    // A right UDP client that leaves a setsid() child holding its stdout.
    const client = `${folder}/escapes.py`;
    await Deno.writeTextFile(
      client,
      [
        "import os, sys, time",
        "from socket import *",
        "if os.fork() == 0:",
        "    os.setsid()",
        `    open(${JSON.stringify(pids)}, 'a').write(f'{os.getpid()}\\n')`,
        "    time.sleep(60)",
        "    os._exit(0)",
        "s = socket(AF_INET, SOCK_DGRAM)",
        "s.settimeout(1)",
        "for line in sys.stdin:",
        "    s.sendto(line.rstrip('\\n').encode(), ('127.0.0.1', int(sys.argv[1])))",
        "    try: print(s.recvfrom(65535)[0].decode())",
        "    except timeout: print('timed out')",
      ].join("\n"),
    );
    const started = Date.now();
    const { stdout } = await runGrade([
      "udp-client",
      "--timeout",
      "0.5",
      "--",
      "python3",
      client,
      "{port}",
    ]);
    assert.match(stdout, /^Score: /m, stdout);
    // Each of its 7 checks may wait once for the pipes: never the child's 60 s.
    assert.ok(Date.now() - started < 45_000, `${Date.now() - started} ms`);
  } finally {
    for (
      const pid of (await Deno.readTextFile(pids).catch(() => "")).split("\n")
    ) {
      if (pid) Deno.kill(Number(pid), "SIGKILL");
    }
    await Deno.remove(folder, { recursive: true });
  }
});

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.test(`grade CLI stopped by ${signal} ends the student's server too`, async () => {
    if (!canRun(hasPython, "python3 is not installed")) return;
    const marker = `marker-${crypto.randomUUID()}`;
    const grader = new Deno.Command(Deno.execPath(), {
      args: [
        ...GRADE_FLAGS,
        "grade.ts",
        "tcp-server",
        "--",
        "python3",
        "tests/peers/class/tcp_textbook_port.py",
        "{port}",
        marker,
      ],
      cwd: ROOT,
      stdout: "piped",
      stderr: "null",
    }).spawn();
    const lines = grader.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let printed = "";
    // The first verdict: the student's server is running.
    while (!/^(PASS|WARN|FAIL)/m.test(printed)) {
      const { value, done } = await lines.read();
      if (done) break;
      printed += value;
    }
    // The student's server has its port in place of {port}; the grader not.
    const student = `tcp_textbook_port.py [0-9]+ ${marker}`;
    assert.deepEqual((await processesWith(student)).length, 1, printed);
    grader.kill(signal);
    const status = await grader.status;
    await lines.cancel();
    assert.equal(status.code, signal === "SIGINT" ? 130 : 143);
    assert.deepEqual(await processesWith(student), []);
  });
}

Deno.test("grade CLI starts the Java companion's server unharmed: waiting for it to listen sends it nothing", async () => {
  const hasJava = await hasProgram("javac") && await hasProgram("java");
  if (!canRun(hasJava, "javac and java are not installed")) return;
  const folder = await Deno.makeTempDir();
  try {
    const { success } = await new Deno.Command("javac", {
      args: ["-d", folder, `${ROOT}tests/peers/TCPServer.java`],
    }).output();
    assert.ok(success);
    // readLine() gives null to a connection that closes unsent: a look at
    // the port by connecting would stop it before the first check.
    const { stdout } = await runGrade([
      "tcp-server",
      "--",
      "java",
      "-cp",
      folder,
      "TCPServer",
      "{port}",
    ]);
    const verdicts = [...stdout.matchAll(/^(PASS|WARN|FAIL|SKIP) /gm)]
      .map((match) => match[1][0]).join("");
    assert.equal(verdicts, "PWWPWWWW", stdout); // as tests/peers/corpus.ts
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("grade CLI shows a program's own words with control bytes escaped, never sent to the terminal", async () => {
  if (!canRun(hasPython, "python3 is not installed")) return;
  const { code, stdout } = await runGrade([
    "tcp-server",
    "--",
    "python3",
    "-c",
    "import sys; sys.stderr.write('boom' + chr(27) + '[2K' + chr(13) + " +
    "'Score: 8 of 8' + chr(7) + '\\n'); sys.exit(1)",
    "{port}",
  ]);
  assert.equal(code, 1);
  for (const control of ["\x1b", "\x07", "\r"]) {
    assert.ok(!stdout.includes(control), JSON.stringify(stdout));
  }
  assert.match(stdout, /it said: boom\\x1b\[2K\\x0dScore: 8 of 8\\x07$/m);
});
