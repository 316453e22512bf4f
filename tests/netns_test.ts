/**
 * Two hosts on one machine: a server namespace and a client namespace joined
 * by a veth pair, with packets lost, duplicated and (where the kernel has
 * netem) delayed and reordered between them. Needs root and `ip`; skipped
 * with the reason elsewhere. The namespaces are deleted whatever happens.
 *
 * The veth pair carries one TCP segment per packet, as a wire does: with
 * segmentation offload a single "packet" would be a burst of up to 64 KB,
 * and the whole 100 KB stream would be some twenty of them.
 *
 * How much is lost depends on the protocol. The UDP client sends again on a
 * fixed 0.2 s timer, so 30% loss each way only costs time. TCP backs off:
 * a retransmission gets through and is acknowledged with probability
 * (1 - loss)^2, and each failure doubles the wait (RTO 0.2 to 1 s, then 2,
 * 4, 8, ... s). At 30% each way half of those round trips fail, and a stall
 * of 60 s (the client's `--timeout`, the server's idle timeout) came in
 * about one run in six; at 10% one in five fails, a 60 s stall needs six or
 * more failures in a row (under 1e-4 per timeout), and TCP still
 * retransmits in every run, which the TCP test checks.
 */
import assert from "node:assert/strict";
import { canRun, ROOT, startServer, text, withTimeout } from "./_helpers.ts";

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
  // The link is impaired with netem where the kernel has it, else nftables.
  const netem = await sh(
    `ip netns add ${probe} && ip netns exec ${probe} tc qdisc add dev lo ` +
      `root netem loss 1%; status=$?; ip netns del ${probe}; exit $status`,
  );
  if (!netem && !(await sh("command -v nft"))) {
    return "needs nft (nftables), or tc with a kernel that has netem, to " +
      "lose packets between the two hosts";
  }
  return undefined;
}

const reason = await unavailable();

/** Per cent of packets lost each way in the UDP test: its client resends. */
const UDP_LOSS_PERCENT = 30;
/** Per cent of packets lost each way in the TCP test (see the top). */
const TCP_LOSS_PERCENT = 10;
/** Per cent of packets sent twice each way, in both tests. */
const DUPLICATE_PERCENT = 5;

/** The two hosts, as a test sees them. */
interface TwoHosts {
  /** The impairment applied, in words. */
  impairment: string;
  /** Segments TCP retransmitted so far, both hosts together. */
  tcpRetransmissions(): Promise<number>;
  /** Packets nftables dropped and duplicated so far; undefined under netem. */
  nftCounts(): Promise<{ lost: number; duplicated: number } | undefined>;
}

/** The command line that runs `args` in namespace `ns`. */
function execIn(ns: string, ...args: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...args];
}

/** `RetransSegs` of `/proc/net/snmp` in namespace `ns`. */
async function retransmittedSegments(ns: string): Promise<number> {
  const snmp = await run(execIn(ns, "cat", "/proc/net/snmp"));
  assert.equal(snmp.code, 0, snmp.stderr);
  const [names, values] = snmp.stdout.split("\n")
    .filter((line) => line.startsWith("Tcp:"))
    .map((line) => line.trim().split(/\s+/));
  const index = names?.indexOf("RetransSegs") ?? -1;
  assert.ok(index > 0 && values, `no RetransSegs in /proc/net/snmp`);
  return Number(values[index]);
}

