/**
 * The README, and each script's `--help` examples and header comment, are a
 * contract: every command line in them runs here as written, in a folder that
 * holds the four scripts and nothing else (no deno.json to hide a missing
 * `--unstable-net`). A server line runs on a free port in place of 12000 and
 * is sent a sentence; a client line is sent to a running server, and its
 * output is checked against what the line asks for. A README line that only
 * makes sense elsewhere carries a marker,
 * `<!-- not run by the tests: `LINE`: why -->`, and is skipped with that
 * reason. The textbook-to-Deno tables are checked against the scripts.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  bytes,
  canRun,
  hasProgram,
  onTerminal,
  probeUntilAnswered,
  ROOT,
  script,
  startServer,
  tcpExchange,
  text,
  withServer,
  withTimeout,
} from "./_helpers.ts";
import { CORPUS, TCP_CHECKS, UDP_CHECKS } from "./peers/corpus.ts";

const SCRIPTS = ["udp_client", "udp_server", "tcp_client", "tcp_server"];
const README = await Deno.readTextFile(`${ROOT}README.md`);
/** The documents whose command lines run: the README and the pages it links. */
const DOCS = ["README.md", "textbook/README.md", "tests/README.md"];
const DOC_TEXTS = await Promise.all(
  DOCS.map((name) => Deno.readTextFile(`${ROOT}${name}`)),
);
const TEXTBOOK_README = DOC_TEXTS[1];
const TEXTBOOK = ["UDPServer", "UDPClient", "TCPServer", "TCPClient"];
const hasPython = await hasProgram("python3");

/** A command line found in a document, and where. */
interface CommandLine {
  line: string;
  where: string;
}

/** The 1-based line number of `index` in `document`. */
function lineNumber(document: string, index: number): number {
  return document.slice(0, index).split("\n").length;
}

/**
 * Whether a code span of prose is a command line a user would type: one
 * that runs `deno` (not the bare name `deno run`), `./something`, or one of
 * the four scripts with arguments.
 */
function isCommand(span: string): boolean {
  return /(^|\s)deno \S+ \S/.test(span) || /^\.\/\S/.test(span) ||
    /(^|[\s|])(udp|tcp)_(client|server)\.ts \S/.test(span);
}

/** Languages of code blocks that hold commands to type. */
const SHELLS = new Set(["sh", "bash", "shell", "console", "zsh"]);

/** A line of a code block as a command, its prompt taken off; or null. */
function blockCommand(line: string, shell: boolean): string | null {
  const trimmed = line.trim().replace(/^\$ /, "");
  if (!trimmed || trimmed.startsWith("#")) return null;
  // Other blocks show output; a line in one that reads as a command is one.
  if (shell || /^(\$ |deno |\.\/|sudo )/.test(line.trim())) return trimmed;
  return null;
}

/**
 * Command lines in a Markdown document: every line of its shell code blocks
 * (``` or ~~~, comment lines aside), lines that read as commands in its
 * other and indented blocks, and every code span in its prose that runs
 * `deno`, `./something` or a script with arguments.
 */
