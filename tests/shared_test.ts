/**
 * What the two servers share: each script stands alone, so each carries its
 * own copy of fairness and upper-casing, and these tests keep the copies
 * identical and the upper-casing right on every input; and the blocks the
 * two clients, and all four scripts, share.
 *
 * @module
 */
import assert from "node:assert/strict";
import { upperCase, upperCaseInto } from "../udp_server.ts";
import {
  bytes,
  canRun,
  hasProgram,
  ROOT,
  runScript,
  script,
  startServer,
  tcpExchange,
  text,
  udpRoundTrip,
  udpSocket,
  WAIT_MS,
  withTimeout,
} from "./_helpers.ts";

/** The text from `start` to `end` (two marker lines) in script `name`. */
async function block(
  name: string,
  start: string,
  end: string,
): Promise<string> {
  const source = await Deno.readTextFile(`${ROOT}${name}`);
  const from = source.indexOf(start);
  const to = source.indexOf(end);
  assert.ok(from > 0 && to > from, `${name}: the markers of "${start}"`);
  return source.slice(from, to);
}

Deno.test("shared helpers: the two servers' blocks are identical, word for word", async () => {
  const start = "// Shared by udp_server.ts and tcp_server.ts";
  const end = "// End of the part shared by the two servers.";
  const udp = await block("udp_server.ts", start, end);
  assert.ok(udp.includes("function upperCaseInto("));
  assert.equal(await block("tcp_server.ts", start, end), udp);
});

Deno.test("shared helpers: the two clients' blocks are identical, word for word", async () => {
  const start = "// Shared by udp_client.ts and tcp_client.ts";
  const end = "// End of the part shared by the two clients.";
  const udp = await block("udp_client.ts", start, end);
  assert.ok(udp.includes("function* readLines("));
  assert.equal(await block("tcp_client.ts", start, end), udp);
});

Deno.test("shared helpers: the clients keep no grading code: it is grade.ts's", async () => {
  const grading = [
    "AnswerBook",
    "Probe",
    "CheckSocket",
    "checkTcp",
    "checkUdp",
    "gradeUnicode",
    "gradeInvalid",
    "reportChecks",
    "Verdict",
    "CheckResult",
    "ServerUnderTest",
    "UdpServerUnderTest",
  ];
  for (const name of ["udp_client.ts", "tcp_client.ts"]) {
    const source = await Deno.readTextFile(`${ROOT}${name}`);
    for (const defined of grading) {
      assert.ok(
        !new RegExp(
          `^(?:export )?(?:async )?(?:function\\*?|class|const|let|type|interface) ${defined}\\b`,
          "m",
        ).test(source),
        `${name}: ${defined} is still defined`,
      );
    }
  }
});

Deno.test("shared helpers: grade.ts defines what the server checks share once, in its own section", async () => {
  const source = await Deno.readTextFile(`${ROOT}grade.ts`);
  const shared = await block(
    "grade.ts",
    "// Grading servers: what the checks share",
    "// Grading clients: tcp-client and udp-client",
  );
  const names = [
    ...shared.matchAll(
      /^(?:export )?(?:async )?(?:function\*?|class|const|let|type|interface) ([\w$]+)/gm,
    ),
  ].map(([, defined]) => defined);
  for (const expected of ["AnswerBook", "shown", "sameBytes", "gradeUnicode"]) {
    assert.ok(names.includes(expected), expected);
  }
  const outside = source.replace(shared, "");
  for (const defined of names) {
    assert.ok(
      !new RegExp(
        `^(?:export )?(?:async )?(?:function\\*?|class|const|let|type|interface) ${defined}\\b`,
        "m",
      ).test(outside),
      `grade.ts: ${defined} is defined outside the shared section too`,
    );
  }
});

Deno.test("shared helpers: the block all four scripts share is identical, word for word", async () => {
  const start = "// Shared by all four scripts";
  const end = "// End of the part shared by all four scripts.";
  const udp = await block("udp_server.ts", start, end);
  assert.ok(udp.includes("function parseNumber("));
  for (
    const name of [
      "tcp_server.ts",
      "udp_client.ts",
      "tcp_client.ts",
      "grade.ts",
    ]
  ) {
    assert.equal(await block(name, start, end), udp, name);
  }
});

