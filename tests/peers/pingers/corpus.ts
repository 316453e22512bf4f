/**
 * The UDP Pinger and Heartbeat clients a class brings to `grade.ts pinger`
 * and `grade.ts heartbeat`, and what the grader must say of each: the
 * verdict of every check and the score. tests/grade_pinger_test.ts grades
 * each; README.md beside this file shows the same table.
 *
 * @module
 */

/** The pinger checks' names, in the grader's order. */
export const PINGER_CHECKS = [
  "10 pings",
  "Ping SEQ TIME",
  "one ping at a time",
  "1 s timeout",
  "replies printed",
  "RTTs printed",
  "Request timed out",
  "late reply",
  "min/avg/max RTT",
  "loss rate",
  "ends by itself",
];

/** The heartbeat checks' names, in the grader's order. */
export const HEARTBEAT_CHECKS = [
  "heartbeats",
  "Heartbeat SEQ TIME",
  "SEQ by one",
  "send time",
  "steady interval",
];

/** One client of the corpus and its grades. */
export interface GradedClient {
  /** How README names it: its file. */
  name: string;
  kind: "pinger" | "heartbeat";
  /** The tool it needs; "javac" and "gcc" ones are compiled into `{dir}`. */
  needs: "deno" | "ipv6" | "python3" | "javac" | "gcc" | "node";
  /** Its command line: `{port}` as grade.ts gives it, `{dir}` the build's. */
  command: string[];
  /** Each check's verdict, in the checks' order: P, W, F or S(KIP). */
  verdicts: string;
  score: number;
  /** What the reason of a check must say, by the check's name. */
  reasons?: Record<string, RegExp>;
}

/** This folder, where the clients are. */
export const HERE = decodeURIComponent(new URL(".", import.meta.url).pathname);

const ROOT = decodeURIComponent(new URL("../../../", import.meta.url).pathname);

/** A Python client of this folder: `python3 FILE PORT`. */
const python = (
  name: string,
  kind: GradedClient["kind"],
  verdicts: string,
  score: number,
  reasons?: Record<string, RegExp>,
): GradedClient => ({
  name,
  kind,
  needs: "python3",
  command: ["python3", `${HERE}${name}`, "{port}"],
  verdicts,
  score,
  reasons,
});

export const CLIENTS: GradedClient[] = [
  {
    name: "udp_client.ts --ping 10 (ours)",
    kind: "pinger",
    needs: "deno",
    command: [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--unstable-net",
      `${ROOT}udp_client.ts`,
      "--ping",
      "10",
      "--port",
      "{port}",
    ],
    verdicts: "PPPPPPPPPPP",
    score: 11,
  },
  {
    name: "udp_client.ts --ping 10 --host ::1 (ours, IPv6)",
    kind: "pinger",
    needs: "ipv6",
    command: [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--unstable-net",
      `${ROOT}udp_client.ts`,
      "--ping",
      "10",
      "--host",
      "::1",
      "--port",
      "{port}",
    ],
    verdicts: "PPPPPPPPPPP",
    score: 11,
  },
  python("pinger_ok.py", "pinger", "PPPPPPPPPPP", 11),
  {
    name: "PingerClient.java",
    kind: "pinger",
    needs: "javac",
    command: ["java", "-cp", "{dir}", "PingerClient", "{port}"],
    verdicts: "PPPPPPPPPPP",
    score: 11,
  },
  {
    name: "pinger_ok.c",
    kind: "pinger",
    needs: "gcc",
    command: ["{dir}/pinger_ok", "{port}"],
    verdicts: "PPPPPPPPPPP",
    score: 11,
  },
  {
    name: "pinger_ok.mjs",
    kind: "pinger",
    needs: "node",
    command: ["node", `${HERE}pinger_ok.mjs`, "{port}"],
    verdicts: "PPPPPPPPPPP",
    score: 11,
  },
  python("pinger_no_timeout.py", "pinger", "FPPFPPFSWWF", 5, {
    "10 pings":
      /^3 pings came, then nothing for \d+\.\d\d s until the client was ended/,
    "1 s timeout": /^ping 3 had no reply, and no ping came in the/,
  }),
  python("pinger_all_at_once.py", "pinger", "PPFFPPFPFFP", 6, {
    // Ten sends in a row: 0 s apart, or 0.01 s on a loaded machine.
    "one ping at a time":
      /^ping 2 came 0(\.01)? s after ping 1, before its reply/,
  }),
  python("pinger_seq_from_0.py", "pinger", "PFPPPPPPPPP", 10, {
    "Ping SEQ TIME": /^SEQ went 0, 1, 2, 3, 4, 5, 6, 7, 8, 9; due 1, 2, 3/,
  }),
  python("pinger_no_timeout_line.py", "pinger", "PPPPPPFPPPP", 10, {
    "Request timed out":
      /^ping 3 had no reply; .*nothing it printed tells of ping 3/,
  }),
  python("pinger_late_taken.py", "pinger", "PPPPPPFFPFP", 8, {
    "late reply": /; for ping 7 it printed "PING 5 /,
    "loss rate": /says 20%; 3 of 10 pings had no reply within 1 s: due 30%/,
  }),
  python("pinger_loss_wrong.py", "pinger", "PPPPPPPPPFP", 10, {
    "loss rate": /"Packet loss rate: 70\.0%" says 70%/,
  }),
  python("pinger_avg_wrong.py", "pinger", "PPPPPPPPFPP", 10, {
    "min/avg/max RTT":
      /^avg printed as "Average RTT: .* from the RTTs it printed$/,
  }),
  python("pinger_rtt_ms_label.py", "pinger", "PPPPPFPPFPP", 9, {
    "RTTs printed": /the RTT printed, "RTT: 0\.\d+ ms", is 0\.\d ms$/,
  }),
  python("pinger_made_up_rtt.py", "pinger", "PPPPPFPPFPP", 9, {
    "RTTs printed": /the RTT printed, "RTT: 0\.250000 seconds", is 250\.0 ms$/,
  }),
  python("pinger_prints_sent.py", "pinger", "PPPPFPPPPPP", 10, {
    "replies printed": /, and what it sent: "Ping 1 /,
  }),
  python("pinger_never_ends.py", "pinger", "PPPPPPPPPPF", 10, {
    "ends by itself": /^it was still running .* after its 10th ping/,
  }),
  {
    name: "udp_client.ts --heartbeat (ours)",
    kind: "heartbeat",
    needs: "deno",
    command: [
      Deno.execPath(),
      "run",
      "--allow-net",
      "--unstable-net",
      `${ROOT}udp_client.ts`,
      "--port",
      "{port}",
      "--heartbeat",
    ],
    verdicts: "PPPPP",
    score: 5,
  },
  python("heartbeat_ok.py", "heartbeat", "PPPPP", 5),
  python("heartbeat_skips.py", "heartbeat", "PPFPP", 4, {
    "SEQ by one": /^SEQ went 1, 2, 3, 5, .* \(5 after 3\)$/,
  }),
  python("heartbeat_bad_time.py", "heartbeat", "PPPWP", 4.5, {
    "send time": /^TIME "\d\d:\d\d:\d\d" in heartbeat 1 .* not a time/,
  }),
];
