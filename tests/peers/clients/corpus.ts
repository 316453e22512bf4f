/**
 * The clients a class brings to `grade.ts tcp-client` / `udp-client`, and
 * what the grader must say of each: the verdict of every check, in the
 * grader's order, and the score. tests/grade_clients_test.ts grades each;
 * README.md in this folder shows the same table.
 *
 * @module
 */

/** The tcp-client checks, in the grader's order. */
export const TCP_CLIENT_CHECKS = [
  "sentence",
  "Unicode",
  "long reply",
  "reply in two pieces",
  "several sentences",
  "end of input",
];

/** The udp-client checks, in the grader's order. */
export const UDP_CLIENT_CHECKS = [
  "sentence",
  "Unicode",
  "long reply",
  "lost reply",
  "stranger's datagram",
  "several sentences",
  "end of input",
];

/** One client of the corpus and its grades. */
export interface GradedClient {
  /** Its file, as the README table names it. */
  name: string;
  kind: "tcp-client" | "udp-client";
  /** The program it needs: a test without it is skipped, saying so. */
  needs: "deno" | "python3" | "gcc" | "java" | "node";
  /**
   * Its command, run in the project's folder: {port} as grade.ts reads
   * it; {deno} is this Deno, {build} the folder the test compiles into,
   * {clients} is tests/peers/clients.
   */
  command: string[];
  /** Source files in tests/peers/clients the test compiles first. */
  build?: string[];
  /** --timeout: 1 s for clients that never retry, to grade them faster. */
  timeout: number;
  /** One letter a check, in the checks' order: P, W, F or S. */
  verdicts: string;
  score: number;
}

const TEXTBOOK = "tests/peers/textbook";
const RUN_TEXTBOOK = ["python3", "{clients}/run_textbook_client.py"];
const DENO_UDP = ["{deno}", "run", "--allow-net", "--unstable-net"];
const DENO_TCP = ["{deno}", "run", "--allow-net"];

