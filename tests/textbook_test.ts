/**
 * The textbook edition (textbook/): the chapter's four programs in Deno,
 * each run as its header says, copied alone; paired with the textbook's
 * Python programs and with the full scripts; graded by grade.ts with the
 * verdicts its header promises; and holding the Python lines it translates.
 *
 * @module
 */
import assert from "node:assert/strict";
import { type CheckResult, grade } from "../grade.ts";
import {
  bytes,
  canRun,
  hasProgram,
  namespacesUnavailable,
  onTerminal,
  type Output,
  readAll,
  ROOT,
  runScript,
  script,
  startServer,
  tcpExchange,
  text,
  udpRoundTrip,
  udpSocket,
  withSystemFiles,
  withTimeout,
} from "./_helpers.ts";
import { TCP_CHECKS, UDP_CHECKS } from "./peers/corpus.ts";

const hasPython = await hasProgram("python3");
const pythonReason =
  "pairing with the textbook's Python programs needs python3";
const PROGRAMS = ["UDPClient", "UDPServer", "TCPClient", "TCPServer"];

/** A textbook program's source. */
function source(program: string): Promise<string> {
  return Deno.readTextFile(`${ROOT}textbook/${program}.ts`);
}

/** The `deno run` flags of the header's run line, e.g. `--allow-net`. */
async function headerFlags(program: string): Promise<string[]> {
  const line = (await source(program)).split("\n")
    .find((line) => line.startsWith("//   deno run "));
  assert.ok(line, `${program}.ts: a run line in its header`);
  const words = line.slice(3).trim().split(/\s+/);
  const file = words.indexOf(`${program}.ts`);
  assert.ok(file > 1, `${program}.ts: its run line names it`);
  return words.slice(1, file);
}

/** A folder holding only a copy of each named textbook program. */
async function copiedAlone(...programs: string[]): Promise<string> {
  const folder = await Deno.makeTempDir();
  for (const program of programs) {
    await Deno.copyFile(
      `${ROOT}textbook/${program}.ts`,
      `${folder}/${program}.ts`,
    );
  }
  return folder;
}

/** Starts a textbook server on 127.0.0.1, any port, as its header runs it. */
async function startTextbookServer(program: string, cwd = `${ROOT}textbook`) {
  return startServer([
    Deno.execPath(),
    ...await headerFlags(program),
    `${program}.ts`,
    ...["0", "127.0.0.1"],
  ], { cwd });
}

/** Runs a textbook client as its header runs it, `input` on its stdin. */
async function runTextbookClient(
  program: string,
  port: number,
  input: string,
  cwd = `${ROOT}textbook`,
): Promise<Output> {
  return runScript(`${program}.ts`, ["127.0.0.1", String(port)], {
    flags: await headerFlags(program),
    stdin: input,
    cwd,
  });
}

/** What a textbook client prints for `reply`, after its prompt. */
function printed(client: string, reply: string): string {
  const from = client === "TCPClient" ? "From Server:  " : "";
  return `Input lowercase sentence:${from}${reply}\n`;
}

/** Runs the Python stand-in of a textbook client (tests/peers/). */
async function pythonClient(program: string, port: number, sentence: string) {
  const file = program === "TCPClient"
    ? "textbook_tcp_client.py"
    : "textbook_udp_client.py";
  const out = await new Deno.Command("python3", {
    args: [`tests/peers/${file}`, "127.0.0.1", String(port), sentence],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { PYTHONIOENCODING: "utf-8" },
    signal: AbortSignal.timeout(10_000),
  }).output();
  return new TextDecoder().decode(out.stdout);
}

