/**
 * How each full script reads (DESIGN.md, "The full scripts read from the
 * top"): a short header, then its main flow in the order it runs, with the
 * socket calls in view and each Python line quoted above the Deno line that
 * does it, then the marked sections; no function longer than a screen, none
 * nested deeper than four blocks.
 *
 * @module
 */
import assert from "node:assert/strict";
import { ROOT } from "./_helpers.ts";

/** The textbook's four programs (Kurose & Ross 2.7), line by line. */
const TEXTBOOK: Record<string, { program: string; lines: string[] }> = {
  "udp_client.ts": {
    program: "UDPClient.py",
    lines: [
      "from socket import *",
      "serverName = 'hostname'",
      "serverPort = 12000",
      "clientSocket = socket(AF_INET, SOCK_DGRAM)",
      "message = input('Input lowercase sentence:')",
      "clientSocket.sendto(message.encode(), (serverName, serverPort))",
      "modifiedMessage, serverAddress = clientSocket.recvfrom(2048)",
      "print(modifiedMessage.decode())",
      "clientSocket.close()",
    ],
  },
  "udp_server.ts": {
    program: "UDPServer.py",
    lines: [
      "from socket import *",
      "serverPort = 12000",
      "serverSocket = socket(AF_INET, SOCK_DGRAM)",
      "serverSocket.bind(('', serverPort))",
      'print("The server is ready to receive")',
      "while True:",
      "message, clientAddress = serverSocket.recvfrom(2048)",
      "modifiedMessage = message.decode().upper()",
      "serverSocket.sendto(modifiedMessage.encode(), clientAddress)",
    ],
  },
  "tcp_client.ts": {
    program: "TCPClient.py",
    lines: [
      "from socket import *",
      "serverName = 'servername'",
      "serverPort = 12000",
      "clientSocket = socket(AF_INET, SOCK_STREAM)",
      "clientSocket.connect((serverName, serverPort))",
      "sentence = input('Input lowercase sentence:')",
      "clientSocket.send(sentence.encode())",
      "modifiedSentence = clientSocket.recv(1024)",
      "print('From Server: ', modifiedSentence.decode())",
      "clientSocket.close()",
    ],
  },
  "tcp_server.ts": {
    program: "TCPServer.py",
    lines: [
      "from socket import *",
      "serverPort = 12000",
      "serverSocket = socket(AF_INET, SOCK_STREAM)",
      "serverSocket.bind(('', serverPort))",
      "serverSocket.listen(1)",
      "print('The server is ready to receive')",
      "while True:",
      "connectionSocket, addr = serverSocket.accept()",
      "sentence = connectionSocket.recv(1024).decode()",
      "capitalizedSentence = sentence.upper()",
      "connectionSocket.send(capitalizedSentence.encode())",
      "connectionSocket.close()",
    ],
  },
};

/** Section titles, in the order they may come after the textbook program. */
const SECTIONS = [
  "The command line",
  "Streaming",
  "Robustness",
  "Upper-casing",
  "The lab kit",
  "Shared helpers",
];

const MAX_HEADER_LINES = 16;