Deno.test("shared helpers: each script keeps them in one marked block, and nowhere else", async () => {
  for (
    const [name, pair] of [
      ["udp_server.ts", "// Shared by udp_server.ts and tcp_server.ts"],
      ["tcp_server.ts", "// Shared by udp_server.ts and tcp_server.ts"],
      ["udp_client.ts", "// Shared by udp_client.ts and tcp_client.ts"],
      ["tcp_client.ts", "// Shared by udp_client.ts and tcp_client.ts"],
    ]
  ) {
    const source = await Deno.readTextFile(`${ROOT}${name}`);
    const parts = source.split(/\n\/\/ =+\n\/\/ Shared helpers\n\/\/ =+\n/);
    assert.equal(parts.length, 2, `${name}: one Shared helpers section`);
    const section = source.slice(source.indexOf("\n// Shared helpers\n"));
    const all = section.indexOf("// Shared by all four scripts");
    const pairStart = section.indexOf(pair);
    const ends = section.indexOf("// End of the part shared by", pairStart);
    assert.ok(0 < all && all < pairStart && pairStart < ends, name);
    // After the block, only the entry point.
    const after = section.slice(section.indexOf("\n", ends)).trim();
    assert.match(after, /^if \(import\.meta\.main\) \{[^]*\}$/, name);
    assert.ok(!after.includes("function "), name);
    // Nothing the block defines is defined again outside it: no drifted copy.
    const outside = source.slice(0, source.indexOf("\n// Shared helpers\n"));
    for (
      const [, defined] of section.matchAll(
        /^(?:async )?(?:function\*?|class|const|let) ([\w$]+)/gm,
      )
    ) {
      assert.ok(
        !new RegExp(
          `^(?:export )?(?:async )?(?:function\\*?|class|const|let) ${defined}\\b`,
          "m",
        ).test(outside),
        `${name}: ${defined} is defined outside the shared block too`,
      );
    }
  }
});

Deno.test("shared helpers: a negative number is refused by its option's range, in all four scripts", async () => {
  for (
    const [name, args, message] of [
      [
        "tcp_server.ts",
        ["--port", "-1"],
        "--port must be a whole number from 0 to 65535, not -1",
      ],
      [
        "udp_server.ts",
        ["--drop-rate", "-0.5"],
        "--drop-rate must be a fraction from 0 to 1 (up to 6 decimals), not -0.5",
      ],
      [
        "tcp_client.ts",
        ["--timeout", "-1", "hi"],
        "--timeout must be seconds from 0.001 to 3600 (up to 3 decimals), not -1",
      ],
      [
        "udp_client.ts",
        ["-p", "-5", "hi"],
        "--port must be a whole number from 1 to 65535, not -5",
      ],
    ] as const
  ) {
    const out = await runScript(name, [...args]);
    assert.equal(out.code, 2, name);
    assert.equal(
      out.stderr,
      `${name.replace(".ts", "")}: ${message} (see --help)\n`,
    );
  }
});

const encoder = new TextEncoder();

/**
 * The clients' shared helpers as a module of their own, to call what the
 * scripts keep private: the block itself, with the names it expects.
 */
async function clientHelpers(): Promise<{
  readLines(
    readable: ReadableStream<Uint8Array>,
    maxLength?: number,
  ): AsyncGenerator<Uint8Array>;
}> {
  const source = await Deno.readTextFile(`${ROOT}tcp_client.ts`);
  const from = source.indexOf("// Shared by udp_client.ts and tcp_client.ts");
  const to = source.indexOf("// End of the part shared by the two clients.");
  const module = `const PROMPT = "";\nconst RUN_LINE = "";\n` +
    `${source.slice(from, to)}\nexport { readLines };\n`;
  const base64 = btoa(String.fromCharCode(...encoder.encode(module)));
  return await import(`data:application/typescript;base64,${base64}`);
}

Deno.test("shared helpers: the clients read a line that comes in 200,000 pieces", async () => {
  const { readLines } = await clientHelpers();
  const pieces = 200_000;
  let sent = 0;
  const trickle = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent++ < pieces) controller.enqueue(new Uint8Array([0x61]));
      else {
        controller.enqueue(new Uint8Array([0x0a]));
        controller.close();
      }
    },
  });
  const lines: Uint8Array[] = [];
  for await (const line of readLines(trickle)) lines.push(line);
  assert.deepEqual(lines.map((line) => line.length), [pieces]);
  assert.ok(lines[0].every((byte) => byte === 0x61));
});