function markdownCommands(document: string, name: string): CommandLine[] {
  const found: CommandLine[] = [];
  const lines = document.split("\n");
  let fence: { marker: string; shell: boolean } | null = null;
  const prose: string[] = [];
  for (const [index, line] of lines.entries()) {
    const where = `${name}:${index + 1}`;
    const opening = line.match(/^\s*(```+|~~~+)\s*([\w-]*)/);
    if (opening && (fence === null || line.trim().startsWith(fence.marker))) {
      fence = fence === null
        ? { marker: opening[1], shell: SHELLS.has(opening[2]) }
        : null;
      prose.push("");
      continue;
    }
    const indented = fence === null && /^ {4,}\S/.test(line) &&
      !/^\s*([-*]|\d+\.) /.test(line);
    if (fence !== null || indented) {
      const command = blockCommand(line, fence?.shell ?? false);
      if (command !== null) found.push({ line: command, where });
    }
    // Tables hold code, not commands, and escape backticks inside spans.
    prose.push(fence === null && !line.startsWith("|") ? line : "");
  }
  // The markers of lines not run are comments, not commands.
  const text = prose.join("\n").replace(
    /<!--[^]*?-->/g,
    (comment) => comment.replace(/[^\n]/g, " "),
  );
  for (const match of text.matchAll(/`([^`]+)`/g)) {
    const span = match[1].replace(/\s+/g, " ").trim();
    if (isCommand(span)) {
      found.push({
        line: span,
        where: `${name}:${lineNumber(text, match.index)}`,
      });
    }
  }
  return found;
}

/** The README's markers: command line to the reason it is not run here. */
function notRunMarkers(document: string): Map<string, string> {
  const markers = new Map<string, string>();
  const pattern = /<!-- not run by the tests: `([^`]+)`: ([^]*?) -->/g;
  for (const match of document.matchAll(pattern)) {
    markers.set(match[1], match[2].replace(/\s+/g, " "));
  }
  return markers;
}

/** The commands of a script's header comment (its leading `/** ... *\/`). */
function headerCommands(source: string, name: string): CommandLine[] {
  const header = source.slice(0, source.indexOf("*/"));
  const markdown = header.split("\n").map((line) =>
    line.replace(/^\s*\/?\*+ ?/, "")
  ).join("\n");
  return markdownCommands(markdown, `${name} header`);
}

/** The lines under "Example:" in a script's `--help`. */
async function helpCommands(name: string): Promise<CommandLine[]> {
  const [program, ...args] = script(`${name}.ts`, "--help");
  const { stdout } = await new Deno.Command(program, {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "null",
  }).output();
  const help = text(stdout);
  // Every indented line from "Example:" to the end: commands to type.
  const examples = help.slice(help.indexOf("Example:\n") + 9).split("\n")
    .filter((line) => /^\s+\S/.test(line));
  assert.ok(examples.length > 0, `${name}.ts --help shows no example`);
  return examples.map((line) => ({
    line: line.trim(),
    where: `${name}.ts --help`,
  }));
}

/** A shell line's words and operators (`|`, `<`, `>`), quotes removed. */
function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /'([^']*)'|"([^"]*)"|(#.*$)|([|<>])|(\S+?)(?=[\s|<>'"]|$)/g;
  let word: string | null = null;
  let last = 0;
  for (const match of line.matchAll(pattern)) {
    const [, single, double, comment, operator, bare] = match;
    if (comment !== undefined) break;
    const joined = match.index === last && word !== null;
    last = match.index + match[0].length;
    if (operator !== undefined) {
      if (word !== null) words.push(word);
      words.push(operator);
      word = null;
      continue;
    }
    const piece = single ?? double ?? bare;
    if (joined) word += piece;
    else {
      if (word !== null) words.push(word);
      word = piece;
    }
  }
  if (word !== null) words.push(word);
  return words;
}

/** Options of the four scripts that take a value. */
const VALUE_OPTIONS = new Set([
  "--host",
  "-p",
  "--port",
  "--timeout",
  "--retries",
  "--ping",
  "--interval",
  "--drop-rate",
  "--seed",
  "--max-connections",
  "--idle-timeout",
]);

/** What a line runs: which script, with which arguments, and its redirections. */
interface Parsed {
  /** `udp_server` and so on; absent for `deno task` lines. */
  name?: string;
  args: string[];
  /** The words after the options: the sentence. */
  sentence: string[];
  /** The command before a `|`, if the line is a pipe. */
  piped?: string;
  input?: string;
  output?: string;
  /** A program of textbook/, which takes its port as an argument. */
  textbook?: boolean;
}