/** A top-level function's first line; its name. */
const TOP_LEVEL_FUNCTION = /^(?:export )?(?:async )?function\*? (\w+)[<(]/;

/** The socket calls each script's main flow must hold. */
const SOCKET_CALLS: Record<string, string[]> = {
  "udp_client.ts": [
    "Deno.listenDatagram(",
    "clientSocket.send(",
    "clientSocket.receive(",
    "clientSocket.close()",
  ],
  "udp_server.ts": [
    "Deno.listenDatagram(",
    "serverSocket.receive(",
    "serverSocket.send(",
  ],
  "tcp_client.ts": [
    "Deno.connect(",
    "writeAll(clientSocket,",
    "clientSocket.read(",
    "closeQuietly(clientSocket)",
  ],
  // Each connection's reads and writes are Connection's methods: recv,
  // upperCaseAndSend and close name them in the main flow.
  "tcp_server.ts": [
    "Deno.listen(",
    "welcomingSocket.accept()",
    "connection.recv()",
    "connection.upperCaseAndSend(",
    "connection.close()",
  ],
};
const MAX_FUNCTION_LINES = 60;
const MAX_NESTING = 4;

/** A marked section: its title and the 0-based line its marker starts at. */
interface Section {
  title: string;
  start: number;
}

/** The script's sections, each marked by a title between two `// ===` lines. */
function sections(lines: string[]): Section[] {
  const found: Section[] = [];
  for (let i = 0; i + 2 < lines.length; i++) {
    if (lines[i].startsWith("// ====") && lines[i + 2].startsWith("// ====")) {
      found.push({ title: lines[i + 1].replace(/^\/\/ /, ""), start: i });
      i += 2;
    }
  }
  return found;
}

/** A function or method: where it starts, how long it is, how deep it nests. */
interface FunctionShape {
  name: string;
  line: number;
  length: number;
  nesting: number;
}

const FUNCTION_START =
  /^(\s*)(?:export )?(?:async )?function\*? ?([\w$]+)|^( {2})(?:static |async |get |set |\*)*(#?[\w$]+)(?: = \([^)]*\) =>| ?\(|<)/;
const BLOCK_STATEMENT =
  /^\s*(?:\} )?(?:if|for|while|do|try|switch|else|catch)\b/;

/**
 * Every top-level function and every class method: from its first line to
 * its closing brace, and its deepest block statement, counted by indent.
 */
function functionShapes(lines: string[]): FunctionShape[] {
  const shapes: FunctionShape[] = [];
  let inClass = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (/^(export )?class /.test(line)) inClass = true;
    if (line === "}") inClass = false;
    const match = FUNCTION_START.exec(line);
    if (!match) continue;
    const indent = (match[1] ?? match[3]).length;
    if (indent === 2 && !inClass) continue;
    if (indent > 2 || /^\s*(if|for|while|switch|return|catch)\b/.test(line)) {
      continue;
    }
    const close = new RegExp(`^ {${indent}}\\}[;,]?$`);
    let end = i;
    while (end < lines.length && !close.test(lines[end])) end++;
    if (end === lines.length) continue; // a signature without a body
    let nesting = 0;
    for (let k = i + 1; k < end; k++) {
      if (!BLOCK_STATEMENT.test(lines[k])) continue;
      const depth = (lines[k].search(/\S/) - indent) / 2;
      nesting = Math.max(nesting, depth);
    }
    shapes.push({
      name: match[2] ?? match[4],
      line: i + 1,
      length: end - i + 1,
      nesting,
    });
    if (indent === 0) i = end;
  }
  return shapes;
}

