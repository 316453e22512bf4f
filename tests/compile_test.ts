/**
 * `deno compile` turns a script into a self-contained executable. It needs
 * Deno's `denort` runtime, which it downloads from Deno's own server; the
 * test of real binaries runs where one is at hand (`DENORT_BIN`, Deno's
 * download cache, or a download it tries first) and is skipped, with the
 * download's own error, where none is. `deno task compile` must refuse
 * what is not a runtime for its target: `deno` itself, or a runtime for
 * another CPU; those tests need no runtime and always run.
 */
import assert from "node:assert/strict";
import { canRun, hasProgram, ROOT, startServer, text } from "./_helpers.ts";

const target = `${Deno.build.arch}-${
  {
    linux: "unknown-linux-gnu",
    darwin: "apple-darwin",
    windows: "pc-windows-msvc",
  }[
    Deno.build.os as string
  ]
}`;

/**
 * Why no `denort` runtime can be had here, or `undefined` when one can:
 * `DENORT_BIN`, Deno's download cache, or a download tried now (as
 * `deno compile` does), whose own error is the reason when it fails.
 */
async function noRuntime(): Promise<string | undefined> {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv) {
    return await exists(fromEnv)
      ? undefined
      : `DENORT_BIN=${fromEnv}: no such file`;
  }
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const denoDir = JSON.parse(text(info.stdout)).denoDir as string;
  const cached = `${denoDir}/dl/release/v${Deno.version.deno}/` +
    `denort-${target}.zip`;
  if (await exists(cached)) return undefined;
  const dir = await Deno.makeTempDir({ prefix: "denort_" });
  try {
    await Deno.writeTextFile(`${dir}/one.ts`, "console.log(1);\n");
    const tried = await new Deno.Command(Deno.execPath(), {
      args: ["compile", "--output", `${dir}/one`, `${dir}/one.ts`],
      env: { NO_COLOR: "1" },
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    if (tried.success) return undefined;
    const said = text(tried.stderr).split("Stack backtrace")[0];
    const url = said.match(/https:\/\/\S+?\.zip/)?.[0] ?? "a runtime";
    const cause = said.match(/^\s*\d+: (.+)$/gm)?.at(-1)?.replace(
      /^\s*\d+: /,
      "",
    ) ?? said.trim().split("\n")[0];
    return `deno compile needs a denort runtime: none in DENORT_BIN or ` +
      `Deno's cache, and downloading ${url} failed here: ${cause}`;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const reason = await noRuntime();

Deno.test({
  name:
    "compile: the compiled udp_server and udp_client binaries talk to each other",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "compiled_" });
    try {
      for (const name of ["udp_server", "udp_client"]) {
        const out = await new Deno.Command(Deno.execPath(), {
          args: [
            ...["compile", "--allow-net", "--unstable-net", "--target", target],
            ...["--output", `${dir}/${name}`, `${name}.ts`],
          ],
          cwd: ROOT,
          stdout: "null",
          stderr: "piped",
        }).output();
        assert.ok(out.success, text(out.stderr));
      }
      const server = await startServer([
        `${dir}/udp_server`,
        "--host",
        "127.0.0.1",
        "--port",
        "0",
      ]);
      try {
        const client = await new Deno.Command(`${dir}/udp_client`, {
          args: [
            "--host",
            "127.0.0.1",
            "--port",
            String(server.port),
            "hello",
            "binary",
          ],
          stdout: "piped",
          stderr: "piped",
          signal: AbortSignal.timeout(10_000),
        }).output();
        assert.equal(text(client.stderr), "");
        assert.equal(text(client.stdout), "HELLO BINARY\n");
        // Its help names the binary, not the script and deno run.
        const help = await new Deno.Command(`${dir}/udp_client`, {
          args: ["--help"],
          stdout: "piped",
        }).output();
        assert.match(text(help.stdout), /^Usage: udp_client \[options\]/);
        assert.match(text(help.stdout), /\n {2}\.\/udp_client --ping 10 /);
        assert.doesNotMatch(text(help.stdout), /deno run|udp_client\.ts/);
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

/** The ELF `e_machine` numbers of the two CPUs the targets name. */
const ELF_MACHINE = { x86_64: 62, aarch64: 183 };

/**
 * The smallest ELF executable header `deno compile` accepts as a runtime
 * (one loadable segment, no code): enough to carry a CPU in `e_machine`.
 */
function elfHeader(machine: number): Uint8Array {
  const file = new Uint8Array(120);
  const view = new DataView(file.buffer);
  file.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF, 64-bit, little-endian
  view.setUint16(16, 2, true); // e_type: an executable
  view.setUint16(18, machine, true);
  view.setUint32(20, 1, true); // e_version
  view.setBigUint64(24, 0x400000n, true); // e_entry
  view.setBigUint64(32, 64n, true); // e_phoff: right after this header
  view.setUint16(52, 64, true); // e_ehsize
  view.setUint16(54, 56, true); // e_phentsize
  view.setUint16(56, 1, true); // e_phnum
  view.setUint16(58, 64, true); // e_shentsize
  view.setUint32(64, 1, true); // p_type: PT_LOAD
  view.setUint32(68, 5, true); // p_flags: read, execute
  view.setBigUint64(80, 0x400000n, true); // p_vaddr
  view.setBigUint64(88, 0x400000n, true); // p_paddr
  view.setBigUint64(96, 120n, true); // p_filesz
  view.setBigUint64(104, 120n, true); // p_memsz
  view.setBigUint64(112, 0x1000n, true); // p_align
  return file;
}

/**
 * A folder as the project's checkout has it for compiling (deno.json,
 * tools/compile.ts, the four scripts), where `deno task compile --target
 * TARGET` runs with only `env` (and PATH) as its environment.
 */
async function compileTask(target: string, env: Record<string, string>) {
  const folder = await Deno.makeTempDir({ prefix: "compile_task_" });
  await Deno.mkdir(`${folder}/tools`);
  for (
    const name of [
      "deno.json",
      "tools/compile.ts",
      ...["udp_server", "udp_client", "tcp_server", "tcp_client"].map((n) =>
        `${n}.ts`
      ),
    ]
  ) {
    await Deno.copyFile(`${ROOT}${name}`, `${folder}/${name}`);
  }
  const run = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile", "--target", target],
    cwd: folder,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(180_000),
  }).output();
  return {
    folder,
    code: run.code,
    stdout: text(run.stdout),
    stderr: text(run.stderr),
  };
}

/** The last line of a command's stderr: its one-line reason. */
function lastLine(stderr: string): string {
  return stderr.trimEnd().split("\n").at(-1) ?? "";
}

Deno.test("compile: DENORT_BIN=$(which deno) is refused: the binary's --help is Deno's, not ours", async () => {
  const run = await compileTask(target, {
    DENORT_BIN: Deno.execPath(),
    HOME: Deno.env.get("HOME") ?? "",
  });
  try {
    assert.equal(run.code, 1, run.stderr);
    assert.match(
      lastLine(run.stderr),
      /^compile: dist\/[\w-]+\/udp_server is not udp_server: its --help printed "A modern JavaScript and TypeScript runtime", not "Usage: udp_server \[options\]"; is DENORT_BIN a denort runtime\?$/,
    );
    // Nothing unverified is left to ship: no folder, so no SHA256SUMS.
    await assert.rejects(Deno.stat(`${run.folder}/dist/${target}`));
  } finally {
    await Deno.remove(run.folder, { recursive: true });
  }
});

Deno.test({
  name:
    "compile: an x86-64 runtime for an aarch64 target is refused, from its ELF header",
  ignore: !canRun(
    target !== "aarch64-unknown-linux-gnu",
    "this machine is aarch64 Linux: the wrong CPU is tested on other hosts",
  ),
  async fn() {
    const fake = await Deno.makeTempFile({ prefix: "denort_" });
    await Deno.writeFile(fake, elfHeader(ELF_MACHINE.x86_64));
    const run = await compileTask("aarch64-unknown-linux-gnu", {
      DENORT_BIN: fake,
      HOME: Deno.env.get("HOME") ?? "",
    });
    try {
      assert.equal(run.code, 1, run.stderr);
      assert.equal(
        lastLine(run.stderr),
        "compile: dist/aarch64-unknown-linux-gnu/udp_server is an ELF " +
          "x86_64 executable, and aarch64-unknown-linux-gnu needs an ELF " +
          "aarch64 executable: is DENORT_BIN a runtime for another machine?",
      );
      await assert.rejects(
        Deno.stat(`${run.folder}/dist/aarch64-unknown-linux-gnu`),
      );
    } finally {
      await Deno.remove(run.folder, { recursive: true });
      await Deno.remove(fake);
    }
  },
});

const hasZip = await hasProgram("zip");

Deno.test({
  name:
    "compile: offline, the runtime zip in $DENO_DIR/dl/release/vVERSION/ builds its target, checksums and all",
  ignore: !canRun(
    hasZip && target !== "aarch64-unknown-linux-gnu",
    hasZip
      ? "this machine is aarch64 Linux: a fake runtime for it would be run"
      : "zip is not installed, to make the runtime's zip",
  ),
  async fn() {
    // The README's offline route: Deno's download cache, as `deno compile`
    // fills it, holds a runtime (here a bare aarch64 ELF header) for the
    // target; nothing is downloaded and DENORT_BIN is not set.
    const denoDir = await Deno.makeTempDir({ prefix: "deno_dir_" });
    const target = "aarch64-unknown-linux-gnu";
    const release = `${denoDir}/dl/release/v${Deno.version.deno}`;
    await Deno.mkdir(release, { recursive: true });
    await Deno.writeFile(`${denoDir}/denort`, elfHeader(ELF_MACHINE.aarch64));
    const zipped = await new Deno.Command("zip", {
      args: ["-q", `${release}/denort-${target}.zip`, "denort"],
      cwd: denoDir,
    }).output();
    assert.ok(zipped.success);
    const run = await compileTask(target, { DENO_DIR: denoDir });
    try {
      assert.equal(run.code, 0, run.stderr);
      const sums = await new Deno.Command("sha256sum", {
        args: ["-c", "SHA256SUMS"],
        cwd: `${run.folder}/dist/${target}`,
        stdout: "piped",
      }).output();
      assert.equal(
        text(sums.stdout),
        "udp_server: OK\nudp_client: OK\ntcp_server: OK\ntcp_client: OK\n",
      );
    } finally {
      await Deno.remove(run.folder, { recursive: true });
      await Deno.remove(denoDir, { recursive: true });
    }
  },
});
