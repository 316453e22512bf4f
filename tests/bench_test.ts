import assert from "node:assert/strict";
import { canRun, hasProgram, ROOT } from "./_helpers.ts";

const MARKER =
  "<!-- deno task bench rewrites what follows and keeps what is above -->";

/**
 * Runs `deno task bench`'s script on a copy of the servers and the
 * benchmark in a new folder, whose bench/RESULTS.md starts as `results`
 * (none if undefined), for the shortest run there is; the RESULTS.md it
 * leaves.
 */
async function benchOnCopy(results?: string): Promise<string> {
  const folder = await Deno.makeTempDir({ prefix: "bench_test_" });
  try {
    await Deno.mkdir(`${folder}/bench`);
    for (const file of ["tcp_server.ts", "udp_server.ts"]) {
      await Deno.copyFile(`${ROOT}/${file}`, `${folder}/${file}`);
    }
    for (const file of ["run.ts", "loadgen.c", "c_server.c"]) {
      await Deno.copyFile(`${ROOT}/bench/${file}`, `${folder}/bench/${file}`);
    }
    if (results !== undefined) {
      await Deno.writeTextFile(`${folder}/bench/RESULTS.md`, results);
    }
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        ...["run", "--allow-run", "--allow-read", "--allow-write=bench"],
        "bench/run.ts",
        ...["--only", "ours", "--modes", "udp", "--seconds", "0.3"],
      ],
      cwd: folder,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      signal: AbortSignal.timeout(120_000),
    }).output();
    assert.ok(success, new TextDecoder().decode(stderr));
    return await Deno.readTextFile(`${folder}/bench/RESULTS.md`);
  } finally {
    await Deno.remove(folder, { recursive: true });
  }
}

const hasCompiler = await hasProgram("cc");

Deno.test({
  name:
    "deno task bench rewrites RESULTS.md below its marker line and keeps the analyses above it",
  ignore: !canRun(hasCompiler, "needs a C compiler (cc) for bench/loadgen.c"),
  async fn() {
    const analysis =
      "# Benchmark results\n\n## An analysis by hand\n\nKept.\n\n";
    const results = await benchOnCopy(
      `${analysis}${MARKER}\n\n## The last full run\n\nReplaced.\n`,
    );
    assert.ok(results.startsWith(`${analysis}${MARKER}\n\n`), results);
    assert.equal(results.split(MARKER).length, 2, results);
    assert.doesNotMatch(results, /Replaced\./);
    assert.match(results, /\n## UDP, 64 outstanding\n/);
  },
});

Deno.test({
  name:
    "deno task bench keeps a RESULTS.md without its marker line whole, above what it writes",
  ignore: !canRun(hasCompiler, "needs a C compiler (cc) for bench/loadgen.c"),
  async fn() {
    const earlier = "# Benchmark results\n\nWritten by hand, no marker.\n";
    const results = await benchOnCopy(earlier);
    assert.ok(results.startsWith(`${earlier}\n${MARKER}\n\n`), results);
    assert.match(results, /\n## UDP, 64 outstanding\n/);
  },
});

Deno.test({
  name: "deno task bench writes a RESULTS.md where there was none",
  ignore: !canRun(hasCompiler, "needs a C compiler (cc) for bench/loadgen.c"),
  async fn() {
    const results = await benchOnCopy();
    assert.ok(results.startsWith(`# Benchmark results\n\n${MARKER}\n\n`));
    assert.match(results, /\n## UDP, 64 outstanding\n/);
  },
});