function parse(line: string): Parsed {
  const words = shellWords(line);
  const parsed: Parsed = { args: [], sentence: [] };
  const pipe = words.indexOf("|");
  if (pipe >= 0) parsed.piped = line.slice(0, line.indexOf("|")).trim();
  const command = words.slice(pipe + 1);
  const at = command.findIndex((word) =>
    /(^|\/)((udp|tcp)_(client|server)|(UDP|TCP)(Client|Server)|grade)\.ts$/
      .test(word)
  );
  if (at < 0) return parsed;
  parsed.name = command[at].replace(/^.*\//, "").replace(/\.ts$/, "");
  parsed.textbook = TEXTBOOK.includes(parsed.name);
  for (let i = at + 1; i < command.length; i++) {
    const word = command[i];
    if (word === "<") parsed.input = command[++i];
    else if (word === ">") parsed.output = command[++i];
    else {
      parsed.args.push(word);
      if (VALUE_OPTIONS.has(word)) parsed.args.push(command[++i]);
      else if (!word.startsWith("-")) parsed.sentence.push(word);
    }
  }
  return parsed;
}

/**
 * The line as it runs here: 12000 replaced by `port`, a server address
 * placeholder by loopback, and `--port` added after the script when the line
 * relies on the default.
 */
function onPort(line: string, parsed: Parsed, port: number): string {
  let local = line.replaceAll("12000", String(port))
    .replaceAll("SERVER_ADDRESS", "127.0.0.1");
  if (parsed.textbook) {
    // A server's first argument is its port; a client's are HOST PORT.
    const args = parsed.name!.endsWith("Server")
      ? `${port}`
      : `localhost ${port}`;
    return parsed.args.length > 0
      ? local
      : local.replace(/((UDP|TCP)(Client|Server)\.ts)/, `$1 ${args}`);
  }
  const hasPort = parsed.args.some((word) =>
    word === "-p" || word === "--port"
  );
  if (!hasPort) {
    local = local.replace(
      /((udp|tcp)_(client|server)\.ts|grade\.ts (tcp|udp)-server)/,
      `$1 --port ${port}`,
    );
  }
  return local;
}

/**
 * A folder holding the four scripts and the textbook edition, and nothing
 * else, as on a lab machine.
 */
async function labFolder(): Promise<string> {
  const folder = await Deno.makeTempDir({ prefix: "readme_test_" });
  for (const name of [...SCRIPTS, "grade"]) {
    await Deno.copyFile(`${ROOT}${name}.ts`, `${folder}/${name}.ts`);
    await Deno.chmod(`${folder}/${name}.ts`, 0o755);
  }
  await Deno.mkdir(`${folder}/textbook`);
  for (const name of TEXTBOOK) {
    await Deno.copyFile(
      `${ROOT}textbook/${name}.ts`,
      `${folder}/textbook/${name}.ts`,
    );
  }
  return folder;
}

/** The environment a line runs in: Deno on the PATH, as a user has it. */
function shellEnv(): Record<string, string> {
  const denoDir = Deno.execPath().replace(/\/[^/]*$/, "");
  return { PATH: `${denoDir}:${Deno.env.get("PATH") ?? ""}` };
}

/** Runs a shell line in `cwd`, with input, bounded. */
async function sh(
  line: string,
  cwd: string,
  ms = 30_000,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command("sh", {
    args: ["-c", line],
    cwd,
    env: shellEnv(),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(ms),
  }).output();
  return { code, stdout: text(stdout), stderr: text(stderr) };
}

/** A free port for `transport`, found by binding port 0 and letting go. */
function freePort(transport: "udp" | "tcp"): number {
  if (transport === "tcp") {
    const listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    const { port } = listener.addr;
    listener.close();
    return port;
  }
  const socket = Deno.listenDatagram({
    transport: "udp",
    hostname: "0.0.0.0",
    port: 0,
  });
  const { port } = socket.addr as Deno.NetAddr;
  socket.close();
  return port;
}

/** Runs a server line on a free port, has it answer, and stops it. */
async function runServerLine(line: string, parsed: Parsed, folder: string) {
  const transport = /^(udp|UDP)/.test(parsed.name!) ? "udp" : "tcp";
  const port = freePort(transport);
  const local = onPort(line, parsed, port);
  const server = await startServer(["sh", "-c", `exec ${local}`], {
    cwd: folder,
    env: shellEnv(),
  });
  let answer: string;
  try {
    assert.equal(server.port, port, server.readyLine);
    const sentence = new TextEncoder().encode("hello readme\n");
    answer = text(
      transport === "udp"
        ? await probeUntilAnswered(sentence, port)
        : await tcpExchange(port, sentence),
    );
  } finally {
    const stopped = await server.stop();
    if (parsed.textbook) {
      // As the textbook's, it runs until stopped, with no summary.
      assert.equal(stopped.signal, "SIGTERM", stopped.stderr);
    } else {
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /^(udp|tcp)_server: /m);
    }
  }
  assert.equal(answer, "HELLO README\n", local);
}

/** Text that needs more than ASCII, for lines that take a file. */
const BOOK = "it was the best of times,\nκαλημέρα, straße\n";