const strictDecoder = new TextDecoder("utf-8", {
  fatal: true,
  ignoreBOM: true,
});

/**
 * The definition, plainly: each run of valid UTF-8 characters decoded and
 * upper-cased whole, each byte that is not valid UTF-8 kept as it is.
 */
function upperCaseByDefinition(message: Uint8Array): Uint8Array {
  const out: number[] = [];
  let run: number[] = [];
  const endRun = () => {
    out.push(
      ...encoder.encode(
        strictDecoder.decode(new Uint8Array(run)).toUpperCase(),
      ),
    );
    run = [];
  };
  for (let i = 0; i < message.length;) {
    // The valid character that starts here, if any: 1 to 4 bytes.
    let length = 0;
    for (let k = 1; k <= 4 && i + k <= message.length && !length; k++) {
      try {
        const text = strictDecoder.decode(message.subarray(i, i + k));
        if ([...text].length === 1) length = k;
      } catch {
        // not a whole character yet
      }
    }
    if (length) {
      run.push(...message.subarray(i, i + length));
      i += length;
    } else {
      endRun();
      out.push(message[i++]);
    }
  }
  endRun();
  return new Uint8Array(out);
}

Deno.test("upperCase() maps every code point as String#toUpperCase does, 3 times longer at most", () => {
  for (let block = 0; block <= 0x10ff; block++) {
    let characters = "";
    for (
      let codePoint = block << 8;
      codePoint < (block + 1) << 8;
      codePoint++
    ) {
      if (codePoint >= 0xd800 && codePoint <= 0xdfff) continue;
      const character = String.fromCodePoint(codePoint);
      const upper = character.toUpperCase();
      if (upper !== character) {
        const growth = encoder.encode(upper).length /
          encoder.encode(character).length;
        assert.ok(
          growth <= 3,
          `U+${codePoint.toString(16)} grows ${growth} times`,
        );
      }
      characters += character;
    }
    if (characters === "") continue;
    assert.deepEqual(
      upperCase(encoder.encode(characters)),
      encoder.encode(characters.toUpperCase()),
      `code points U+${(block << 8).toString(16)} and on`,
    );
  }
  assert.equal(
    new TextDecoder().decode(upperCase(encoder.encode("straße ΐ ŉ"))),
    "STRASSE \u0399\u0308\u0301 \u02bcN",
  );
});

Deno.test("upperCase() treats random mixes of text and invalid bytes as by definition", () => {
  const alphabet = [
    ...encoder.encode("aZ`{ß é ŉ ΐ ᾀ ﬃ 😀 𐐨\n"),
    0x80,
    0xbf,
    0xc0,
    0xc1,
    0xc3,
    0xe0,
    0xe2,
    0xed,
    0xef,
    0xf0,
    0xf4,
    0xf5,
    0xff,
  ];
  for (let round = 0; round < 1000; round++) {
    const input = Uint8Array.from(
      { length: Math.floor(Math.random() * 48) },
      () => alphabet[Math.floor(Math.random() * alphabet.length)],
    );
    assert.deepEqual(
      upperCase(input),
      upperCaseByDefinition(input),
      `${input}`,
    );
  }
});

Deno.test("upperCaseInto() writes pieces of any size that join up to the whole", () => {
  const input = new Uint8Array([
    ...encoder.encode("ΐ straße 😀 ŉ"),
    0xff,
    ...encoder.encode("é"),
    0xe2,
  ]);
  const whole = upperCase(input);
  for (let room = 6; room <= 20; room++) {
    const pieces: number[] = [];
    const destination = new Uint8Array(room);
    let done = 0;
    while (done < input.length) {
      const { read, written } = upperCaseInto(
        input.subarray(done),
        destination,
      );
      assert.ok(read > 0, "a whole character always fits in 6 bytes");
      pieces.push(...destination.subarray(0, written));
      done += read;
    }
    assert.deepEqual(new Uint8Array(pieces), whole, `room ${room}`);
  }
});