for (const [name, { program, lines: python }] of Object.entries(TEXTBOOK)) {
  const source = await Deno.readTextFile(`${ROOT}${name}`);
  const lines = source.split("\n");
  const marked = sections(lines);

  Deno.test(`layout: ${name} has a short header, then ${program}, then the marked sections in order`, () => {
    assert.ok(marked.length >= 3, `${marked.length} sections`);
    const header = lines.slice(0, marked[0].start);
    while (header.at(-1)?.trim() === "") header.pop();
    assert.ok(
      header.length <= MAX_HEADER_LINES,
      `a header of ${header.length} lines`,
    );
    assert.equal(
      marked[0].title,
      `The main flow: ${program}, in the order it runs`,
    );
    const rest = marked.slice(1).map(({ title }) =>
      SECTIONS.findIndex((start) => title.startsWith(start))
    );
    assert.ok(!rest.includes(-1), marked.map(({ title }) => title).join("; "));
    assert.deepEqual(rest, [...rest].sort((a, b) => a - b), "in order");
    assert.ok(marked.at(-1)?.title.startsWith("Shared helpers"));
  });

  Deno.test(`layout: ${name} quotes each line of ${program} above its Deno line, in the main flow`, () => {
    const quote = `// ${program}: `;
    const textbookEnd = marked[1].start;
    const quoted: { line: number; index: number }[] = [];
    for (const [line, text] of lines.entries()) {
      const at = text.indexOf(quote);
      if (at < 0) continue;
      const pythonLine = text.slice(at + quote.length).trim();
      const index = python.indexOf(pythonLine);
      assert.ok(index >= 0, `line ${line + 1}: not a line of ${program}`);
      assert.ok(
        line < textbookEnd,
        `line ${line + 1}: outside the textbook program`,
      );
      // The next line that is not a comment is the Deno line it names.
      let next = line + 1;
      while (/^\s*\/\//.test(lines[next])) next++;
      assert.ok(lines[next].trim() !== "", `line ${line + 1}: names no line`);
      quoted.push({ line: line + 1, index });
    }
    const missing = python.filter((pythonLine, index) =>
      pythonLine !== "from socket import *" &&
      !quoted.some((quote) => quote.index === index)
    );
    assert.deepEqual(missing, [], "lines with no Deno line under them");
  });

  Deno.test(`layout: ${name}'s main flow puts each function below the one that calls it`, () => {
    const flow = lines.slice(marked[0].start, marked[1].start);
    const defined = [...flow.entries()].flatMap(([index, line]) => {
      const match = TOP_LEVEL_FUNCTION.exec(line);
      return match ? [{ name: match[1], index }] : [];
    });
    assert.ok(defined.length >= 2, `${defined.length} functions`);
    for (const { name: callee, index } of defined.slice(1)) {
      const above = flow.slice(defined[0].index, index)
        .filter((line) => !/^\s*(\/\/|\*|\/\*\*)/.test(line)).join("\n");
      assert.match(
        above,
        new RegExp(`\\b${callee}\\(`),
        `${callee} is called by no function above it`,
      );
    }
  });

  Deno.test(`layout: ${name}'s main flow makes its socket calls in view`, () => {
    const flow = lines.slice(marked[0].start, marked[1].start).join("\n");
    for (const call of SOCKET_CALLS[name]) {
      assert.ok(flow.includes(call), `${call} is not in the main flow`);
    }
  });

  Deno.test(`layout: ${name} has each doc comment directly above what it documents`, () => {
    const stray = [...lines.entries()].filter(([index, line]) =>
      /^\s*\/\*\*.*\*\/$|^\s*\*\/$/.test(line) &&
      /^\s*(\/\*\*|$)/.test(lines[index + 1] ?? "")
    ).map(([index]) => `line ${index + 1}`);
    assert.deepEqual(stray, []);
  });

  Deno.test(`layout: ${name} has no function longer than ${MAX_FUNCTION_LINES} lines or nested deeper than ${MAX_NESTING}`, () => {
    const shapes = functionShapes(lines);
    assert.ok(shapes.length > 10, `${shapes.length} functions found`);
    const tooLong = shapes.filter((shape) =>
      shape.length > MAX_FUNCTION_LINES || shape.nesting > MAX_NESTING
    ).map(({ name, line, length, nesting }) =>
      `${name} (line ${line}): ${length} lines, nesting ${nesting}`
    );
    assert.deepEqual(tooLong, []);
  });
}

{
  // grade.ts, the instructor's: no textbook program, the same measures.
  const lines = (await Deno.readTextFile(`${ROOT}grade.ts`)).split("\n");

  Deno.test("layout: grade.ts opens with its shebang and the permissions it needs", () => {
    assert.equal(
      lines[0],
      "#!/usr/bin/env -S deno run --allow-net --unstable-net --allow-run",
    );
  });

  Deno.test("layout: grade.ts has each doc comment directly above what it documents", () => {
    const stray = [...lines.entries()].filter(([index, line]) =>
      /^\s*\/\*\*.*\*\/$|^\s*\*\/$/.test(line) &&
      /^\s*(\/\*\*|$)/.test(lines[index + 1] ?? "")
    ).map(([index]) => `line ${index + 1}`);
    assert.deepEqual(stray, []);
  });

  Deno.test(`layout: grade.ts has no function longer than ${MAX_FUNCTION_LINES} lines or nested deeper than ${MAX_NESTING}`, () => {
    const shapes = functionShapes(lines);
    assert.ok(shapes.length > 10, `${shapes.length} functions found`);
    const tooLong = shapes.filter((shape) =>
      shape.length > MAX_FUNCTION_LINES || shape.nesting > MAX_NESTING
    ).map(({ name, line, length, nesting }) =>
      `${name} (line ${line}): ${length} lines, nesting ${nesting}`
    );
    assert.deepEqual(tooLong, []);
  });
}

Deno.test("layout: the measure finds a long function and a deep one", () => {
  const body = Array.from({ length: 70 }, () => "  work();");
  const long = functionShapes(["function long() {", ...body, "}"]);
  assert.deepEqual(long.map(({ length }) => length), [72]);
  const deep = functionShapes([
    "class Deep {",
    "  method() {",
    "    if (a) {",
    "      for (;;) {",
    "        while (b) {",
    "          try {",
    "            if (c) {",
    "            }",
    "          } catch {",
    "          }",
    "        }",
    "      }",
    "    }",
    "  }",
    "}",
  ]);
  assert.deepEqual(deep.map(({ name, nesting }) => [name, nesting]), [[
    "method",
    5,
  ]]);
});
