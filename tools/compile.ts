/**
 * `deno task compile`: builds the four programs into self-contained
 * executables in `dist/TARGET/`, for Linux, macOS and Windows on x86_64 and
 * arm64, each with only the permissions it needs baked in, and writes
 * `dist/TARGET/SHA256SUMS` for each, with bare names: copy a target's
 * folder to a lab machine and `sha256sum -c SHA256SUMS` checks it there.
 *
 *   deno task compile                      every target
 *   deno task compile --target x86_64-unknown-linux-gnu
 *
 * `deno compile` downloads Deno's `denort` runtime for each target from
 * Deno's own server into `$DENO_DIR/dl/release/vVERSION/denort-TARGET.zip`;
 * where that cannot be reached, put the zip there by hand, or point
 * `DENORT_BIN` at a `denort` binary and build `--target` for it alone.
 *
 * `deno compile` takes any executable as the runtime, so each binary is
 * checked before its checksum is written: its header's format and CPU must
 * be the target's, and one built for this machine must print our `--help`.
 * Otherwise the target's folder is removed and the reason given, exit 1.
 *
 * @module
 */
import { parseArgs } from "node:util";

const TARGETS = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
  "x86_64-pc-windows-msvc",
  "aarch64-pc-windows-msvc",
];

/** Each program and the permissions baked into it: network, nothing else. */
const PROGRAMS: [string, string[]][] = [
  ["udp_server", ["--allow-net", "--unstable-net"]],
  ["udp_client", ["--allow-net", "--unstable-net"]],
  ["tcp_server", ["--allow-net"]],
  ["tcp_client", ["--allow-net"]],
];

/** CPUs by the numbers each format's header gives them. */
const CPUS: Record<string, Record<number, string>> = {
  "ELF": { 62: "x86_64", 183: "aarch64" }, // e_machine
  "Mach-O": { 0x01000007: "x86_64", 0x0100000c: "aarch64" }, // cputype
  "PE": { 0x8664: "x86_64", 0xaa64: "aarch64" }, // Machine
};

const { values } = parseArgs({
  args: Deno.args,
  options: { target: { type: "string", multiple: true } },
});
const targets = values.target ?? TARGETS;
for (const target of targets) {
  if (!TARGETS.includes(target)) {
    console.error(
      `compile: unknown target ${target}; one of ${TARGETS.join(", ")}`,
    );
    Deno.exit(2);
  }
}

const runtimeProblem = await denortBinProblem(Deno.env.get("DENORT_BIN"));
if (runtimeProblem !== undefined) {
  console.error(
    `compile: DENORT_BIN=${Deno.env.get("DENORT_BIN")}: ${runtimeProblem}; ` +
      "set it to a denort runtime's path, or unset it to download one",
  );
  Deno.exit(1);
}

const root = new URL("../", import.meta.url);
for (const target of targets) {
  const folder = `dist/${target}`;
  const sums: string[] = [];
  for (const [name, permissions] of PROGRAMS) {
    const output = `${folder}/${name}${
      target.includes("windows") ? ".exe" : ""
    }`;
    await build(target, output, name, permissions);
    const binary = await Deno.readFile(new URL(output, root));
    const refusal = wrongMachine(binary, target) ??
      (target === Deno.build.target ? await notOurs(output, name) : undefined);
    if (refusal !== undefined) {
      // Nothing unverified stays to be shipped: not this folder, nor its sums.
      await Deno.remove(new URL(folder, root), { recursive: true });
      console.error(`compile: ${output} ${refusal}`);
      Deno.exit(1);
    }
    sums.push(`${await sha256(binary)}  ${output.slice(folder.length + 1)}`);
    console.log(`compile: ${output}`);
  }
  const file = `${folder}/SHA256SUMS`;
  await Deno.writeTextFile(new URL(file, root), sums.join("\n") + "\n");
  console.log(`compile: ${file}`);
}

/**
 * What is wrong with `DENORT_BIN` as a runtime's path, or `undefined` when
 * nothing is (or it is unset): checked before anything is built, since
 * `deno compile` says it only with its own error and a stack backtrace,
 * after making the target's folder.
 */
async function denortBinProblem(
  path: string | undefined,
): Promise<string | undefined> {
  if (path === undefined) return undefined;
  // `deno compile` takes an empty DENORT_BIN as set, and fails on it.
  if (path === "") return "it is empty";
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error) {
    return error instanceof Deno.errors.NotFound
      ? "there is no such file"
      : `it cannot be read (${error})`;
  }
  if (info.isDirectory) return "is a directory, not a file";
  if (!info.isFile) return "is not a file";
  // No mode on Windows, where any file may be run.
  if (info.mode !== null && (info.mode & 0o111) === 0) {
    return "is not executable";
  }
  return undefined;
}