for (const program of PROGRAMS) {
  Deno.test(`textbook: ${program}.ts is 20 to 40 lines`, async () => {
    const lines = (await source(program)).trimEnd().split("\n").length;
    assert.ok(lines >= 20 && lines <= 40, `${lines} lines`);
  });

  Deno.test(`textbook: ${program}.ts imports no file and exports nothing`, async () => {
    const text = await source(program);
    for (const match of text.matchAll(/^import .* from "(.*)";$/gm)) {
      assert.match(match[1], /^node:/, `${program}.ts imports ${match[1]}`);
    }
    assert.doesNotMatch(text, /^export /m);
  });

  Deno.test(`textbook: ${program}.ts quotes ${program}.py line for line, each line above the code that does it`, async () => {
    const python = (await Deno.readTextFile(
      `${ROOT}tests/peers/textbook/${program}.py`,
    )).replace(/,\n\s*/g, ", ").split("\n").map((line) => line.trim())
      .filter((line) => line !== "");
    const lines = (await source(program)).split("\n").map((line) =>
      line.trim()
    );
    const quoted = (line: string) =>
      line.replace(/^\/\/\s*/, "").replace(/\s{3}\(.*\)$/, "");
    let at = 0;
    for (const pythonLine of python) {
      while (at < lines.length && quoted(lines[at]) !== pythonLine) at++;
      assert.ok(at < lines.length, `"${pythonLine}" quoted, in order`);
      const next = lines[at + 1];
      assert.ok(
        !next.startsWith("//") || python.includes(quoted(next)),
        `"${pythonLine}" stands directly above code, not above "${next}"`,
      );
      at++;
    }
  });
}

for (
  const [client, server] of [["UDPClient", "UDPServer"], [
    "TCPClient",
    "TCPServer",
  ]]
) {
  Deno.test(`textbook: ${client}.ts and ${server}.ts copied alone into an empty folder work with their header's run line`, async () => {
    const folder = await copiedAlone(client, server);
    try {
      const running = await startTextbookServer(server, folder);
      try {
        const out = await runTextbookClient(
          client,
          running.port,
          "hello straße\n",
          folder,
        );
        assert.equal(out.stdout, printed(client, "HELLO STRASSE"));
        assert.equal(out.code, 0, out.stderr);
      } finally {
        await running.stop("SIGKILL");
      }
    } finally {
      await Deno.remove(folder, { recursive: true });
    }
  });

  Deno.test({
    name: `textbook: ${server}.ts answers the textbook's ${client}.py`,
    ignore: !canRun(hasPython, pythonReason),
    async fn() {
      const running = await startTextbookServer(server);
      try {
        const out = await pythonClient(client, running.port, "hello world");
        assert.equal(
          out,
          client === "TCPClient"
            ? "From Server:  HELLO WORLD\n"
            : "HELLO WORLD\n",
        );
      } finally {
        await running.stop("SIGKILL");
      }
    },
  });

  Deno.test({
    name:
      `textbook: ${client}.ts gets its reply from the textbook's ${server}.py`,
    ignore: !canRun(hasPython, pythonReason),
    async fn() {
      const running = await startServer([
        "python3",
        "tests/peers/run_textbook.py",
        `tests/peers/textbook/${server}.py`,
      ]);
      try {
        const out = await runTextbookClient(client, running.port, "hello\n");
        assert.equal(out.stdout, printed(client, "HELLO"));
      } finally {
        await running.stop("SIGKILL");
      }
    },
  });

  const full = client === "TCPClient" ? "tcp" : "udp";
  Deno.test(`textbook: ${client}.ts gets its reply from the full ${full}_server.ts`, async () => {
    const running = await startServer(
      script(`${full}_server.ts`, "--host", "127.0.0.1", "-p", "0"),
    );
    try {
      const out = await runTextbookClient(client, running.port, "hello é\n");
      assert.equal(out.stdout, printed(client, "HELLO É"));
    } finally {
      await running.stop();
    }
  });

  Deno.test(`textbook: the full ${full}_client.ts gets every reply from ${server}.ts`, async () => {
    const running = await startTextbookServer(server);
    try {
      const out = await runScript(`${full}_client.ts`, [
        ...["--host", "127.0.0.1", "-p", String(running.port)],
      ], {
        stdin: "one\ntwo straße\n",
        flags: full === "tcp" ? ["run", "--allow-net"] : undefined,
      });
      assert.equal(out.stdout, "ONE\nTWO STRASSE\n");
      assert.equal(out.code, 0, out.stderr);
    } finally {
      await running.stop("SIGKILL");
    }
  });
}