/** Runs a client line against a server and checks what it printed. */
async function runClientLine(line: string, parsed: Parsed, folder: string) {
  const transport = /^(udp|UDP)/.test(parsed.name!) ? "udp" : "tcp";
  await withServer(transport, { hostname: "0.0.0.0" }, async (port) => {
    const local = onPort(line, parsed, port);
    if (parsed.textbook) {
      // One sentence typed, its reply printed after the prompt.
      const run = await sh(`echo 'hello readme' | ${local}`, folder);
      assert.equal(run.code, 0, `${local}\n${run.stderr}`);
      const from = parsed.name === "TCPClient" ? "From Server:  " : "";
      assert.equal(
        run.stdout,
        `Input lowercase sentence:${from}HELLO README\n`,
      );
      return;
    }
    const ping = parsed.args.indexOf("--ping");
    if (parsed.input !== undefined) {
      await Deno.writeTextFile(`${folder}/${parsed.input}`, BOOK);
    }
    if (needsTerminal(line)) {
      return await runAtTerminal(local, folder);
    }
    const run = await sh(local, folder);
    assert.equal(run.code, 0, `${local}\n${run.stderr}`);
    const beats = parsed.args.indexOf("--count");
    if (parsed.args.includes("--heartbeat")) {
      assert.ok(beats >= 0, "a heartbeat line without --count runs for ever");
      const count = parsed.args[beats + 1];
      assert.match(run.stdout, new RegExp(`\n${count} heartbeats sent\n$`));
    } else if (ping >= 0) {
      const count = parsed.args[ping + 1];
      assert.match(
        run.stdout,
        new RegExp(
          `^${count} packets transmitted, ${count} received, 0% `,
          "m",
        ),
      );
    } else if (parsed.output !== undefined) {
      const output = await Deno.readTextFile(`${folder}/${parsed.output}`);
      assert.equal(output, BOOK.toUpperCase());
    } else if (parsed.piped !== undefined) {
      const input = (await sh(parsed.piped, folder)).stdout;
      assert.equal(run.stdout, input.toUpperCase());
    } else {
      assert.equal(run.stdout, `${parsed.sentence.join(" ").toUpperCase()}\n`);
    }
  });
}

/**
 * The students' programs README's grade.ts lines name, by file name: each a
 * program of the corpora that reads its port from its command line.
 */
const STUDENT_PROGRAMS: Record<string, string> = {
  "TCPServer.py": "tests/peers/class/tcp_textbook_port.py",
  "UDPClient.py": "tests/peers/clients/udp_correct.py",
  "TCPClient.py": "tests/peers/clients/tcp_correct.py",
  "UDPPingerClient.py": "tests/peers/pingers/pinger_ok.py",
  "UDPHeartbeatClient.py": "tests/peers/pingers/heartbeat_ok.py",
};

/**
 * Runs a grade.ts line. Without a command, against this project's server:
 * every check passes. With one, the students' programs it names are the
 * corpus's (copied in under those names; `submissions/*.py`, two of them),
 * and the grader must say what the corpus says of each.
 */
async function runGradeLine(line: string, parsed: Parsed, folder: string) {
  const kind = parsed.args[0];
  if (parsed.args.includes("--")) {
    await runGradeCommandLine(line, folder);
    return;
  }
  assert.match(kind, /^(tcp|udp)-server$/, line);
  await withServer(kind.slice(0, 3) as "tcp" | "udp", {
    hostname: "0.0.0.0",
  }, async (port) => {
    const local = onPort(line, parsed, port);
    const run = await sh(local, folder, 60_000);
    assert.equal(run.code, 0, `${local}\n${run.stdout}${run.stderr}`);
    const checks = (kind === "tcp-server" ? TCP_CHECKS : UDP_CHECKS).length;
    assert.ok(
      run.stdout.endsWith(
        `\nScore: ${checks} of ${checks} (${checks} PASS, 0 WARN, 0 FAIL)\n`,
      ),
      run.stdout,
    );
  });
}

/** Runs a grade.ts line that starts the students' programs itself. */
async function runGradeCommandLine(line: string, folder: string) {
  for (const [name, source] of Object.entries(STUDENT_PROGRAMS)) {
    await Deno.copyFile(`${ROOT}${source}`, `${folder}/${name}`);
  }
  await Deno.mkdir(`${folder}/submissions`);
  await Deno.copyFile(
    `${ROOT}tests/peers/class/tcp_textbook_port.py`,
    `${folder}/submissions/ana.py`,
  );
  await Deno.copyFile(
    `${ROOT}tests/peers/class/tcp_twice.py`,
    `${folder}/submissions/ben.py`,
  );
  const run = await sh(line, folder, 120_000);
  const verdicts = [...run.stdout.matchAll(/^(PASS|WARN|FAIL|SKIP) /gm)]
    .map((match) => match[1][0]).join("");
  const said = `${line}\n${run.stdout}${run.stderr}`;
  if (line.includes("submissions/")) {
    assert.match(
      run.stdout,
      /^submissions\/ana\.py +PPPWPWPW +6\.5 +0$/m,
      said,
    );
    assert.match(
      run.stdout,
      /^submissions\/ben\.py +FFFFFFFW +0\.5 +1$/m,
      said,
    );
    assert.equal(run.code, 1, said);
  } else if (line.includes("TCPServer.py")) {
    // The textbook's TCPServer.py: its limits WARN, nothing FAILs.
    assert.equal(verdicts, "PPPWPWPW", said);
    assert.equal(run.code, 0, said);
  } else {
    // Right clients: every check passes.
    assert.equal(run.code, 0, said);
    assert.match(verdicts, /^P+$/, said);
  }
}

