/**
 * `deno task demo`: the textbook exchanges, run for real. Starts the UDP
 * server, then the TCP server, each on a free port, sends a sentence with
 * the matching client, prints what each side printed, and stops the server.
 *
 * @module
 */
const root = new URL("../", import.meta.url);
/** Each script's permissions: UDP sockets are still behind --unstable-net. */
function runFlags(name: string): string[] {
  return name === "udp"
    ? ["run", "--allow-net", "--unstable-net"]
    : ["run", "--allow-net"];
}

/** Prints each line of a stream with a prefix. */
async function show(prefix: string, stream: ReadableStream<Uint8Array>) {
  let pending = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      console.log(`${prefix} ${pending.slice(0, newline)}`);
      pending = pending.slice(newline + 1);
    }
  }
  if (pending) console.log(`${prefix} ${pending}`);
}

async function demo(name: string, sentence: string): Promise<boolean> {
  const server = new Deno.Command(Deno.execPath(), {
    args: [
      ...runFlags(name),
      `${name}_server.ts`,
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--verbose",
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const serverLog = show(`[${name} server]`, server.stderr);
  const reader = server.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let ready = "";
  const deadline = setTimeout(() => server.kill("SIGKILL"), 10_000);
  while (!ready.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    ready += value;
  }
  clearTimeout(deadline);
  const port = ready.match(/:(\d+)\n/)?.[1];
  if (!port) {
    console.error(`${name}_server.ts did not start: ${ready}`);
    await server.status;
    await serverLog;
    return false;
  }
  console.log(`[${name} server] ${ready.trim()}`);

  console.log(
    `[${name} client] $ ${name}_client.ts -v --port ${port} ${sentence}`,
  );
  // Both sides streamed as they print, so the steps show in the order they
  // happen: the client's sendto, the server's recvfrom, and so on.
  const client = new Deno.Command(Deno.execPath(), {
    args: [
      ...runFlags(name),
      `${name}_client.ts`,
      "-v",
      "--host",
      "127.0.0.1",
      "--port",
      port,
      sentence,
    ],
    cwd: root,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(10_000),
  }).spawn();
  const [clientStatus] = await Promise.all([
    client.status,
    show(`[${name} client]`, client.stderr),
    show(`[${name} client]`, client.stdout),
  ]);
  server.kill("SIGTERM");
  const status = await server.status;
  await reader.cancel();
  await serverLog;
  console.log(`[${name} server] exited with status ${status.code}`);
  return clientStatus.success && status.success;
}

let ok = true;
for (const name of ["udp", "tcp"]) {
  ok = await demo(name, "hello world") && ok;
}
Deno.exit(ok ? 0 : 1);
