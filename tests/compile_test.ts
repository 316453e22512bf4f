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
import {
  bytes,
  canRun,
  hasProgram,
  probeUntilAnswered,
  ROOT,
  startServer,
  text,
} from "./_helpers.ts";

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

Deno.test("compile: a DENORT_BIN that is empty, missing, a folder or not executable is one line naming it, and nothing is left in dist", async () => {
  const folder = await Deno.makeTempDir({ prefix: "denort_bin_" });
  const plain = `${folder}/denort`;
  await Deno.writeFile(plain, elfHeader(ELF_MACHINE.x86_64), { mode: 0o644 });
  try {
    for (
      const [path, wrong] of [
        ["", "it is empty"],
        [`${folder}/nonexistent`, "there is no such file"],
        [folder, "is a directory, not a file"],
        [plain, "is not executable"],
      ]
    ) {
      const run = await compileTask(target, {
        DENORT_BIN: path,
        HOME: Deno.env.get("HOME") ?? "",
      });
      try {
        assert.equal(run.code, 1, run.stderr);
        // One line after deno task's own, not Deno's error and backtrace.
        assert.equal(
          run.stderr.replace(/^Task compile .*\n/, ""),
          `compile: DENORT_BIN=${path}: ${wrong}; set it to a denort ` +
            "runtime's path, or unset it to download one\n",
        );
        await assert.rejects(Deno.stat(`${run.folder}/dist/${target}`));
      } finally {
        await Deno.remove(run.folder, { recursive: true });
      }
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
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
    await Deno.chmod(fake, 0o755); // executable, as DENORT_BIN must be
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

Deno.test({
  name:
    "compile: deno task compile passes its own checks on real binaries for this machine",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    // The runtime as the test above finds it: DENORT_BIN or Deno's cache.
    const env = Object.fromEntries(
      ["DENORT_BIN", "DENO_DIR", "HOME"].flatMap((key) => {
        const value = Deno.env.get(key);
        return value === undefined ? [] : [[key, value]];
      }),
    );
    const run = await compileTask(target, env);
    try {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /compile: dist\/[\w-]+\/SHA256SUMS\n$/);
    } finally {
      await Deno.remove(run.folder, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "compile: where the runtime cannot be downloaded, it names the cache path and DENORT_BIN",
  ignore: !canRun(
    reason?.includes("downloading") ?? false,
    "the runtime can be had here, so its download does not fail",
  ),
  async fn() {
    const denoDir = await Deno.makeTempDir({ prefix: "deno_dir_" });
    const run = await compileTask(target, { DENO_DIR: denoDir });
    try {
      assert.equal(run.code, 1, run.stderr);
      const version = Deno.version.deno;
      assert.equal(
        lastLine(run.stderr),
        `compile: deno compile could not download the runtime for ${target}. ` +
          `Put denort-${target}.zip of Deno ${version} in ` +
          `$DENO_DIR/dl/release/v${version}/ (deno info shows DENO_DIR), or ` +
          "set DENORT_BIN to a denort binary and build only its target, " +
          "e.g. deno task compile --target x86_64-unknown-linux-gnu",
      );
    } finally {
      await Deno.remove(run.folder, { recursive: true });
      await Deno.remove(denoDir, { recursive: true });
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
    const readme = await Deno.readTextFile(`${ROOT}README.md`);
    const cached = `$DENO_DIR/dl/release/v${Deno.version.deno}/`;
    assert.ok(readme.includes(cached), `README names ${cached}`);
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

/** README's "Running a server as a service": the unit and the container line. */
const SERVICE = await (async () => {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const section = readme.slice(
    readme.indexOf("### Running a server as a service"),
  );
  const unit = section.match(/```ini\n([^]*?)```/)?.[1] ?? "";
  const container = section.match(/```sh\n(docker run [^\n]*)\n```/)?.[1] ??
    "";
  return { unit, container };
})();

/** A unit's `KEY=value` lines, in order (a key may repeat). */
function unitSettings(unit: string): [string, string][] {
  return [...unit.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]);
}

/**
 * The prefix that runs a command as systemd's `DynamicUser=yes` and
 * `NoNewPrivileges=yes` would, as far as can be without systemd: a user
 * with no privileges (nobody) and the no_new_privs bit set.
 */
const DROP_PRIVILEGES = [
  "setpriv",
  ...["--reuid=65534", "--regid=65534", "--clear-groups", "--no-new-privs"],
  "--",
];

/** Whether privileges can be dropped here (root, with setpriv). */
const canDropPrivileges = await (async () => {
  try {
    const [program, ...args] = [...DROP_PRIVILEGES, "true"];
    return (await new Deno.Command(program, { args }).output()).success;
  } catch {
    return false;
  }
})();

const UNPRIVILEGED = canDropPrivileges ? DROP_PRIVILEGES : [];

/**
 * Runs a server's command as the service would (unprivileged, the script
 * in a folder of its own, Deno's cache empty), port 12000 made 0; `check`
 * talks to it; then SIGTERM, as `systemctl stop` and `docker stop` send,
 * must give exit 0 and the summary.
 */
async function runAsService(
  command: string[],
  scriptFolder: string,
  env: Record<string, string>,
  check: (port: number) => Promise<void>,
) {
  if (!canDropPrivileges) {
    console.warn(
      "running as this user: dropping privileges needs root and setpriv",
    );
  }
  const folder = await Deno.makeTempDir({ prefix: "service_" });
  const denoDir = await Deno.makeTempDir({ prefix: "service_cache_" });
  try {
    await Deno.copyFile(`${ROOT}udp_server.ts`, `${folder}/udp_server.ts`);
    for (const path of [folder, denoDir, `${folder}/udp_server.ts`]) {
      if (canDropPrivileges) await Deno.chown(path, 65534, 65534);
    }
    const local = command.map((word) =>
      word.replace(scriptFolder, `${folder}/`).replaceAll("12000", "0")
        .replace(/^\/usr\/bin\/deno$/, Deno.execPath())
    );
    const server = await startServer([...UNPRIVILEGED, ...local], {
      cwd: folder,
      env: { ...env, DENO_DIR: denoDir },
    });
    try {
      await check(server.port);
    } finally {
      const stopped = await server.stop("SIGTERM");
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /^udp_server: .*\n$/m);
    }
  } finally {
    await Deno.remove(folder, { recursive: true });
    await Deno.remove(denoDir, { recursive: true });
  }
}

Deno.test("README: the systemd unit's ExecStart serves, unprivileged, and its SIGTERM stop exits 0 with the summary", async () => {
  const settings = unitSettings(SERVICE.unit);
  const setting = (key: string) =>
    settings.filter(([k]) => k === key).map(([, v]) => v);
  for (
    const [key, value] of [
      ["DynamicUser", "yes"],
      ["NoNewPrivileges", "yes"],
      ["Restart", "on-failure"],
    ]
  ) {
    assert.deepEqual(setting(key), [value], `${key}=${value}`);
  }
  // systemctl stop sends KillSignal, SIGTERM unless the unit says otherwise;
  // the journal takes stdout and stderr unless it sends them elsewhere.
  assert.deepEqual(setting("KillSignal"), []);
  assert.deepEqual(setting("StandardOutput"), []);
  const [execStart] = setting("ExecStart");
  assert.ok(execStart, "the unit has an ExecStart");
  // No prompt can freeze a service, and the network is named, not all.
  assert.match(execStart, / --no-prompt /);
  assert.match(execStart, / --allow-net=\S/);
  const env = Object.fromEntries(
    setting("Environment").map((line) => line.split("=", 2)),
  );
  assert.equal(env.DENO_DIR, `/var/cache/${setting("CacheDirectory")[0]}`);
  await runAsService(
    execStart.split(/\s+/),
    "/opt/sockets/",
    env,
    async (port) => {
      const answer = await probeUntilAnswered(bytes("hello unit\n"), port);
      assert.equal(text(answer), "HELLO UNIT\n");
    },
  );
});

Deno.test("README: the container's deno command starts, unprivileged, and docker stop's SIGTERM exits 0 with the summary", async () => {
  const line = SERVICE.container;
  for (
    const flag of [
      "--restart=on-failure",
      "--cap-drop=ALL",
      "--security-opt=no-new-privileges",
      ":ro",
    ]
  ) {
    assert.ok(line.includes(flag), `the container line has ${flag}`);
  }
  const image = `denoland/deno:${Deno.version.deno}`;
  const words = line.split(/\s+/);
  assert.ok(words.includes(image), `the image is Deno's own version, ${image}`);
  const command = words.slice(words.indexOf(image) + 1);
  assert.equal(command[0], "run");
  assert.ok(command.includes("--no-prompt"));
  // The container relies on the default port, which -p maps.
  assert.ok(line.includes(" -p 12000:12000/udp "));
  await runAsService(
    [Deno.execPath(), ...command, "--port", "12000"],
    "/app/",
    {},
    async () => {},
  );
});
