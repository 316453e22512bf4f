/**
 * `deno compile` turns a script into a self-contained executable. It needs
 * Deno's `denort` runtime, which it downloads from Deno's own server; this
 * test runs where one is at hand (`DENORT_BIN`, Deno's download cache, or
 * a download it tries first) and is skipped, with the download's own
 * error, where none is.
 */
import assert from "node:assert/strict";
import { canRun, ROOT, startServer, text } from "./_helpers.ts";

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
