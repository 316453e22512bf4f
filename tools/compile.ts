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
 * Deno's own server; where that cannot be reached, point `DENORT_BIN` at a
 * `denort` binary for this machine and build `--target` for it alone.
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

const root = new URL("../", import.meta.url);
for (const target of targets) {
  const sums: string[] = [];
  for (const [name, permissions] of PROGRAMS) {
    const output = `dist/${target}/${name}${
      target.includes("windows") ? ".exe" : ""
    }`;
    const { success, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "compile",
        ...permissions,
        "--target",
        target,
        "--output",
        output,
        `${name}.ts`,
      ],
      cwd: root,
      stdout: "inherit",
      stderr: "piped",
    }).output();
    if (!success) {
      const message = new TextDecoder().decode(stderr);
      console.error(message.trim());
      if (
        /dns error|failed to lookup|download|error sending request/i.test(
          message,
        )
      ) {
        console.error(
          `compile: deno compile could not download the runtime for ${target}. ` +
            "Set DENORT_BIN to a denort binary for this machine and build only " +
            "its target, e.g. deno task compile --target x86_64-unknown-linux-gnu",
        );
      }
      Deno.exit(1);
    }
    const digest = await crypto.subtle.digest(
      "SHA-256",
      await Deno.readFile(new URL(output, root)),
    );
    const hex = [...new Uint8Array(digest)].map((b) =>
      b.toString(16).padStart(2, "0")
    ).join("");
    sums.push(`${hex}  ${output.slice(`dist/${target}/`.length)}`);
    console.log(`compile: ${output}`);
  }
  const file = `dist/${target}/SHA256SUMS`;
  await Deno.writeTextFile(new URL(file, root), sums.join("\n") + "\n");
  console.log(`compile: ${file}`);
}