/** Every client of the corpus. */
export const CLIENTS: GradedClient[] = [
  // The textbook's and its companion's, and ours.
  {
    name: "textbook/UDPClient.py",
    kind: "udp-client",
    needs: "python3",
    command: [...RUN_TEXTBOOK, `${TEXTBOOK}/UDPClient.py`, "{port}"],
    timeout: 1,
    verdicts: "PPWWWWP",
    score: 5,
  },
  {
    name: "textbook/TCPClient.py",
    kind: "tcp-client",
    needs: "python3",
    command: [...RUN_TEXTBOOK, `${TEXTBOOK}/TCPClient.py`, "{port}"],
    timeout: 1,
    verdicts: "PPWWWP",
    score: 4.5,
  },
  {
    name: "UDPClient.java (companion)",
    kind: "udp-client",
    needs: "java",
    build: ["UDPClient.java"],
    command: ["java", "-cp", "{build}", "UDPClient", "{port}"],
    timeout: 2,
    verdicts: "WWWWWWP",
    score: 4,
  },
  {
    name: "TCPClient.java (companion)",
    kind: "tcp-client",
    needs: "java",
    build: ["TCPClient.java"],
    command: ["java", "-cp", "{build}", "TCPClient", "{port}"],
    timeout: 2,
    verdicts: "PWPPWP",
    score: 5,
  },
  {
    name: "textbook edition UDPClient.ts",
    kind: "udp-client",
    needs: "deno",
    command: [...DENO_UDP, "textbook/UDPClient.ts", "localhost", "{port}"],
    timeout: 1,
    verdicts: "PPWWWWP",
    score: 5,
  },
  {
    name: "textbook edition TCPClient.ts",
    kind: "tcp-client",
    needs: "deno",
    command: [...DENO_TCP, "textbook/TCPClient.ts", "localhost", "{port}"],
    timeout: 1,
    verdicts: "PPWWWP",
    score: 4.5,
  },
  {
    name: "udp_client.ts (ours)",
    kind: "udp-client",
    needs: "deno",
    command: [...DENO_UDP, "udp_client.ts", "--port", "{port}"],
    timeout: 2,
    verdicts: "PPPPPPP",
    score: 7,
  },
  {
    name: "tcp_client.ts (ours)",
    kind: "tcp-client",
    needs: "deno",
    command: [...DENO_TCP, "tcp_client.ts", "--port", "{port}"],
    timeout: 2,
    verdicts: "PPPPPP",
    score: 6,
  },
  {
    name: "udp_client.ts --host ::1 (ours)",
    kind: "udp-client",
    needs: "deno",
    command: [
      ...DENO_UDP,
      "udp_client.ts",
      "--host",
      "::1",
      "--port",
      "{port}",
    ],
    timeout: 2,
    verdicts: "PPPPPPP",
    score: 7,
  },
  {
    name: "tcp_client.ts --host ::1 (ours)",
    kind: "tcp-client",
    needs: "deno",
    command: [
      ...DENO_TCP,
      "tcp_client.ts",
      "--host",
      "::1",
      "--port",
      "{port}",
    ],
    timeout: 2,
    verdicts: "PPPPPP",
    score: 6,
  },
  // A class's: Python.
  python("udp_prints_sent.py", "udp-client", 1, "FFFWFFP", 1.5),
  python("udp_no_timeout.py", "udp-client", 1, "PPWWWPP", 5.5),
  python("udp_crash_eof.py", "udp-client", 2, "PPPPPPW", 6.5),
  python("udp_swapped_address.py", "udp-client", 1, "FFFFFFF", 0),
  python("udp_repr.py", "udp-client", 1, "FFWWWFP", 2.5),
  python("udp_ascii.py", "udp-client", 1, "PWWWWWP", 4.5),
  python("udp_correct.py", "udp-client", 2, "PPPPPPP", 7),
  python("udp_never_reads.py", "udp-client", 1, "PPPFPPP", 6),
  python("tcp_lowercase.py", "tcp-client", 1, "FFFFFP", 1),
  python("tcp_recv100.py", "tcp-client", 1, "PPFWWP", 4),
  python("tcp_reads_to_close.py", "tcp-client", 1, "FFFFFF", 0),
  python("tcp_never_closes.py", "tcp-client", 1, "PPPPWF", 4.5),
  python("tcp_correct.py", "tcp-client", 2, "PPPPPP", 6),
  // C, Node.js and Java.
  {
    name: "udp_sizeof.c",
    kind: "udp-client",
    needs: "gcc",
    build: ["udp_sizeof.c"],
    command: ["{build}/udp_sizeof", "{port}"],
    timeout: 1,
    verdicts: "FFFFFFP",
    score: 1,
  },
  {
    name: "udp_reply_not_cleared.c",
    kind: "udp-client",
    needs: "gcc",
    build: ["udp_reply_not_cleared.c"],
    command: ["{build}/udp_reply_not_cleared", "{port}"],
    timeout: 1,
    verdicts: "PPWWWFP",
    score: 4.5,
  },
  {
    name: "tcp_lines.c",
    kind: "tcp-client",
    needs: "gcc",
    build: ["tcp_lines.c"],
    command: ["{build}/tcp_lines", "{port}"],
    timeout: 2,
    verdicts: "PPPPPP",
    score: 6,
  },
  {
    name: "udp_client.mjs",
    kind: "udp-client",
    needs: "node",
    command: ["node", "{clients}/udp_client.mjs", "{port}"],
    timeout: 2,
    verdicts: "PPPPPPP",
    score: 7,
  },
  {
    name: "tcp_client.mjs",
    kind: "tcp-client",
    needs: "node",
    command: ["node", "{clients}/tcp_client.mjs", "{port}"],
    timeout: 2,
    verdicts: "PPPPPP",
    score: 6,
  },
  {
    name: "TcpLines.java",
    kind: "tcp-client",
    needs: "java",
    build: ["TcpLines.java"],
    command: ["java", "-cp", "{build}", "TcpLines", "{port}"],
    timeout: 2,
    verdicts: "PPPPPP",
    score: 6,
  },
];

/** A Python client of tests/peers/clients, run with the port. */
function python(
  name: string,
  kind: GradedClient["kind"],
  timeout: number,
  verdicts: string,
  score: number,
): GradedClient {
  return {
    name,
    kind,
    needs: "python3",
    command: ["python3", `{clients}/${name}`, "{port}"],
    timeout,
    verdicts,
    score,
  };
}