Deno.test("upperCaseInto() holds back only the start of a character that may yet be whole", () => {
  const cases: [number[], number][] = [
    [[0x61, 0xc3], 1], // "a" and the start of "é": waits
    [[0x61, 0xe2, 0x82], 1], // two of "€"'s three bytes: wait
    [[0x61, 0xf0, 0x9f, 0x98], 1], // three of "😀"'s four: wait
    [[0x61, 0xff], 2], // can never begin a character
    [[0x61, 0xc0], 2], // overlong lead
    [[0x61, 0xe0, 0x80], 3], // overlong
    [[0x61, 0xed, 0xa0], 3], // a surrogate
    [[0x61, 0xf5], 2], // beyond U+10FFFF
    [[0x61, 0x80], 2], // a lone continuation byte
  ];
  for (const [bytes, read] of cases) {
    const result = upperCaseInto(
      new Uint8Array(bytes),
      new Uint8Array(16),
      false,
    );
    assert.equal(result.read, read, `${bytes}`);
    // At the end of the stream, everything goes.
    assert.equal(
      upperCaseInto(new Uint8Array(bytes), new Uint8Array(16)).read,
      bytes.length,
    );
  }
});

Deno.test("upperCaseInto() works out at most 200 characters new to it in one call, unless final", async () => {
  // A fresh process, whose table has met none of these 1,000 characters.
  const code = `
    import { upperCaseInto } from "${ROOT}udp_server.ts";
    const text = String.fromCodePoint(
      ...Array.from({ length: 1000 }, (_, k) => 0x4e00 + 16 * k),
    );
    const source = new TextEncoder().encode(text);
    const destination = new Uint8Array(source.length);
    const first = upperCaseInto(source, destination, false).read;
    const second = upperCaseInto(source.subarray(first), destination, false).read;
    const known = upperCaseInto(source.subarray(0, 1200), destination, false);
    const final = upperCaseInto(source, destination, true).read;
    console.log(JSON.stringify([first, second, known.read, final]));
  `;
  const { stdout } = await new Deno.Command(Deno.execPath(), {
    args: ["eval", code],
    stdout: "piped",
  }).output();
  const [first, second, known, final] = JSON.parse(text(stdout));
  assert.equal(first, 200 * 3); // 200 characters of 3 bytes
  assert.equal(second, 200 * 3);
  assert.equal(known, 400 * 3, "characters met before are not counted");
  assert.equal(final, 1000 * 3, "at the end, all at once");
});

Deno.test("upperCase() takes linear time on any input, invalid bytes included", () => {
  // 16 MiB of each: about a second each at 1 µs a byte, the old cost of
  // input that mixes valid and invalid bytes.
  const units = [
    [0xff, 0x61],
    [0xff, 0xce, 0xb1],
    [...encoder.encode("ΐ αβγ")],
    [0xe2, 0x82, 0x61],
  ];
  for (const unit of units) {
    const input = new Uint8Array(16 * 1024 * 1024);
    for (let i = 0; i < input.length; i++) input[i] = unit[i % unit.length];
    const started = performance.now();
    upperCase(input);
    const took = performance.now() - started;
    assert.ok(took < 5_000, `${unit}: ${took.toFixed(0)} ms for 16 MiB`);
  }
});

// The shared blocks' behaviour, driven from outside: the command line's
// ranges, the servers' signals, log queue, `--verbose` times and error lines.

/** Each script with every numeric option at its stated maximum. */
const AT_MAXIMUM: [string, ...string[]][] = [
  [
    "udp_server.ts",
    ...["--port", "65535", "--drop-rate", "1", "--seed", "4294967295"],
    ...["--heartbeat", "86400"],
  ],
  [
    "tcp_server.ts",
    ...["--port", "65535", "--max-connections", "1000000"],
    ...["--idle-timeout", "86400"],
  ],
  [
    "udp_client.ts",
    "--port",
    "65535",
    "--timeout",
    "3600",
    "--retries",
    "100",
    "hi",
  ],
  ["udp_client.ts", "--ping", "1000000", "--interval", "3600"],
  ["udp_client.ts", "--heartbeat", "--count", "1000000000"],
  ["tcp_client.ts", "--port", "65535", "--timeout", "3600", "hi"],
  [
    "grade.ts",
    ...["udp-server", "--port", "65535", "--timeout", "3600"],
    ...["--retries", "100", "--interval", "3600"],
  ],
];