/**
 * The verdicts a textbook server's header promises, by the check's short
 * name: "grade.ts udp-server gives 6 PASS and 1 WARN: not UTF-8" makes every check PASS
 * but "not UTF-8", a WARN.
 */
async function promisedVerdicts(
  program: string,
  checks: [string, string][],
): Promise<string[]> {
  const header = (await source(program)).split("\n\n")[0].replace(
    /\n\/\/ /g,
    " ",
  );
  const line = header.match(/ grade\.ts \w+-server gives [^.]*\./)?.[0];
  assert.ok(line, `${program}.ts: its header says what grade.ts gives`);
  const verdicts = checks.map(() => "PASS");
  for (const [, verdict, names] of line.matchAll(/(WARN|FAIL): ([^.;]+)/g)) {
    for (const name of names.split(", ")) {
      const index = checks.findIndex(([, short]) => short === name);
      assert.ok(index >= 0, `${program}.ts: no check is named "${name}"`);
      verdicts[index] = verdict;
    }
  }
  const passes = line.match(/(\d+) PASS/)?.[1];
  assert.equal(
    String(verdicts.filter((verdict) => verdict === "PASS").length),
    passes,
    `${program}.ts: the PASS it counts`,
  );
  return verdicts;
}

for (
  const [server, checks] of [["UDPServer", UDP_CHECKS], [
    "TCPServer",
    TCP_CHECKS,
  ]] as const
) {
  Deno.test(`textbook: grade.ts grades ${server}.ts with the verdicts its header promises`, async () => {
    const running = await startTextbookServer(server);
    try {
      const options = { hostname: "127.0.0.1", port: running.port };
      const results: CheckResult[] = [];
      await withTimeout(
        (async () => {
          const grades = server === "TCPServer"
            ? grade("tcp-server", options)
            : grade("udp-server", options);
          for await (const result of grades) results.push(result);
        })(),
        `grade.ts of ${server}.ts`,
        60_000,
      );
      assert.deepEqual(
        results.map((result) => `${result.check}: ${result.verdict}`),
        (await promisedVerdicts(server, checks)).map((verdict, i) =>
          `${checks[i][0]}: ${verdict}`
        ),
      );
    } finally {
      await running.stop("SIGKILL");
    }
  });
}

Deno.test("textbook: TCPServer.ts serves one client at a time, as TCPServer.py does", async () => {
  const running = await startTextbookServer("TCPServer");
  const first = await Deno.connect({
    hostname: "127.0.0.1",
    port: running.port,
  });
  try {
    const second = tcpExchange(running.port, bytes("second"));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const answeredEarly = await Promise.race([
      second.then(() => true),
      new Promise<boolean>((resolve) =>
        timer = setTimeout(resolve, 500, false)
      ),
    ]);
    clearTimeout(timer);
    assert.equal(answeredEarly, false, "the second client waits for the first");
    await first.write(bytes("first"));
    assert.equal(text(await second), "SECOND");
  } finally {
    first.close();
    await running.stop("SIGKILL");
  }
});