/** Runs `deno compile` for one program; on failure, says why and exits. */
async function build(
  target: string,
  output: string,
  name: string,
  permissions: string[],
) {
  const { success, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "compile",
      ...permissions,
      ...["--target", target, "--output", output, `${name}.ts`],
    ],
    cwd: root,
    stdout: "inherit",
    stderr: "piped",
  }).output();
  if (success) return;
  const message = new TextDecoder().decode(stderr);
  console.error(message.trim());
  if (
    /dns error|failed to lookup|download|error sending request/i.test(message)
  ) {
    const version = Deno.version.deno;
    console.error(
      `compile: deno compile could not download the runtime for ${target}. ` +
        `Put denort-${target}.zip of Deno ${version} in ` +
        `$DENO_DIR/dl/release/v${version}/ (deno info shows DENO_DIR), or ` +
        "set DENORT_BIN to a denort binary and build only its target, e.g. " +
        "deno task compile --target x86_64-unknown-linux-gnu",
    );
  }
  Deno.exit(1);
}

/**
 * Why an executable cannot run on `target`'s machines, from its header's
 * format and CPU; `undefined` when it can. A runtime for another machine
 * (`DENORT_BIN`) builds without complaint and fails only there.
 */
function wrongMachine(binary: Uint8Array, target: string): string | undefined {
  const format = target.includes("linux")
    ? "ELF"
    : target.includes("darwin")
    ? "Mach-O"
    : "PE";
  const needed = `an ${format} ${
    target.slice(0, target.indexOf("-"))
  } executable`;
  const found = executableKind(binary);
  if (found === needed) return undefined;
  return `is ${found}, and ${target} needs ${needed}: ` +
    "is DENORT_BIN a runtime for another machine?";
}

/** An executable's format and CPU from its header, e.g. "an ELF x86_64 executable". */
function executableKind(binary: Uint8Array): string {
  const view = new DataView(binary.buffer, binary.byteOffset);
  const has = (offset: number, ...bytes: number[]) =>
    binary.length >= offset + bytes.length &&
    bytes.every((byte, i) => binary[offset + i] === byte);
  let format: string;
  let cpu: number;
  if (has(0, 0x7f, 0x45, 0x4c, 0x46) && binary.length >= 20) {
    format = "ELF"; // e_machine, in the byte order EI_DATA names
    cpu = view.getUint16(18, binary[5] === 1);
  } else if (has(0, 0xcf, 0xfa, 0xed, 0xfe) && binary.length >= 8) {
    format = "Mach-O"; // 64-bit, little-endian: cputype follows the magic
    cpu = view.getUint32(4, true);
  } else if (has(0, 0x4d, 0x5a) && binary.length >= 64) {
    const pe = view.getUint32(0x3c, true); // e_lfanew: where "PE\0\0" is
    if (!has(pe, 0x50, 0x45, 0, 0) || binary.length < pe + 6) {
      return "not an executable";
    }
    format = "PE";
    cpu = view.getUint16(pe + 4, true);
  } else {
    return "not an executable";
  }
  const name = CPUS[format][cpu] ?? `CPU 0x${cpu.toString(16)}`;
  return `an ${format} ${name} executable`;
}

/**
 * Why a binary built for this machine is not `name`, from its `--help`
 * (a runtime that is not `denort`, such as `deno` itself, builds a binary
 * that prints its own); `undefined` when it is.
 */
async function notOurs(
  output: string,
  name: string,
): Promise<string | undefined> {
  // A binary's help names it by its file name: udp_server.exe on Windows.
  const usage = `Usage: ${output.slice(output.lastIndexOf("/") + 1)} [options]`;
  try {
    const { stdout } = await new Deno.Command(new URL(output, root), {
      args: ["--help"],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
      signal: AbortSignal.timeout(30_000),
    }).output();
    const printed = new TextDecoder().decode(stdout);
    if (printed.startsWith(usage)) return undefined;
    const first = printed.trim().split("\n")[0];
    return `is not ${name}: its --help printed "${first}", not "${usage}"; ` +
      "is DENORT_BIN a denort runtime?";
  } catch (error) {
    return `is not ${name}: it does not run here (${error}); ` +
      "is DENORT_BIN a denort runtime?";
  }
}

/** A file's SHA-256 digest in hex, as `sha256sum` prints it. */
async function sha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0"))
    .join("");
}