Deno.test("shared helpers: each numeric option's stated maximum is accepted, by every script", async () => {
  for (const [name, ...args] of AT_MAXIMUM) {
    // No network access: each stops at its first socket, after the options.
    const output = await runScript(name, args, {
      flags: ["run", "--no-prompt", "--unstable-net"],
      ms: 20_000,
    });
    assert.notEqual(
      output.code,
      2,
      `${name} ${args.join(" ")}: ${output.stderr}`,
    );
    assert.doesNotMatch(output.stderr, /must be|see --help/, name);
    assert.match(output.stderr + output.stdout, /not granted/, name);
  }
});

/** Binds `port` on loopback (TCP or UDP), retrying until free; bounded. */
async function untilFree(kind: "tcp" | "udp", port: number) {
  const until = Date.now() + WAIT_MS;
  while (true) {
    try {
      const socket = kind === "tcp"
        ? Deno.listen({ hostname: "127.0.0.1", port })
        : Deno.listenDatagram({
          transport: "udp",
          hostname: "127.0.0.1",
          port,
        });
      socket.close();
      return;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse) || Date.now() > until) {
        throw error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}

/**
 * A server run with `-v` whose stderr nobody reads until `readStderr`:
 * `exchanges` round trips fill the pipe and the log's queue.
 */
async function serverWithStalledLog(kind: "tcp" | "udp", exchanges: number) {
  const [program, ...args] = script(
    `${kind}_server.ts`,
    ...["--host", "127.0.0.1", "-p", "0", "-v"],
  );
  const child = new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const ready = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const { value } = await withTimeout(ready.read(), "the ready line");
  const port = Number(value!.match(/:(\d+)\n/)![1]);
  await ready.cancel();
  const client = kind === "udp" ? udpSocket() : undefined;
  try {
    for (let i = 0; i < exchanges; i++) {
      const reply = client
        ? await udpRoundTrip(client, bytes("x"), port)
        : await tcpExchange(port, bytes("x"));
      assert.equal(text(reply), "X");
    }
  } finally {
    client?.close();
  }
  return {
    child,
    port,
    /** Sends `signal` and waits (bounded) until the server's port is free. */
    async stopServing(signal: Deno.Signal) {
      child.kill(signal);
      await untilFree(kind, port);
    },
    readStderr: () =>
      withTimeout(new Response(child.stderr).text(), "stderr", 20_000),
    async end() {
      try {
        child.kill("SIGKILL");
      } catch {
        // gone already
      }
      await child.status;
      await child.stderr.cancel().catch(() => {});
    },
  };
}

Deno.test("shared helpers: udp_server stopping on a stalled stderr ends at once on a second SIGTERM, status 143", async () => {
  const server = await serverWithStalledLog("udp", 1500);
  try {
    await server.stopServing("SIGTERM");
    // Its log waits 5 s for a reader that never comes: a second signal
    // ends that wait at once, as death by that signal (128 + its number).
    const started = Date.now();
    server.child.kill("SIGTERM");
    const { code } = await withTimeout(server.child.status, "the exit");
    assert.equal(code, 143);
    assert.ok(Date.now() - started < 4000, `${Date.now() - started} ms`);
  } finally {
    await server.end();
  }
});

for (const [signal, status] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
  Deno.test(`shared helpers: tcp_server waiting for a reply in flight exits at once on a second ${signal}, status ${status}`, async () => {
    const server = await startServer(
      script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0"),
    );
    const client = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.port,
    });
    // 64 MiB, never read: the server's reply stalls, and its shutdown
    // waits 5 s for it. The writes stop when the server stops reading,
    // which it does only while a reply of its own cannot be sent.
    const sent = new Uint8Array(64 * 1024 * 1024).fill(0x61);
    let written = 0;
    const sending = (async () => {
      while (written < sent.length) {
        written += await client.write(sent.subarray(written));
      }
    })().catch(() => {});
    try {
      for (let last = -1; written !== last;) {
        last = written;
        await new Promise((resolve) => setTimeout(resolve, 1000));
      }
      Deno.kill(server.pid, signal);
      await untilFree("tcp", server.port);
      const started = Date.now();
      const output = await server.stop(signal);
      // Exited by itself, at once, with the status of death by the signal.
      assert.deepEqual([output.code, output.signal], [status, null]);
      assert.ok(Date.now() - started < 4000, `${Date.now() - started} ms`);
    } finally {
      client.close();
      await sending;
    }
  });
}

