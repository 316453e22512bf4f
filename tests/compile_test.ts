/**
 * `deno compile` turns a script into a self-contained executable. It needs
 * Deno's `denort` runtime, which it downloads from Deno's own server; this
 * test runs where one is at hand (`DENORT_BIN`, or Deno's download cache)
 * and is skipped, with that reason, where none is.
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

async function denortAvailable(): Promise<boolean> {
  const fromEnv = Deno.env.get("DENORT_BIN");
  if (fromEnv) return await exists(fromEnv);
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const denoDir = JSON.parse(text(info.stdout)).denoDir as string;
  return await exists(
    `${denoDir}/dl/release/v${Deno.version.deno}/denort-${target}.zip`,
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const available = await denortAvailable();

Deno.test({
  name:
    "compile: the compiled udp_server and udp_client binaries talk to each other",
  ignore: !canRun(
    available,
    "deno compile needs a denort runtime: none in DENORT_BIN or Deno's cache, " +
      "and Deno's download server cannot be reached from here",
  ),
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
      } finally {
        assert.equal((await server.stop()).code, 0);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
