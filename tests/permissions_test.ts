/**
 * Deno's permission prompt never appears: at a terminal it would stop the
 * whole program until someone answers. A server missing its permission at
 * start-up says so in one line and exits 1, even on a pseudo-terminal, and
 * every restricted `--allow-net=` line the READMEs show carries
 * `--no-prompt`.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bytes,
  canRun,
  hasProgram,
  onTerminal,
  ROOT,
  startServer,
  udpSocket,
  withTimeout,
} from "./_helpers.ts";

/** Runs `commandLine` on a pseudo-terminal (`script`), killed after 20 s. */
async function onPty(commandLine: string) {
  const { code, stdout } = await new Deno.Command("script", {
    args: ["-qec", commandLine, "/dev/null"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  return { code, shown: onTerminal(stdout) };
}

for (
  const [name, flags] of [
    ["tcp_server.ts", ""],
    ["udp_server.ts", "--unstable-net"],
  ]
) {
  Deno.test(`permissions: ${name} at a terminal without access to its address: one line, exit 1, no prompt`, async () => {
    if (!canRun(await hasProgram("script"), "script (util-linux) is missing")) {
      return;
    }
    const started = Date.now();
    const { code, shown } = await onPty(
      `deno run --allow-net=127.0.0.1:12000 ${flags} ${name} ` +
        "--host 127.0.0.1 --port 0",
    );
    assert.doesNotMatch(shown, /Deno requests|Allow\?/);
    assert.equal(
      shown.trim(),
      `${name.slice(0, -3)}: network access to 127.0.0.1:0 was not ` +
        `granted: deno run --allow-net ${flags ? `${flags} ` : ""}${name}`,
    );
    assert.equal(code, 1);
    assert.ok(Date.now() - started < 15_000, `${Date.now() - started} ms`);
  });
}

Deno.test("permissions: every --allow-net= line of the READMEs has --no-prompt", async () => {
  for (const file of ["README.md", "textbook/README.md"]) {
    const lines = (await Deno.readTextFile(`${ROOT}${file}`)).split("\n")
      .filter((line) => /deno (?:run|compile) .*--allow-net=/.test(line));
    if (file === "README.md") assert.ok(lines.length >= 4, file);
    for (const line of lines) assert.match(line, /--no-prompt/, line);
  }
});

// A client checks its bind (udp_client: 0.0.0.0:0) and the server's address,
// looked up, before it sends or connects. Its hint names all it needs; a name
// refused cannot be looked up, so its addresses stand as ADDRESS.
const ADDRESS_HINT = "ADDRESS:PORT (the name, to look it up, and each " +
  "ADDRESS it has with the port)";
for (
  const [name, allowed, missing, options, grant] of [
    ["tcp_client.ts", "127.0.0.1:1", "127.0.0.1:9", "hello", "127.0.0.1:9"],
    [
      "udp_client.ts",
      "0.0.0.0:0,127.0.0.1:1",
      "127.0.0.1:9",
      "hello",
      "127.0.0.1:9,0.0.0.0:0",
    ],
    [
      "udp_client.ts",
      "0.0.0.0:0,127.0.0.1:1",
      "127.0.0.1:9",
      "--ping 1",
      "127.0.0.1:9,0.0.0.0:0",
    ],
    [
      "udp_client.ts",
      "0.0.0.0:0,127.0.0.1:1",
      "127.0.0.1:9",
      "--heartbeat --count 1",
      "127.0.0.1:9,0.0.0.0:0",
    ],
    [
      "udp_client.ts",
      "127.0.0.1:9",
      "0.0.0.0:0",
      "hello",
      "0.0.0.0:0,127.0.0.1:9",
    ],
    [
      "tcp_client.ts",
      "localhost:9",
      "localhost",
      "--host localhost hello",
      `localhost,${ADDRESS_HINT}`,
    ],
    [
      "udp_client.ts",
      "0.0.0.0:0,localhost:9",
      "localhost",
      "--host localhost hello",
      `localhost,0.0.0.0:0,${ADDRESS_HINT}`,
    ],
  ]
) {
  const flags = name.startsWith("udp") ? "--unstable-net " : "";
  Deno.test(`permissions: ${name} ${options} at a terminal without access to ${missing}: one line, exit 1, no prompt`, async () => {
    if (!canRun(await hasProgram("script"), "script (util-linux) is missing")) {
      return;
    }
    const started = Date.now();
    const { code, shown } = await onPty(
      `deno run --allow-net=${allowed} ${flags}${name} ` +
        (options.includes("--host") ? "" : "--host 127.0.0.1 ") +
        `--port 9 ${options}`,
    );
    assert.doesNotMatch(shown, /Deno requests|Allow\?/);
    assert.equal(
      shown.trim(),
      `${name.slice(0, -3)}: network access to "${missing}" was not ` +
        `granted: give --no-prompt --allow-net=${grant}, or --allow-net: ` +
        `deno run --allow-net ${flags}${name}`,
    );
    assert.equal(code, 1);
    assert.ok(Date.now() - started < 15_000, `${Date.now() - started} ms`);
  });
}

Deno.test("permissions: udp_server's hint for a refused reply is a line that cannot prompt (--no-prompt --allow-net=...)", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      ...["run", "--no-prompt", "--allow-net=127.0.0.1:0", "--unstable-net"],
      ...["udp_server.ts", "--host", "127.0.0.1", "-p", "0"],
    ],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stdout = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  const socket = udpSocket();
  try {
    const { value } = await withTimeout(stdout.read(), "the ready line");
    const port = Number(value?.match(/:(\d+)\n/)?.[1]);
    const to = { transport: "udp", hostname: "127.0.0.1", port } as const;
    await socket.send(bytes("hi"), to);
    let said = "";
    while (!said.includes("\n")) {
      const { value, done } = await withTimeout(stderr.read(), "a log line");
      if (done) break;
      said += value;
    }
    assert.match(
      said,
      /, e\.g\. --no-prompt --allow-net=127\.0\.0\.1:\d+,127\.0\.0\.1\n$/,
    );
  } finally {
    socket.close();
    child.kill("SIGTERM");
    await child.status;
    await stdout.cancel();
    await stderr.cancel();
  }
});

// --allow-net=localhost:PORT, enough for the textbook's TCPClient (Deno
// connects by the name), is not for a full client: it looks the name up
// itself, to try each address. Its refusal names both forms; with the name
// granted, it names exactly what to grant, and granting that is enough.
for (
  const [name, server, flags] of [
    ["tcp_client.ts", "tcp_server.ts", ""],
    ["udp_client.ts", "udp_server.ts", "--unstable-net "],
  ]
) {
  Deno.test(`permissions: ${name}'s hint for --allow-net=localhost:PORT names the name and ADDRESS:PORT; with the name granted, its flags, followed exactly, make the next run work`, async () => {
    if (!canRun(await hasProgram("script"), "script (util-linux) is missing")) {
      return;
    }
    const running = await startServer([
      Deno.execPath(),
      ...["run", "--allow-net", "--unstable-net", server, "--port", "0"],
    ]);
    try {
      const { port } = running;
      const run = (allowNet: string) =>
        onPty(`deno run ${allowNet} ${flags}${name} --port ${port} hello`);
      const first = await run(`--no-prompt --allow-net=localhost:${port}`);
      assert.match(
        first.shown,
        /give --no-prompt --allow-net=localhost,\S*ADDRESS:PORT /,
      );
      const second = await run("--no-prompt --allow-net=localhost");
      const given = second.shown.match(/give (--no-prompt --allow-net=\S+),/);
      assert.ok(given, second.shown);
      assert.match(given[1], new RegExp(`,127\\.0\\.0\\.1:${port}\\b`));
      const third = await run(given[1]);
      assert.equal(third.shown.trim(), "HELLO", given[1]);
      assert.equal(third.code, 0);
    } finally {
      await running.stop();
    }
  });
}