/** The `-v` lines a run of `exchanges` round trips logs, all told. */
const TRACED = {
  // bind; recvfrom and sendto each; close
  udp: (exchanges: number) => 2 + 2 * exchanges,
  // bind and listen; accept, recv, send, end of stream, close each; close
  tcp: (exchanges: number) => 2 + 5 * exchanges,
};

for (const kind of ["udp", "tcp"] as const) {
  Deno.test(`shared helpers: ${kind}_server -v with stderr read late counts every line it did not write as dropped, those still queued at the end too`, async () => {
    const exchanges = 1500;
    const server = await serverWithStalledLog(kind, exchanges);
    try {
      await server.stopServing("SIGTERM");
      // A reader that comes back 2 s after the stop: the log has waited 1 s
      // for it, then counted what is still queued as dropped, and waits
      // 4 s more for that note and the summary.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      const stderr = await server.readStderr();
      assert.equal((await server.child.status).code, 0);
      const lines = stderr.split("\n");
      const traced = lines.filter((line) => /^\d{4}-\d\d-\d\dT/.test(line));
      const dropped = lines.map((line) =>
        Number(line.match(/^\((\d+) more log lines dropped/)?.[1] ?? 0)
      ).reduce((sum, count) => sum + count, 0);
      assert.ok(dropped > 0, stderr.slice(-300));
      assert.equal(traced.length + dropped, TRACED[kind](exchanges));
      assert.match(stderr, new RegExp(`\\n${kind}_server: \\w+ ${exchanges} `));
    } finally {
      await server.end();
    }
  });
}

Deno.test("shared helpers: each -v line starts with the time, ISO 8601 in UTC to the millisecond; error and summary lines do not", async () => {
  for (const kind of ["udp", "tcp"] as const) {
    const before = new Date(Date.now() - 1000).toISOString();
    const server = await startServer(
      script(`${kind}_server.ts`, "--host", "127.0.0.1", "-p", "0", "-v"),
    );
    const client = kind === "udp" ? udpSocket() : undefined;
    try {
      const reply = client
        ? await udpRoundTrip(client, bytes("x"), server.port)
        : await tcpExchange(server.port, bytes("x"));
      assert.equal(text(reply), "X");
    } finally {
      client?.close();
    }
    const { stderr } = await server.stop();
    const after = new Date(Date.now() + 1000).toISOString();
    const lines = stderr.trimEnd().split("\n");
    const summary = lines.pop()!;
    assert.match(summary, new RegExp(`^${kind}_server: `));
    assert.equal(lines.length, TRACED[kind](1), stderr);
    let previous = before;
    for (const line of lines) {
      const time = line.match(
        /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) [a-z]/,
      )?.[1];
      assert.ok(time, line);
      assert.ok(previous <= time && time <= after, `${time} in ${stderr}`);
      previous = time;
    }
  }
});

Deno.test("shared helpers: a port held in TIME-WAIT by a Python server's connections: tcp_server says to wait about a minute or choose another --port", async () => {
  if (!canRun(await hasProgram("python3"), "python3 is not installed")) return;
  // Python's socket does not reuse addresses: the connection its server
  // closed first stays in TIME-WAIT, and blocks Deno's listen for 60 s.
  const python = await new Deno.Command("python3", {
    args: [
      "-c",
      `import socket
listener = socket.socket(); listener.bind(("127.0.0.1", 0)); listener.listen()
port = listener.getsockname()[1]
client = socket.create_connection(("127.0.0.1", port))
connection, _ = listener.accept(); connection.close()
client.recv(1); client.close(); listener.close()
print(port)`,
    ],
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(WAIT_MS),
  }).output();
  assert.ok(python.success);
  const port = new TextDecoder().decode(python.stdout).trim();
  const output = await runScript(
    "tcp_server.ts",
    ["--host", "127.0.0.1", "--port", port],
    { flags: ["run", "--allow-net"] },
  );
  assert.equal(output.code, 1);
  assert.equal(
    output.stderr,
    `tcp_server: 127.0.0.1:${port} is already in use: stop the other server; ` +
      "if one stopped just now, its recent connections can hold the port " +
      "for about a minute: wait, or choose another --port\n",
  );
});
