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
import { ROOT, runScript, text } from "./_helpers.ts";

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
