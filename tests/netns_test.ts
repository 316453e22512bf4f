/**
 * Two hosts on one machine: a server namespace and a client namespace joined
 * by a veth pair, with packets lost, duplicated and (where the kernel has
 * netem) delayed and reordered between them. Needs root and `ip`; skipped
 * with the reason elsewhere. The namespaces are deleted whatever happens.
 */
import assert from "node:assert/strict";
import { canRun, ROOT, startServer, text } from "./_helpers.ts";

const tag = `kr${Deno.pid % 100000}`;
const subnet = `10.77.${Deno.pid % 250}`;
const serverNs = `${tag}s`;
const clientNs = `${tag}c`;
const serverIp = `${subnet}.1`;
const clientIp = `${subnet}.2`;

async function run(args: string[], stdin?: string) {
  const child = new Deno.Command(args[0], {
    args: args.slice(1),
    cwd: ROOT,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(120_000),
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  return { code: out.code, stdout: text(out.stdout), stderr: text(out.stderr) };
}

async function sh(script: string): Promise<boolean> {
  return (await run(["sh", "-c", script])).code === 0;
}

/** Why the two-host tests cannot run here, or `undefined` if they can. */
async function unavailable(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  if (
    (await run(["id", "-u"]).catch(() => ({ stdout: "" }))).stdout.trim() !==
      "0"
  ) {
    return "network namespaces need root";
  }
  if (!(await sh("command -v ip"))) return "needs ip (iproute2)";
  const probe = `${tag}p`;
  if (!(await sh(`ip netns add ${probe} && ip netns del ${probe}`))) {
    return "this machine does not allow network namespaces";
  }
  return undefined;
}

const reason = await unavailable();

/**
 * Sets up the two hosts and their impairment, runs `fn`, tears down.
 * Returns a description of the impairment applied.
 */
async function withTwoHosts(fn: (impairment: string) => Promise<void>) {
  const teardown =
    `ip netns del ${serverNs} 2>/dev/null; ip netns del ${clientNs} 2>/dev/null; true`;
  await sh(teardown);
  try {
    assert.ok(
      await sh(
        [
          `ip netns add ${serverNs}`,
          `ip netns add ${clientNs}`,
          `ip link add ${tag}a netns ${serverNs} type veth peer name ${tag}b netns ${clientNs}`,
          `ip -n ${serverNs} addr add ${serverIp}/24 dev ${tag}a`,
          `ip -n ${clientNs} addr add ${clientIp}/24 dev ${tag}b`,
          `ip -n ${serverNs} link set ${tag}a up`,
          `ip -n ${clientNs} link set ${tag}b up`,
          `ip -n ${serverNs} link set lo up`,
          `ip -n ${clientNs} link set lo up`,
        ].join(" && "),
      ),
      "could not create the two hosts",
    );
    let impairment: string;
    const netem = "loss 30% delay 20ms 10ms reorder 25% 50% duplicate 5%";
    if (
      await sh(
        `ip netns exec ${serverNs} tc qdisc add dev ${tag}a root netem ${netem} && ` +
          `ip netns exec ${clientNs} tc qdisc add dev ${tag}b root netem ${netem}`,
      )
    ) {
      impairment = `netem ${netem}, each way`;
    } else {
      // No netem in this kernel: nftables loses and duplicates packets, but
      // cannot delay or reorder them.
      const rules = (peer: string, dev: string) => `
        table ip impair {
          chain in { type filter hook input priority 0; ip saddr ${peer} numgen random mod 100 < 30 drop; }
          chain out { type filter hook output priority 0; ip daddr ${peer} numgen random mod 100 < 5 dup to ${peer} device ${dev}; }
        }`;
      const applied = await run(
        ["ip", "netns", "exec", serverNs, "nft", "-f", "-"],
        rules(clientIp, `${tag}a`),
      );
      const applied2 = await run(
        ["ip", "netns", "exec", clientNs, "nft", "-f", "-"],
        rules(serverIp, `${tag}b`),
      );
      assert.equal(
        applied.code + applied2.code,
        0,
        applied.stderr + applied2.stderr,
      );
      impairment =
        "nftables: 30% of packets lost and 5% duplicated, each way " +
        "(this kernel has no netem, so no delay or reordering)";
    }
    console.log(`two hosts ${serverIp} and ${clientIp}: ${impairment}`);
    await fn(impairment);
  } finally {
    await sh(teardown);
  }
}

function inNs(ns: string, args: string[]): string[] {
  return ["ip", "netns", "exec", ns, Deno.execPath(), ...args];
}

Deno.test({
  name:
    "two hosts, lossy link: the UDP client prints every reply, in order, once",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    await withTwoHosts(async () => {
      const server = await startServer(inNs(serverNs, [
        ...["run", "--allow-net", "--unstable-net", "udp_server.ts"],
        ...["--host", serverIp, "-p", "0"],
      ]));
      const lines = Array.from({ length: 50 }, (_, i) => `line ${i} straße`);
      let out;
      try {
        out = await run(
          inNs(clientNs, [
            ...["run", "--allow-net", "--unstable-net", "udp_client.ts"],
            ...[
              "--host",
              serverIp,
              "-p",
              String(server.port),
              "--timeout",
              "0.2",
              "--retries",
              "40",
            ],
          ]),
          lines.join("\n") + "\n",
        );
      } finally {
        const { stderr } = await server.stop();
        console.log(`udp: ${lines.length} sentences; server: ${stderr.trim()}`);
      }
      assert.equal(out.stderr, "");
      assert.equal(out.code, 0);
      assert.equal(
        out.stdout,
        lines.map((l) => l.toUpperCase() + "\n").join(""),
      );
    });
  },
});

Deno.test({
  name: "two hosts, lossy link: every TCP byte arrives, in order",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    await withTwoHosts(async () => {
      const server = await startServer(inNs(serverNs, [
        ...[
          "run",
          "--allow-net",
          "tcp_server.ts",
          "--host",
          serverIp,
          "-p",
          "0",
        ],
      ]));
      const line = "every byte must arrive: straße é ŉ 😀\n";
      const input = line.repeat(2_500); // about 100 KB
      const sentences = ["one", "two", "three"];
      let stream;
      let oneByOne;
      try {
        const started = performance.now();
        stream = await run(
          inNs(clientNs, [
            ...["run", "--allow-net", "tcp_client.ts", "--host", serverIp],
            ...["-p", String(server.port), "--stream", "--timeout", "60"],
          ]),
          input,
        );
        console.log(
          `tcp: ${input.length} characters streamed in ` +
            `${((performance.now() - started) / 1000).toFixed(1)} s`,
        );
        oneByOne = await run(
          inNs(clientNs, [
            ...["run", "--allow-net", "tcp_client.ts", "--host", serverIp],
            ...["-p", String(server.port), "--timeout", "60"],
          ]),
          sentences.join("\n") + "\n",
        );
      } finally {
        const { stderr } = await server.stop();
        console.log(`tcp server: ${stderr.trim()}`);
      }
      assert.equal(stream.stderr, "");
      assert.equal(stream.code, 0);
      assert.ok(
        stream.stdout === input.toUpperCase(),
        "the streamed text differs",
      );
      assert.equal(oneByOne.code, 0, oneByOne.stderr);
      assert.equal(oneByOne.stdout, "ONE\nTWO\nTHREE\n");
    });
  },
});