/** The packet counts of the named nftables counters in namespace `ns`. */
async function nftCounters(ns: string): Promise<Map<string, number>> {
  const listed = await run(execIn(ns, "nft", "list", "counters"));
  assert.equal(listed.code, 0, listed.stderr);
  const counts = new Map<string, number>();
  for (
    const [, name, packets] of listed.stdout.matchAll(
      /counter (\w+) \{\s*packets (\d+)/g,
    )
  ) {
    counts.set(name, Number(packets));
  }
  return counts;
}

/**
 * Sets up the two hosts, losing `lossPercent` of the packets each way, runs
 * `fn` with them, tears down.
 */
async function withTwoHosts(
  lossPercent: number,
  fn: (hosts: TwoHosts) => Promise<void>,
) {
  const teardown =
    `ip netns del ${serverNs} 2>/dev/null; ip netns del ${clientNs} 2>/dev/null; true`;
  await sh(teardown);
  const oneSegment = "gso_max_segs 1 gso_max_size 1500";
  try {
    assert.ok(
      await sh(
        [
          `ip netns add ${serverNs}`,
          `ip netns add ${clientNs}`,
          // One segment per packet (no GSO/TSO bursts), set as the pair is
          // created.
          `ip link add ${tag}a ${oneSegment} netns ${serverNs} type veth ` +
          `peer name ${tag}b ${oneSegment} netns ${clientNs}`,
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
    let underNetem = false;
    const netem = `loss ${lossPercent}% delay 20ms 10ms reorder 25% 50% ` +
      `duplicate ${DUPLICATE_PERCENT}%`;
    if (
      await sh(
        `ip netns exec ${serverNs} tc qdisc add dev ${tag}a root netem ${netem} && ` +
          `ip netns exec ${clientNs} tc qdisc add dev ${tag}b root netem ${netem}`,
      )
    ) {
      impairment = `netem ${netem}, each way`;
      underNetem = true;
    } else {
      // No netem in this kernel: nftables loses and duplicates packets, but
      // cannot delay or reorder them.
      const rules = (peer: string, dev: string) => `
        table ip impair {
          counter lost {}
          counter duplicated {}
          chain in { type filter hook input priority 0; ip saddr ${peer} numgen random mod 100 < ${lossPercent} counter name "lost" drop; }
          chain out { type filter hook output priority 0; ip daddr ${peer} numgen random mod 100 < ${DUPLICATE_PERCENT} counter name "duplicated" dup to ${peer} device ${dev}; }
        }`;
      const applied = await run(
        execIn(serverNs, "nft", "-f", "-"),
        rules(clientIp, `${tag}a`),
      );
      const applied2 = await run(
        execIn(clientNs, "nft", "-f", "-"),
        rules(serverIp, `${tag}b`),
      );
      assert.equal(
        applied.code + applied2.code,
        0,
        applied.stderr + applied2.stderr,
      );
      impairment = `nftables: ${lossPercent}% of packets lost and ` +
        `${DUPLICATE_PERCENT}% duplicated, each way ` +
        "(this kernel has no netem, so no delay or reordering)";
    }
    console.log(`two hosts ${serverIp} and ${clientIp}: ${impairment}`);
    await fn({
      impairment,
      async tcpRetransmissions() {
        return await retransmittedSegments(serverNs) +
          await retransmittedSegments(clientNs);
      },
      async nftCounts() {
        if (underNetem) return undefined;
        const counts = [
          await nftCounters(serverNs),
          await nftCounters(clientNs),
        ];
        const total = (name: string) =>
          counts.reduce((sum, c) => sum + (c.get(name) ?? 0), 0);
        return { lost: total("lost"), duplicated: total("duplicated") };
      },
    });
  } finally {
    await sh(teardown);
  }
}

function inNs(ns: string, args: string[]): string[] {
  return execIn(ns, Deno.execPath(), ...args);
}

Deno.test({
  name:
    "netns: udp_client CLI prints every reply of udp_server CLI, in order, once, across two hosts on a lossy link",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    await withTwoHosts(UDP_LOSS_PERCENT, async () => {
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
  name:
    "netns: tcp_client CLI gets every byte from tcp_server CLI, in order, across two hosts on a lossy link",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    await withTwoHosts(TCP_LOSS_PERCENT, async (hosts) => {
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
      const retransmitted = await hosts.tcpRetransmissions();
      const counts = await hosts.nftCounts();
      console.log(
        `tcp: ${retransmitted} segments retransmitted` +
          (counts === undefined ? "" : `; nftables lost ${counts.lost} ` +
            `packets and duplicated ${counts.duplicated}`),
      );
      assert.equal(stream.stderr, "");
      assert.equal(stream.code, 0);
      assert.ok(
        stream.stdout === input.toUpperCase(),
        "the streamed text differs",
      );
      assert.equal(oneByOne.code, 0, oneByOne.stderr);
      assert.equal(oneByOne.stdout, "ONE\nTWO\nTHREE\n");
      // The text came through the impairment, not around it.
      assert.ok(
        retransmitted > 0,
        "TCP retransmitted nothing: was anything lost?",
      );
      if (counts !== undefined) {
        assert.ok(counts.duplicated > 0, "nftables duplicated no packet");
      }
    });
  },
});

/** Why a namespace of its own cannot be made here, or `undefined`. */
async function noNamespace(): Promise<string | undefined> {
  if (Deno.build.os !== "linux") return "network namespaces need Linux";
  const probe = `${tag}q`;
  if (!(await sh(`ip netns add ${probe} && ip netns del ${probe}`))) {
    return "needs root, ip (iproute2) and network namespaces";
  }
  if (!(await sh("command -v python3"))) return "forging needs python3";
  return undefined;
}
const namespaceReason = await noNamespace();

Deno.test({
  name:
    "netns: udp_server CLI bound to every address does not answer a datagram forged from another of its addresses",
  ignore: !canRun(namespaceReason === undefined, namespaceReason ?? ""),
  async fn() {
    const ns = `${tag}f`;
    const address = `10.78.${Deno.pid % 250}.1`;
    const teardown = `ip netns del ${ns} 2>/dev/null; true`;
    assert.ok(
      await sh(
        `${teardown}; ip netns add ${ns} && ` +
          `ip -n ${ns} link set lo up && ` +
          `ip -n ${ns} link add d0 type veth peer name d1 && ` +
          `ip -n ${ns} link set d1 up && ` +
          `ip -n ${ns} addr add ${address}/24 dev d0 && ` +
          `ip -n ${ns} link set d0 up`,
      ),
      "a namespace with a second address",
    );
    try {
      const server = await startServer(inNs(ns, [
        ...["run", "--allow-net", "--unstable-net", "udp_server.ts"],
        ...["--host", "0.0.0.0", "-p", "0"],
      ]));
      let stderr;
      try {
        const spoof = await run(execIn(
          ns,
          ...["python3", "tests/peers/spoof_udp.py", String(server.port)],
          address,
        ));
        assert.equal(spoof.stdout, "sent\n", spoof.stderr);
        // Answered beside it: the server is not busy answering itself.
        const probe = await run(inNs(ns, [
          ...["run", "--allow-net", "--unstable-net", "udp_client.ts"],
          ...["--host", address, "-p", String(server.port), "probe"],
        ]));
        assert.equal(probe.stdout, "PROBE\n", probe.stderr);
      } finally {
        ({ stderr } = await server.stop());
      }
      assert.match(stderr, /this server's own address, not answered/);
      // One forged datagram and one probe: not thousands of self-replies.
      assert.match(stderr, /received 2 datagrams, replied 1/);
    } finally {
      await sh(teardown);
    }
  },
});

Deno.test({
  name:
    "netns: udp_client CLI takes a remote server's reply only from the server, not from an address of its own machine",
  ignore: !canRun(reason === undefined, reason ?? ""),
  async fn() {
    await withTwoHosts(0, async () => {
      const server = new Deno.Command("ip", {
        args: [
          ...["netns", "exec", serverNs, "python3"],
          ...["tests/peers/slow_udp_reply.py", serverIp, "0.5"],
        ],
        cwd: ROOT,
        stdout: "piped",
        stderr: "null",
      }).spawn();
      const lines = server.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let said = "";
      const line = async (what: string) => {
        while (!said.includes("\n")) {
          const { value, done } = await withTimeout(lines.read(), what);
          if (done) throw new Error(`no ${what}`);
          said += value;
        }
        const first = said.slice(0, said.indexOf("\n"));
        said = said.slice(first.length + 1);
        return first;
      };
      try {
        const port = Number((await line("the ready line")).split(":").at(-1));
        const client = new Deno.Command("ip", {
          args: [
            ...["netns", "exec", clientNs, Deno.execPath(), "run"],
            ...["--allow-net", "--unstable-net", "udp_client.ts"],
            ...["--host", serverIp, "-p", String(port), "--timeout", "5"],
            ...["--retries", "0", "hi"],
          ],
          cwd: ROOT,
          stdout: "piped",
          stderr: "piped",
        }).spawn();
        // While the real reply waits, forge one from the server's port at
        // two addresses of the client's own machine.
        const from = (await line("the client's datagram")).slice(5);
        const [clientHost, clientPort] = from.split(":");
        for (const source of ["127.0.0.1", clientIp]) {
          const forged = await run(execIn(
            clientNs,
            "python3",
            "-c",
            "import socket,sys; s=socket.socket(socket.AF_INET, " +
              "socket.SOCK_DGRAM); s.bind((sys.argv[1], int(sys.argv[2]))); " +
              "s.sendto(b'FORGED', (sys.argv[3], int(sys.argv[4])))",
            source,
            String(port),
            clientHost,
            clientPort,
          ));
          assert.equal(forged.code, 0, forged.stderr);
        }
        const out = await withTimeout(client.output(), "the client");
        assert.equal(text(out.stdout), "HI\n", text(out.stderr));
        assert.equal(out.code, 0);
      } finally {
        server.kill("SIGKILL");
        await server.status;
        await lines.cancel().catch(() => {});
      }
    });
  },
});