/** Runs a prompting client line on a pseudo-terminal and types a sentence. */
async function runAtTerminal(line: string, folder: string) {
  const { code, stdout } = await new Deno.Command("python3", {
    args: [
      `${ROOT}tests/peers/pty_run.py`,
      "Input lowercase sentence:",
      "hello readme",
      "sh",
      "-c",
      `exec ${line}`,
    ],
    cwd: folder,
    env: shellEnv(),
    stdout: "piped",
    stderr: "inherit",
    signal: AbortSignal.timeout(15_000),
  }).output();
  const shown = onTerminal(stdout);
  assert.equal(code, 0, shown);
  assert.equal(
    shown,
    "Input lowercase sentence:hello readme\nHELLO README\n" +
      "Input lowercase sentence:\n",
  );
}

/** Runs one command line as a user would, and checks that it did its job. */
async function runLine(line: string) {
  const folder = await labFolder();
  try {
    const parsed = parse(line);
    if (/^deno task demo\s*(#.*)?$/.test(line)) {
      const run = await sh(line, ROOT, 60_000);
      assert.equal(run.code, 0, run.stderr);
      assert.equal(run.stdout.match(/HELLO WORLD/g)?.length, 2, run.stdout);
    } else if (parsed.name === undefined) {
      assert.fail(`no way to run this line here; mark it in the README`);
    } else if (parsed.name === "grade") {
      await runGradeLine(line, parsed, folder);
    } else if (parsed.args.includes("--help")) {
      const run = await sh(line, folder);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, new RegExp(`^Usage: ${parsed.name}\\.ts `));
    } else if (/(_server|Server)$/.test(parsed.name)) {
      await runServerLine(line, parsed, folder);
    } else {
      await runClientLine(line, parsed, folder);
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

/** Whether a line needs a terminal, and so python3's pseudo-terminal here. */
function needsTerminal(line: string): boolean {
  const parsed = parse(line);
  return parsed.name?.endsWith("_client") === true && !parsed.textbook &&
    !parsed.args.some((arg) =>
      ["--help", "--ping", "--heartbeat"].includes(arg)
    ) &&
    parsed.sentence.length === 0 && parsed.piped === undefined &&
    parsed.input === undefined;
}

const markers = new Map(DOC_TEXTS.flatMap((text) => [...notRunMarkers(text)]));
const commands = [
  ...DOCS.flatMap((name, i) => markdownCommands(DOC_TEXTS[i], name)),
  ...(await Promise.all(SCRIPTS.map(async (name) => [
    ...headerCommands(await Deno.readTextFile(`${ROOT}${name}.ts`), name),
    ...await helpCommands(name),
  ]))).flat(),
];

/** A line without its trailing shell comment, as markers name it. */
function withoutComment(line: string): string {
  return line.replace(/\s+#.*$/, "");
}

Deno.test("README: every not-run marker names a command line of the README", () => {
  const lines = new Set(commands.map(({ line }) => withoutComment(line)));
  for (const marked of markers.keys()) {
    assert.ok(lines.has(marked), `the marker names no README line: ${marked}`);
  }
  // The README and the help examples hold a few dozen lines; a parser that
  // finds none would let everything through.
  assert.ok(commands.length >= 30, `only ${commands.length} command lines`);
});

for (const { line, where } of commands) {
  const reason = markers.get(withoutComment(line));
  Deno.test({
    name: `${where}: ${line}`,
    ignore: reason !== undefined
      ? !canRun(false, `${where}: ${line}: ${reason}`)
      : needsTerminal(line)
      ? !canRun(hasPython, `${where}: ${line}: a terminal needs python3's pty`)
      : / -- python3 /.test(line) &&
        !canRun(hasPython, `${where}: ${line}: it grades Python programs`),
    fn: () => withTimeout(runLine(line), line, 90_000),
  });
}

Deno.test("README: the loss lab prints what the README shows", async () => {
  const section = README.slice(README.indexOf("### The loss lab"));
  const blocks = section.match(/```sh\n([^]*?)```\s*```\n([^]*?)```/);
  assert.ok(blocks, "the loss lab's commands and their output");
  const [serverLine, clientLine] = blocks[1].trim().split("\n");
  const folder = await labFolder();
  const port = freePort("udp");
  const server = await startServer(
    ["sh", "-c", `exec ${onPort(serverLine, parse(serverLine), port)}`],
    { cwd: folder, env: shellEnv() },
  );
  try {
    const client = await sh(
      onPort(clientLine, parse(clientLine), port),
      folder,
    );
    // Times and round-trip times differ from run to run; the rest may not.
    const shape = (output: string) =>
      output.replaceAll(`:${port}`, ":12000").replace(/\d+\.\d+/g, "T");
    assert.equal(shape(client.stdout), shape(blocks[2]));
  } finally {
    await server.stop();
    await Deno.remove(folder, { recursive: true });
  }
});

/** The code spans of a Markdown cell, however many backticks fence them. */
function codeSpans(cell: string): string[] {
  return [...cell.matchAll(/(`+) ?([^`]|[^`][^]*?[^`]) ?\1(?!`)/g)].map((m) =>
    m[2]
  );
}

/** Code with its layout taken out: no whitespace, no trailing commas. */
function squeezed(code: string): string {
  return code.replace(/\s+/g, "").replace(/,([)}\]])/g, "$1");
}

/** A pattern for code from the README, where `...` stands for anything. */
function codePattern(code: string): RegExp {
  const parts = squeezed(code).split("...").map((part) =>
    part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  );
  // A name ends where the code does: `Deno.listen` is not `Deno.listenDatagram`.
  return new RegExp(parts.join(".*?") + "(?![\\w$])");
}

/** Rows of textbook/README.md's table whose header names `python` and `deno`. */
function tableRows(python: string, deno: string): string[][] {
  const header = `| \`${python}\``;
  const start = TEXTBOOK_README.split("\n").findIndex((line) =>
    line.startsWith(header) && line.includes(`\`${deno}\``)
  );
  assert.ok(start >= 0, `a table of ${python} and ${deno}`);
  const rows: string[][] = [];
  for (const line of TEXTBOOK_README.split("\n").slice(start + 2)) {
    if (!line.startsWith("|")) break;
    rows.push(line.split(" | ").map((cell) => cell.replace(/^\| |\|$/g, "")));
  }
  return rows;
}

/** Whether the cell shows the Deno line itself rather than naming things. */
function isStatement(cell: string, code: string): boolean {
  return cell.startsWith("`") && /\(|=/.test(code) && !code.startsWith("--");
}

for (
  const [python, name] of [
    ["UDPClient.py", "udp_client"],
    ["UDPServer.py", "udp_server"],
    ["TCPClient.py", "tcp_client"],
    ["TCPServer.py", "tcp_server"],
  ]
) {
  Deno.test(`textbook/README.md: the ${python} table matches ${name}.ts`, async () => {
    const source = await Deno.readTextFile(`${ROOT}${name}.ts`);
    const lines = source.split("\n");
    const squeezedSource = squeezed(source);
    const rows = tableRows(python, `${name}.ts`);
    assert.ok(rows.length >= 6, `${rows.length} rows`);
    const problems: string[] = [];
    for (const [pythonCell, denoCell] of rows) {
      const [pythonLine] = codeSpans(pythonCell);
      // Where the script names the Python line in a comment, and the code
      // line right below that comment.
      const below: string[] = [];
      for (const [index, line] of lines.entries()) {
        if (!/^\s*\/\/.*/.test(line) || !line.includes(pythonLine)) continue;
        let next = index + 1;
        while (/^\s*\/\//.test(lines[next])) next++;
        below.push(lines.slice(next, next + 12).join("\n"));
      }
      if (below.length === 0) {
        problems.push(`no comment names ${pythonLine}`);
      }
      const spans = codeSpans(denoCell);
      for (const code of spans) {
        if (!codePattern(code).test(squeezedSource)) {
          problems.push(`no ${code} (row ${pythonLine})`);
        }
      }
      if (spans.length > 0 && isStatement(denoCell, spans[0])) {
        const pattern = codePattern(spans[0]);
        const isBelow = below.some((code) => {
          const found = pattern.exec(squeezed(code));
          const first = squeezed(code.split("\n")[0]);
          return found !== null && found.index < first.length;
        });
        if (!isBelow) {
          problems.push(`${spans[0]} is not below the comment ${pythonLine}`);
        }
      }
    }
    assert.deepEqual(problems, [], `${name}.ts`);
  });
}

Deno.test("README: the module example runs and prints what its comments say", async () => {
  const example = README.match(
    /## Using them as modules[^]*?```ts\n([^]*?)```/,
  );
  assert.ok(example, "the module example");
  const folder = await labFolder();
  try {
    await Deno.writeTextFile(`${folder}/example.ts`, example[1]);
    // The command line the README gives for it.
    const line = README.match(/this runs with\s+`([^`]*example\.ts)`/);
    assert.ok(line, "how to run the module example");
    const run = await sh(line[1].replace(/\s+/g, " "), folder);
    assert.equal(run.code, 0, run.stderr);
    // Each `// ...` after a console.log is what that line prints, where
    // "..." stands for the rest of an object.
    const promised = [...example[1].matchAll(/console\.log\(.*\/\/ (.*)$/gm)]
      .map((match) => match[1]);
    const printed = run.stdout.trimEnd().split("\n");
    assert.equal(printed.length, promised.length, run.stdout);
    for (const [index, line] of printed.entries()) {
      const pattern = promised[index].split("...").map((part) =>
        part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
      ).join(".*");
      assert.match(line, new RegExp(`^${pattern}$`));
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("textbook/README.md: the -v example is what tcp_server.ts -v prints", async () => {
  const shown = TEXTBOOK_README.match(/watch them\s+run[^]*?```\n([^]*?)```/);
  assert.ok(shown, "the --verbose example");
  const server = await startServer(
    script("tcp_server.ts", "--host", "127.0.0.1", "-p", "0", "-v"),
  );
  const client = await sh(
    `deno run --allow-net tcp_client.ts -p ${server.port} --host 127.0.0.1 hello world`,
    ROOT,
  );
  const { stderr } = await server.stop();
  assert.equal(client.stdout, "HELLO WORLD\n");
  // Ports differ from run to run; the steps, their order and counts may not.
  const shape = (lines: string) =>
    lines.replace(/^tcp_server: |^\d{4}-\d\d-\d\dT[\d:.]+Z /gm, "").replace(
      /:\d+/g,
      ":PORT",
    )
      .split("\n").filter((line) => line && !/^(received|served)/.test(line))
      .join("\n");
  assert.equal(
    shape(stderr).split("\n").filter((line) => !line.includes("summary"))
      .slice(0, 6).join("\n"),
    shape(shown[1]),
  );
});

/** The grader's tables of a document, TCP's then UDP's: rows by first cell. */
function gradeTables(document: string): Map<string, string[]>[] {
  return document.split(/\n(?=\| (?:TCP|UDP) server )/).slice(1).map(
    (table) =>
      new Map(
        table.split("\n\n")[0].split("\n").filter((line) =>
          line.startsWith("| ")
        ).map((line) => {
          const cells = line.split("|").slice(1, -1).map((c) => c.trim());
          return [cells[0], cells.slice(1)];
        }),
      ),
  );
}

/** Compares a document's grade tables with tests/peers/corpus.ts. */
function assertGrades(document: string, every: boolean) {
  const tables = gradeTables(document);
  assert.equal(tables.length, 2);
  for (
    const [rows, transport, checks] of [
      [tables[0], "tcp", TCP_CHECKS],
      [tables[1], "udp", UDP_CHECKS],
    ] as const
  ) {
    assert.deepEqual(rows.get(`${transport.toUpperCase()} server`), [
      ...checks.map(([, heading]) => heading),
      "score",
    ]);
    const servers = CORPUS.filter((server) => server.transport === transport);
    // The heading, the rule, and a row for each server shown.
    if (every) assert.equal(rows.size, 2 + servers.length);
    else assert.ok(rows.size >= 2 + 3, `${rows.size - 2} ${transport} rows`);
    for (const [name, cells] of [...rows].slice(2)) {
      const server = servers.find((server) => server.name === name);
      assert.ok(server, `${name}: not in tests/peers/corpus.ts`);
      assert.deepEqual(cells, [...server.verdicts, String(server.score)], name);
    }
  }
}

Deno.test("tests/peers/class/README.md: its grade tables are the whole of tests/peers/corpus.ts", async () => {
  const document = await Deno.readTextFile(
    `${ROOT}tests/peers/class/README.md`,
  );
  assertGrades(document.slice(document.indexOf("## The grades")), true);
});

Deno.test("README: its grade tables are rows of tests/peers/corpus.ts", () => {
  assertGrades(README.slice(README.indexOf("**The grader's corpus**")), false);
});

Deno.test("README: the number of student servers it names is the corpus's", () => {
  const reference =
    /\((ours|the textbook's|this project's textbook edition|as the Java companion's)\)$/;
  const students = CORPUS.filter(({ name }) => !reference.test(name));
  const named = README.match(/, ours, and (\d+)\s+student servers/);
  assert.equal(Number(named?.[1]), students.length);
});

/** Grades the server at `port` with the CLI, as the README's lines do. */
async function gradedByCli(
  transport: "tcp" | "udp",
  host: string,
  port: number,
) {
  const run = await sh(
    `deno run --allow-net --unstable-net --allow-run grade.ts ` +
      `${transport}-server --host ${host} -p ${port}`,
    ROOT,
  );
  return run.stdout;
}

Deno.test({
  name:
    "README: the grade.ts example is what the grader prints against the textbook's TCPServer.py",
  ignore: !canRun(hasPython, "the textbook's programs need python3"),
  async fn() {
    const section = README.slice(README.indexOf("#### A server"));
    const shown = [...section.matchAll(/```\n(Grading [^]*?)```/g)].map((
      block,
    ) => block[1]);
    assert.equal(shown.length, 1);
    const server = await startServer([
      "python3",
      "tests/peers/run_textbook.py",
      "tests/peers/textbook/TCPServer.py",
    ]);
    try {
      const printed = await gradedByCli("tcp", "127.0.0.1", server.port);
      const readmePort = shown[0].match(/127\.0\.0\.1:(\d+)/)![1];
      assert.equal(
        printed.replaceAll(`:${server.port}`, `:${readmePort}`).replace(
          /waited \d\.\d s/,
          (wait) => shown[0].match(/waited \d\.\d s/)?.[0] ?? wait,
        ),
        shown[0],
      );
    } finally {
      await server.stop("SIGKILL");
    }
  },
});

Deno.test("README: the program it shows first is textbook/UDPServer.ts, whole", async () => {
  const shown = README.match(/```ts\n(#!\/usr\/bin\/env[^]*?)```/);
  assert.ok(shown, "a program opening with its shebang line");
  assert.equal(
    shown[1],
    await Deno.readTextFile(`${ROOT}textbook/UDPServer.ts`),
  );
});

Deno.test("README: the count-the-s exercise, made as it says, answers with the count", async () => {
  const exercise = README.match(
    /replace\s+the line under `([^`]+)` with\s+`([^`]+)`/,
  );
  assert.ok(exercise, "the exercise's line and its replacement");
  const [, pythonLine, replacement] = exercise;
  const folder = await labFolder();
  try {
    const file = `${folder}/textbook/UDPServer.ts`;
    const lines = (await Deno.readTextFile(file)).split("\n");
    const under = lines.findIndex((line) => line.endsWith(`// ${pythonLine}`));
    assert.ok(under >= 0, `a comment quoting ${pythonLine}`);
    lines[under + 1] = `  ${replacement}`;
    await Deno.writeTextFile(file, lines.join("\n"));
    const server = await startServer([
      Deno.execPath(),
      ...["run", "--allow-net", "--unstable-net", file, "0", "127.0.0.1"],
    ]);
    try {
      const reply = await probeUntilAnswered(bytes("mississippi"), server.port);
      assert.equal(text(reply), "4");
    } finally {
      await server.stop("SIGKILL");
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
});

Deno.test("README: its client and Pinger grade rows are rows of the corpora's READMEs", async () => {
  const corpora = (await Promise.all(
    ["tests/peers/clients/README.md", "tests/peers/pingers/README.md"].map(
      (name) => Deno.readTextFile(`${ROOT}${name}`),
    ),
  )).join("\n");
  const section = README.slice(
    README.indexOf("#### A client"),
    README.indexOf("#### A whole class"),
  );
  const rows = section.split("\n").filter((line) =>
    /^\| .*\| +[PWFS`]{5,}`? +\|/.test(line)
  );
  assert.ok(rows.length >= 10, `${rows.length} rows`);
  // deno fmt pads each table to its own widest cell: compare the cells.
  const cells = (row: string) => row.split("|").map((cell) => cell.trim());
  const corpusRows = corpora.split("\n").map((row) => cells(row).join("|"));
  for (const row of rows) {
    assert.ok(corpusRows.includes(cells(row).join("|")), row);
  }
});