Deno.test("textbook: TCPServer.ts without its one `await` serves every client at once", async () => {
  const folder = await copiedAlone("TCPServer");
  try {
    const file = `${folder}/TCPServer.ts`;
    const program = await Deno.readTextFile(file);
    assert.equal(program.match(/await answer\(/g)?.length, 1);
    await Deno.writeTextFile(
      file,
      program.replace("await answer(", "answer("),
    );
    const running = await startTextbookServer("TCPServer", folder);
    const idle = await Deno.connect({
      hostname: "127.0.0.1",
      port: running.port,
    });
    try {
      assert.equal(
        text(await tcpExchange(running.port, bytes("second"))),
        "SECOND",
      );
    } finally {
      idle.close();
      await running.stop("SIGKILL");
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

for (const client of ["UDPClient", "TCPClient"]) {
  Deno.test(`textbook: ${client}.ts at the end of its input ends quietly, exit 0`, async () => {
    // A TCP client connects before it asks: a listener that never accepts
    // is enough, the connection waits in its backlog.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    try {
      const out = await runTextbookClient(client, listener.addr.port, "");
      assert.deepEqual(out, {
        code: 0,
        signal: null,
        stdout: "Input lowercase sentence:",
        stderr: "",
      });
    } finally {
      listener.close();
    }
  });
}

for (const client of ["UDPClient", "TCPClient"]) {
  Deno.test({
    name:
      `textbook: ${client}.ts at a terminal ends after its one reply, as ${client}.py does`,
    ignore: !canRun(hasPython, "the terminal test needs python3 for a pty"),
    async fn() {
      const server = await startServer(
        script(
          client === "UDPClient" ? "udp_server.ts" : "tcp_server.ts",
          ...["--host", "127.0.0.1", "-p", "0"],
        ),
      );
      try {
        // pty_run.py types Ctrl-D at a second prompt, and kills what is
        // still running after 10 s: either would show here.
        const { code, stdout } = await new Deno.Command("python3", {
          args: [
            `${ROOT}tests/peers/pty_run.py`,
            "Input lowercase sentence:",
            "hello",
            Deno.execPath(),
            ...await headerFlags(client),
            `${client}.ts`,
            ...["127.0.0.1", String(server.port)],
          ],
          cwd: `${ROOT}textbook`,
          stdout: "piped",
          signal: AbortSignal.timeout(15_000),
        }).output();
        const shown = onTerminal(stdout);
        assert.equal(code, 0, shown);
        assert.equal(shown, printed(client, "HELLO").replace(":", ":hello\n"));
      } finally {
        await server.stop();
      }
    },
  });
}

Deno.test("textbook: UDPClient.ts with its lines from input() to print() in a loop answers every line piped to it", async () => {
  const folder = await copiedAlone("UDPClient");
  const server = await startServer(
    script("udp_server.ts", "--host", "127.0.0.1", "-p", "0"),
  );
  try {
    // The chapter's exercise, as the README words it.
    const file = `${folder}/UDPClient.ts`;
    const lines = (await Deno.readTextFile(file)).split("\n");
    const from = lines.findIndex((line) => line.startsWith("// message = "));
    const to = lines.findIndex((line) => line.startsWith("// print("));
    assert.ok(0 < from && from < to, "the input() and print() lines");
    lines.splice(to + 2, 0, "}");
    lines.splice(from, 0, "while (true) {");
    await Deno.writeTextFile(file, lines.join("\n"));
    const out = await runTextbookClient(
      "UDPClient",
      server.port,
      "one\ntwo\nthree\n",
      folder,
    );
    assert.equal(out.stderr, "");
    assert.equal(out.code, 0);
    assert.equal(
      out.stdout,
      printed("UDPClient", "ONE") + printed("UDPClient", "TWO") +
        printed("UDPClient", "THREE") + "Input lowercase sentence:",
    );
  } finally {
    await server.stop();
    await Deno.remove(folder, { recursive: true });
  }
});

for (const exercise of [false, true]) {
  Deno.test({
    name: `textbook: TCPServer.ts${
      exercise ? " without its one `await`" : ""
    } outlives a client that resets its connection`,
    ignore: !canRun(hasPython, "a reset (SO_LINGER 0) is sent with python3"),
    async fn() {
      const folder = await copiedAlone("TCPServer");
      try {
        const file = `${folder}/TCPServer.ts`;
        const program = await Deno.readTextFile(file);
        if (exercise) {
          await Deno.writeTextFile(
            file,
            program.replace("await answer(", "answer("),
          );
        }
        const running = await startTextbookServer("TCPServer", folder);
        try {
          const reset = await new Deno.Command("python3", {
            args: ["-c", RESET_PEER, String(running.port)],
            stdout: "null",
            stderr: "piped",
            signal: AbortSignal.timeout(10_000),
          }).output();
          assert.equal(reset.code, 0, text(reset.stderr));
          assert.equal(
            text(await tcpExchange(running.port, bytes("after"))),
            "AFTER",
          );
        } finally {
          await running.stop("SIGKILL");
        }
      } finally {
        await Deno.remove(folder, { recursive: true });
      }
    },
  });
}

/**
 * Connects, waits until the server has accepted (the listener's queue in
 * /proc/net/tcp is empty), and resets the connection while it reads.
 */
const RESET_PEER = `
import socket, struct, sys, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port))
def queued():
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(":%04X" % port) and f[3] == "0A":
            return int(f[4].split(":")[1], 16)
deadline = time.time() + 5
while queued() != 0:
    if time.time() > deadline:
        sys.exit("the server never accepted")
    time.sleep(0.001)
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
`;

/** Runs a command line with `input` on its stdin, bounded. */
async function runWithInput(
  commandLine: string[],
  input: string,
  cwd = `${ROOT}textbook`,
): Promise<Output> {
  const [program, ...args] = commandLine;
  const child = new Deno.Command(program, {
    args,
    cwd,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(bytes(input)).catch(() => {});
  await writer.close().catch(() => {});
  const { code, signal, stdout, stderr } = await child.output();
  return { code, signal, stdout: text(stdout), stderr: text(stderr) };
}

const hostsReason = await namespacesUnavailable();
/** A hosts file that lists localhost on ::1 first, as many systems do. */
const IPV6_FIRST_HOSTS = "::1 localhost\n127.0.0.1 localhost\n";

for (
  const [client, server] of [["UDPClient", "UDPServer"], [
    "TCPClient",
    "TCPServer",
  ]]
) {
  Deno.test({
    name:
      `textbook: ${client}.ts reaches ${server}.ts at localhost where /etc/hosts lists ::1 first, as ${client}.py does`,
    ignore: !canRun(hostsReason === undefined, `${hostsReason}`),
    async fn() {
      await withSystemFiles(
        { "/etc/hosts": IPV6_FIRST_HOSTS },
        async (inHosts) => {
          // The server binds IPv4 only, as '' does in Python: a client that
          // sends to ::1 is not heard.
          const running = await startServer(
            inHosts([
              Deno.execPath(),
              ...await headerFlags(server),
              `${server}.ts`,
              ...["0", "127.0.0.1"],
            ]),
            { cwd: `${ROOT}textbook` },
          );
          try {
            const out = await runWithInput(
              inHosts([
                Deno.execPath(),
                ...await headerFlags(client),
                `${client}.ts`,
                ...["localhost", String(running.port)],
              ]),
              "hello\n",
            );
            assert.equal(out.stderr, "");
            assert.equal(out.stdout, printed(client, "HELLO"));
            assert.equal(out.code, 0);
            if (hasPython) {
              // The Python client, in the same namespace, does the same.
              const file = client === "TCPClient"
                ? "textbook_tcp_client.py"
                : "textbook_udp_client.py";
              const python = await runWithInput(
                inHosts([
                  "python3",
                  `tests/peers/${file}`,
                  ...["localhost", String(running.port), "hello"],
                ]),
                "",
                ROOT,
              );
              assert.match(python.stdout, /HELLO\n$/, python.stderr);
            }
          } finally {
            await running.stop("SIGKILL");
          }
        },
      );
    },
  });
}

Deno.test("textbook: UDPClient.ts prints a reply of 2,000 bytes whole (it reads 2,048, as recvfrom(2048))", async () => {
  const running = await startTextbookServer("UDPServer");
  try {
    const sentence = "a".repeat(2000);
    const out = await runTextbookClient(
      "UDPClient",
      running.port,
      `${sentence}\n`,
    );
    assert.equal(out.stderr, "");
    assert.equal(out.stdout, printed("UDPClient", sentence.toUpperCase()));
  } finally {
    await running.stop("SIGKILL");
  }
});

for (const server of ["UDPServer", "TCPServer"]) {
  Deno.test(`textbook: ${server}.ts keeps a leading byte-order mark, bytes in, bytes out, as ${server}.py does`, async () => {
    const running = await startTextbookServer(server);
    try {
      const request = bytes("\ufeffhello");
      let reply: Uint8Array;
      if (server === "UDPServer") {
        const socket = udpSocket();
        try {
          reply = await udpRoundTrip(socket, request, running.port);
        } finally {
          socket.close();
        }
      } else {
        reply = await tcpExchange(running.port, request);
      }
      assert.deepEqual(reply, bytes("\ufeffHELLO"));
    } finally {
      await running.stop("SIGKILL");
    }
  });

  Deno.test(`textbook: ${server}.ts shows an IPv6 address in brackets, [::1]:PORT`, async () => {
    let hasIpv6 = true;
    try {
      Deno.listen({ hostname: "::1", port: 0 }).close();
    } catch {
      hasIpv6 = false;
    }
    if (!canRun(hasIpv6, "this machine has no IPv6 loopback (::1)")) return;
    const running = await startServer([
      Deno.execPath(),
      ...await headerFlags(server),
      `${server}.ts`,
      ...["0", "::1"],
    ], { cwd: `${ROOT}textbook` });
    try {
      assert.equal(
        running.readyLine,
        `The server is ready to receive on [::1]:${running.port}`,
      );
    } finally {
      await running.stop("SIGKILL");
    }
  });

  Deno.test(`textbook: ${server}.ts on a port another server holds says AddrInUse, as the README explains`, async () => {
    const holder = server === "TCPServer"
      ? Deno.listen({ hostname: "127.0.0.1", port: 0 })
      : udpSocket();
    try {
      const { port } = holder.addr as Deno.NetAddr;
      const out = await runScript(`${server}.ts`, [String(port), "127.0.0.1"], {
        flags: await headerFlags(server),
        cwd: `${ROOT}textbook`,
      });
      assert.equal(out.code, 1);
      assert.match(out.stderr, /AddrInUse: Address already in use/);
      const readme = await Deno.readTextFile(`${ROOT}textbook/README.md`);
      assert.match(
        readme,
        /`AddrInUse`[^]*?about\s+a\s+minute[^]*?another\s+port/,
      );
    } finally {
      holder.close();
    }
  });
}

Deno.test({
  name:
    "textbook: after TCPServer.py's last connection TCPServer.ts says AddrInUse on its port for a while (TIME-WAIT), starts on another, and restarts at once after its own",
  ignore: !canRun(hasPython, pythonReason),
  async fn() {
    const python = await startServer([
      "python3",
      "tests/peers/run_textbook.py",
      "tests/peers/textbook/TCPServer.py",
    ]);
    const { port } = python;
    try {
      // The server closes first (the client neither half-closes nor closes
      // before the end of the reply), so its side of the connection waits
      // in TIME-WAIT, on its port, for a minute.
      const client = await Deno.connect({ hostname: "127.0.0.1", port });
      try {
        await client.write(bytes("hello"));
        assert.equal(text(await readAll(client)), "HELLO");
      } finally {
        client.close();
      }
    } finally {
      await python.stop("SIGKILL");
    }
    const held = await runScript("TCPServer.ts", [String(port), "127.0.0.1"], {
      flags: await headerFlags("TCPServer"),
      cwd: `${ROOT}textbook`,
    });
    assert.equal(held.code, 1);
    assert.match(held.stderr, /AddrInUse: Address already in use/);
    // Another port works; and the Deno server's own connections do not
    // hold its port (it binds with SO_REUSEADDR, as they were made).
    const deno = await startTextbookServer("TCPServer");
    try {
      assert.equal(text(await tcpExchange(deno.port, bytes("one"))), "ONE");
    } finally {
      await deno.stop("SIGKILL");
    }
    const again = await startServer([
      Deno.execPath(),
      ...await headerFlags("TCPServer"),
      "TCPServer.ts",
      ...[String(deno.port), "127.0.0.1"],
    ], { cwd: `${ROOT}textbook` });
    try {
      assert.equal(text(await tcpExchange(again.port, bytes("two"))), "TWO");
    } finally {
      await again.stop("SIGKILL");
    }
  },
});

/** Connects, and resets (SO_LINGER 0) at once, while it waits in the backlog. */
const BACKLOG_RESET_PEER = `
import socket, struct, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
s.close()
`;

Deno.test({
  name:
    "textbook: TCPServer.ts outlives a client that resets while it waits in the backlog",
  ignore: !canRun(hasPython, "a reset (SO_LINGER 0) is sent with python3"),
  async fn() {
    const running = await startTextbookServer("TCPServer");
    try {
      // The server reads from the first client; the second waits in the
      // backlog, and resets there.
      const first = await Deno.connect({
        hostname: "127.0.0.1",
        port: running.port,
      });
      try {
        const reset = await new Deno.Command("python3", {
          args: ["-c", BACKLOG_RESET_PEER, String(running.port)],
          stderr: "piped",
          signal: AbortSignal.timeout(10_000),
        }).output();
        assert.equal(reset.code, 0, text(reset.stderr));
        await first.write(bytes("first"));
        await first.closeWrite();
        assert.equal(text(await readAll(first)), "FIRST");
      } finally {
        first.close();
      }
      assert.equal(
        text(await tcpExchange(running.port, bytes("after"))),
        "AFTER",
      );
    } finally {
      await running.stop("SIGKILL");
    }
  },
});

/**
 * Resets COUNT connections one after another, each once the server has
 * accepted it (the listener's queue in /proc/net/tcp is empty).
 */
const ACCEPTED_RESETS_PEER = `
import socket, struct, sys, time
port, count = int(sys.argv[1]), int(sys.argv[2])
def queued():
    for line in open("/proc/net/tcp").read().splitlines()[1:]:
        f = line.split()
        if f[1].endswith(":%04X" % port) and f[3] == "0A":
            return int(f[4].split(":")[1], 16)
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    deadline = time.time() + 5
    while queued() != 0:
        if time.time() > deadline:
            sys.exit("the server never accepted")
        time.sleep(0.001)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
`;

Deno.test({
  name:
    "textbook: TCPServer.ts closes the socket of each client that resets after accept (its open files stay bounded)",
  ignore: !canRun(hasPython, "a reset (SO_LINGER 0) is sent with python3"),
  async fn() {
    const running = await startTextbookServer("TCPServer");
    // Deno reads /proc/PID/fd only with --allow-all; ls needs no more.
    const openFiles = async () => {
      const { stdout } = await new Deno.Command("ls", {
        args: [`/proc/${running.pid}/fd`],
        stdout: "piped",
      }).output();
      return text(stdout).split("\n").filter((name) => name !== "").length;
    };
    try {
      assert.equal(text(await tcpExchange(running.port, bytes("a"))), "A");
      const before = await openFiles();
      const resets = 30;
      const reset = await new Deno.Command("python3", {
        args: ["-c", ACCEPTED_RESETS_PEER, String(running.port), `${resets}`],
        stderr: "piped",
        signal: AbortSignal.timeout(30_000),
      }).output();
      assert.equal(reset.code, 0, text(reset.stderr));
      // One client at a time: once this one is answered, every reset is
      // behind it.
      assert.equal(text(await tcpExchange(running.port, bytes("b"))), "B");
      const after = await openFiles();
      assert.ok(after - before < 5, `${before} open files, then ${after}`);
    } finally {
      await running.stop("SIGKILL");
    }
  },
});
