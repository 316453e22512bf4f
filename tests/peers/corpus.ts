/**
 * The servers a class brings to grade.ts, and what the grader must say of
 * each: the verdict of every check and the score. tests/check_corpus_test.ts
 * grades each; tests/readme_test.ts holds README's table to this list.
 *
 * @module
 */

/** The TCP checks' names, in the grader's order; README's column heads. */
export const TCP_CHECKS: [string, string][] = [
  ["a sentence", "sentence"],
  ["a sentence without a newline (as TCPClient.py sends it)", "no newline"],
  ["Unicode", "Unicode"],
  ["a sentence longer than recv(1024)", "3,001 bytes"],
  ["how a reply ends", "reply ends"],
  ["a second client while the first sits idle", "2nd client"],
  ["half-close", "half-close"],
  ["bytes that are not UTF-8 (last: they can stop a server)", "not UTF-8"],
];

/** The UDP checks' names, in the grader's order; README's column heads. */
export const UDP_CHECKS: [string, string][] = [
  ["a sentence", "sentence"],
  ["Unicode", "Unicode"],
  ["an empty datagram", "empty"],
  ["a datagram longer than recvfrom(2048)", "3,000 bytes"],
  ["replies from the server's own port", "own port"],
  ["two clients at once", "2 clients"],
  ["bytes that are not UTF-8 (last: they can stop a server)", "not UTF-8"],
];

/** One server of the corpus and its grades. */
export interface GradedServer {
  /** How README names it. */
  name: string;
  transport: "tcp" | "udp";
  /**
   * What starts it, from the project's folder: a command line, "ours" (this
   * project's server, in the test's process), "java" (TCPServer.java,
   * compiled by the test), or a source file the test compiles first (Java:
   * `javac` and its class; C: `gcc`).
   */
  start: string[] | "ours" | "java" | { javac: string; main: string } | {
    gcc: string;
  };
  /**
   * Graded through grade.ts's COMMAND mode instead: this command line, with
   * `{port}` in it, is started by the grader on a port of its own.
   */
  command?: string[];
  /** `--timeout` for the grader, in seconds. */
  timeout: number;
  /** Each check's verdict, in the checks' order: P, W, F or S(KIP). */
  verdicts: string;
  score: number;
  /** What the reason of a check must say, by the check's README name. */
  reasons?: Record<string, RegExp>;
}

const python = (file: string, ...args: string[]) => [
  "python3",
  `tests/peers/class/${file}`,
  ...args,
];
/** A program of textbook/, run as its header says, on a free loopback port. */
const edition = (file: string) => [
  Deno.execPath(),
  "run",
  "--allow-net",
  ...(file.startsWith("UDP") ? ["--unstable-net"] : []),
  `textbook/${file}`,
  "0",
  "127.0.0.1",
];
const textbook = (file: string) => [
  "python3",
  "tests/peers/run_textbook.py",
  `tests/peers/textbook/${file}`,
];

/** A Java server of tests/peers/class/, compiled by the test. */
const java = (file: string) => ({
  javac: `tests/peers/class/${file}.java`,
  main: file,
});

/** Every server of the corpus, TCP first. */
export const CORPUS: GradedServer[] = [
  {
    name: "`tcp_server.ts` (ours)",
    transport: "tcp",
    start: "ours",
    timeout: 1,
    verdicts: "PPPPPPPP",
    score: 8,
  },
  {
    name: "`TCPServer.py` (the textbook's)",
    transport: "tcp",
    start: textbook("TCPServer.py"),
    timeout: 1,
    verdicts: "PPPWPWPW",
    score: 6.5,
    reasons: {
      "3,001 bytes": /^only the first 1,024 of 3,001 bytes came back/,
      "2nd client": /^serves one client at a time: a second client waited/,
      "not UTF-8": /then the server stopped answering/,
    },
  },
  {
    name: "`textbook/TCPServer.ts` (this project's textbook edition)",
    transport: "tcp",
    start: edition("TCPServer.ts"),
    timeout: 1,
    verdicts: "PPPWPWPW",
    score: 6.5,
    reasons: {
      "3,001 bytes": /^only the first 1,024 of 3,001 bytes came back/,
      "2nd client": /^serves one client at a time: a second client waited/,
      "not UTF-8": /replaced with U\+FFFD/,
    },
  },
  {
    name: "`TCPServer.java` (as the Java companion's)",
    transport: "tcp",
    start: "java",
    timeout: 1,
    verdicts: "PWWPWWWW",
    score: 5,
    reasons: {
      "Unicode": /as Java's DataOutputStream\.writeBytes sends a string/,
      "reply ends": /the Java companion server's framing/,
      "2nd client": /^serves one client at a time/,
      "not UTF-8": /came back as "CAF\\xfd \\xfd OK": the bytes that are not/,
    },
  },
  {
    name: "echo, no upper-casing",
    transport: "tcp",
    start: python("tcp_echo.py"),
    timeout: 1,
    verdicts: "FFFFFFFW",
    score: 0.5,
    reasons: {
      "sentence": /came back "hello world\\n", not "HELLO WORLD": sent back/,
    },
  },
  {
    name: "`.upper()` on bytes (ASCII only)",
    transport: "tcp",
    start: python("tcp_bytes_upper.py"),
    timeout: 1,
    verdicts: "PPWWPWPP",
    score: 6.5,
    reasons: { "Unicode": /only a-z were upper-cased/ },
  },
  {
    name: "`.strip()`, then close",
    transport: "tcp",
    start: python("tcp_strip_close.py"),
    timeout: 1,
    verdicts: "PPPWPWPW",
    score: 6.5,
    reasons: { "reply ends": /no newline, .* the close ends it/ },
  },
  {
    name: "receive buffer never cleared",
    transport: "tcp",
    start: python("tcp_buffer_never_cleared.py"),
    timeout: 1,
    verdicts: "PPPFFPPW",
    score: 5.5,
    reasons: {
      "reply ends":
        /"two" came back "ONE\\nTWO\\n", not "TWO": the replies to every line/,
    },
  },
  {
    name: "4th request echoed",
    transport: "tcp",
    start: python("tcp_nth_echo.py", "4"),
    timeout: 1,
    verdicts: "PWPFPPPW",
    score: 6,
    reasons: {
      "3,001 bytes":
        /\(3,000 bytes\) and its line end, not .*: sent back unchanged/,
    },
  },
  {
    name: "5th request echoed",
    transport: "tcp",
    start: python("tcp_nth_echo.py", "5"),
    timeout: 1,
    verdicts: "PWPPFPPW",
    score: 6,
    reasons: { "reply ends": /"one" came back "one\\n", not "ONE"/ },
  },
  {
    name: "8th request echoed",
    transport: "tcp",
    start: python("tcp_nth_echo.py", "8"),
    timeout: 1,
    verdicts: "PWPPFPPW",
    score: 6,
    reasons: { "reply ends": /"four" came back "four\\n", not "FOUR"/ },
  },
  {
    name: "`WELCOME` before each reply",
    transport: "tcp",
    start: python("tcp_banner.py"),
    timeout: 1,
    verdicts: "FFFFFFFW",
    score: 0.5,
    reasons: { "reply ends": /"WELCOME\\n" came before the reply/ },
  },
  {
    name: "reply cut to 100 bytes",
    transport: "tcp",
    start: python("tcp_cut.py", "100"),
    timeout: 1,
    verdicts: "PWPFPPPW",
    score: 6,
    reasons: { "3,001 bytes": /^only the first 100 of 3,001 bytes came back/ },
  },
  {
    name: "never stops sending",
    transport: "tcp",
    start: python("tcp_never_stops.py"),
    timeout: 1,
    verdicts: "FFFFFFFW",
    score: 0.5,
    reasons: {
      "sentence": /the server never stops sending/,
      "reply ends": /it never stops sending/,
    },
  },
  {
    name: "one client at a time",
    transport: "tcp",
    start: python("tcp_one_at_a_time.py"),
    timeout: 1,
    verdicts: "PWPPPWPW",
    score: 6.5,
    reasons: { "2nd client": /^serves one client at a time/ },
  },
  {
    name: "drops a client silent for 1 s",
    transport: "tcp",
    start: python("tcp_drops_idle.py"),
    timeout: 2,
    verdicts: "PPPWPWPW",
    score: 6.5,
    reasons: {
      "2nd client":
        /^a second client was answered after 1\.\d s, but the first, connected and silent meanwhile, was closed by the server before it sent its line/,
    },
  },
  {
    name: "`.swapcase()` for `.upper()`",
    transport: "tcp",
    start: python("tcp_swapcase.py"),
    timeout: 1,
    verdicts: "PPFWPWPW",
    score: 5.5,
    reasons: {
      Unicode: /^"Straße, é, κόσμος" came back "sTRASSE, É, ΚΌΣΜΟΣ", not/,
    },
  },
  {
    name: "a read taken for a line",
    transport: "tcp",
    start: python("tcp_first_line_per_read.py"),
    timeout: 1,
    verdicts: "PPPPFPPW",
    score: 6.5,
    reasons: {
      "reply ends":
        /^after two lines in one write, "three\\nfour\\n", "four" got no reply/,
    },
  },
  {
    name: "threads share one connection socket",
    transport: "tcp",
    start: python("tcp_shared_socket.py"),
    timeout: 1,
    verdicts: "PPPWPFPW",
    score: 6,
    reasons: {
      "2nd client":
        /^a second client was answered after 0\.\d s, but the first, connected and silent meanwhile, then sent its line and got no reply/,
    },
  },
  {
    name: "threads share one request variable",
    transport: "tcp",
    start: python("tcp_shared_sentence.py"),
    timeout: 1,
    verdicts: "PPPWPFPW",
    score: 6,
    reasons: {
      "2nd client":
        /^clients are served at once, but of two that sent at the same moment, the (third|fourth) client: "(third|fourth) client" came back "(FOURTH|THIRD) CLIENT\\n"/,
    },
  },
  {
    name: "reads until the client closes",
    transport: "tcp",
    start: python("tcp_reads_to_close.py"),
    timeout: 1,
    verdicts: "FFFFFFPF",
    score: 1,
    reasons: {
      sentence: /^no reply within 1 s/,
      "half-close": /^answered, then closed once the client had half-closed/,
    },
  },
  {
    name: "broken by bytes that are not UTF-8",
    transport: "tcp",
    start: python("tcp_broken_by_bytes.py"),
    timeout: 1,
    verdicts: "PPPWPPPF",
    score: 6.5,
    reasons: {
      "not UTF-8":
        /^after the bytes that are not UTF-8, "still there" came back "ERROR: server broken\\n", not "STILL THERE"$/,
    },
  },
  {
    name: "slow: 0.5 s a reply",
    transport: "tcp",
    start: python("tcp_slow.py", "0.5"),
    timeout: 2,
    verdicts: "PWPPPPPW",
    score: 7,
  },
  {
    name: "slow: 1.5 s a reply (`--timeout 2`)",
    transport: "tcp",
    start: python("tcp_slow.py", "1.5"),
    timeout: 2,
    verdicts: "PWPPPPPW",
    score: 7,
  },
  {
    name: "never closes after a half-close",
    transport: "tcp",
    start: python("tcp_no_close.py"),
    timeout: 1,
    verdicts: "PWPPPPWW",
    score: 6.5,
    reasons: {
      "half-close": /instead of closing after the client half-closed/,
    },
  },
  {
    name: "a byte every 20 ms",
    transport: "tcp",
    start: python("tcp_trickle.py"),
    timeout: 1,
    verdicts: "PWPFPPPW",
    score: 6,
    reasons: { "3,001 bytes": /bytes were still coming, slowly/ },
  },
  {
    name: "every reply sent twice",
    transport: "tcp",
    start: python("tcp_twice.py"),
    command: python("tcp_twice.py", "{port}"),
    timeout: 1,
    verdicts: "FFFFFFFW",
    score: 0.5,
    reasons: {
      sentence:
        /^"hello world" came back "HELLO WORLD", then "HELLO WORLD\\n": only the reply may come/,
      "half-close": /^answered "HALF CLOSE", then "HALF CLOSE\\n"/,
    },
  },
  {
    name: "one receive buffer for every client, never cleared",
    transport: "tcp",
    start: python("tcp_shared_buffer.py"),
    timeout: 1,
    verdicts: "PFFFFFFW",
    score: 1.5,
    reasons: {
      Unicode:
        /came back "HELLO WORLD\\nNO NEWLINE\\nSTRASSE, .*: "HELLO WORLD\\nNO NEWLINE\\n" came before the reply$/,
    },
  },
  {
    name: "one 4,096-byte buffer for every client, stale bytes sent on",
    transport: "tcp",
    start: python("tcp_stale_buffer.py"),
    timeout: 1,
    verdicts: "PFPPFFFF",
    score: 3,
    reasons: {
      "no newline":
        /came back "NO NEWLINED\\n", not "NO NEWLINE": the reply, then "D\\n"$/,
      "half-close": /^answered "HALF CLOSE", then "NT\\nEFGH/,
    },
  },
  {
    name: "`recv(1024)`, then the reply and a newline",
    transport: "tcp",
    start: python("tcp_recv_newline.py"),
    timeout: 1,
    verdicts: "PPPWPWPW",
    score: 6.5,
    reasons: {
      "3,001 bytes":
        /^only the first 1,024 of 3,001 bytes came back, and a newline$/,
    },
  },
  {
    name: "reads the whole line, replies with its first 1,024 bytes",
    transport: "tcp",
    start: python("tcp_cut.py", "1024"),
    timeout: 1,
    verdicts: "PWPWPPPW",
    score: 6.5,
    reasons: {
      "3,001 bytes":
        /^only the first 1,024 of 3,001 bytes came back, then the server (closed|reset) the connection$/,
    },
  },
  {
    name: "stops calling `accept()` after 3 clients",
    transport: "tcp",
    start: python("tcp_stops_accepting.py", "3"),
    timeout: 1,
    verdicts: "PWPFFFFF",
    score: 2.5,
    reasons: {
      "2nd client":
        /^no connection to 127\.0\.0\.1:\d+ within 1 s: the connection was not accepted$/,
      "3,001 bytes": /^no reply within 1 s$/,
    },
  },
  {
    name: "right, but waits for a newline (`readline()`)",
    transport: "tcp",
    start: python("tcp_readline.py"),
    timeout: 1,
    verdicts: "PWPPPPPP",
    score: 7.5,
    reasons: {
      "no newline":
        /^"no newline", sent without a newline as TCPClient\.py sends it, got no reply within 1 s, and "NO NEWLINE" once a newline followed: the textbook's client would wait for ever$/,
    },
  },
  {
    name: "C: `fork()`, one `read()` of 1,024 bytes, `toupper()`",
    transport: "tcp",
    start: { gcc: "tests/peers/class/tcp_fork.c" },
    timeout: 1,
    verdicts: "PPWWPPPP",
    score: 7,
    reasons: {
      Unicode: /only a-z were upper-cased/,
      "3,001 bytes": /^only the first 1,024 of 3,001 bytes came back/,
    },
  },
  {
    name: "Node.js: a line reader per connection",
    transport: "tcp",
    start: ["node", "tests/peers/class/tcp_node.js"],
    timeout: 1,
    verdicts: "PWPPPPPW",
    score: 7,
    reasons: { "no newline": /the textbook's client would wait for ever$/ },
  },
  {
    name: "`udp_server.ts` (ours)",
    transport: "udp",
    start: "ours",
    timeout: 1,
    verdicts: "PPPPPPP",
    score: 7,
  },
  {
    name: "`UDPServer.py` (the textbook's)",
    transport: "udp",
    start: textbook("UDPServer.py"),
    timeout: 0.5,
    verdicts: "PPPWPPW",
    score: 6,
    reasons: {
      "3,000 bytes": /cut to its first 2,048 bytes/,
      "not UTF-8": /then the server stopped answering/,
    },
  },
  {
    name: "`textbook/UDPServer.ts` (this project's textbook edition)",
    transport: "udp",
    start: edition("UDPServer.ts"),
    timeout: 0.5,
    verdicts: "PPPWPPW",
    score: 6,
    reasons: {
      "3,000 bytes": /cut to its first 2,048 bytes/,
      "not UTF-8": /replaced with U\+FFFD/,
    },
  },
  {
    name: "echo, no upper-casing",
    transport: "udp",
    start: python("udp_echo.py"),
    timeout: 0.5,
    verdicts: "FFPFPFW",
    score: 2.5,
  },
  {
    name: "loses 36% (the Pinger lab's), seed 1",
    transport: "udp",
    start: python("udp_lossy.py", "1", "0.36"),
    timeout: 0.2,
    verdicts: "PPPWPPW",
    score: 6,
  },
  {
    name: "replies from another port",
    transport: "udp",
    start: python("udp_other_port.py"),
    timeout: 0.5,
    verdicts: "PPPWFPW",
    score: 5,
    reasons: { "own port": /not 127\.0\.0\.1:\d+: a client that checks/ },
  },
  {
    name: "each reply answers the datagram before",
    transport: "udp",
    start: python("udp_stale.py"),
    timeout: 0.5,
    verdicts: "FFFFPFF",
    score: 1,
    reasons: {
      "Unicode": /that is the reply to "hello world", sent earlier/,
      "2 clients": /^(?!.*each other's)/,
    },
  },
  {
    name: "ignores an empty datagram",
    transport: "udp",
    start: python("udp_ignores_empty.py"),
    timeout: 0.3,
    verdicts: "PPWWPPW",
    score: 5.5,
    reasons: { "empty": /though the server answers other datagrams/ },
  },
  {
    name: "answers only the first client",
    transport: "udp",
    start: python("udp_first_client_only.py"),
    timeout: 0.5,
    verdicts: "PFFFPFW",
    score: 2.5,
    reasons: { "Unicode": /came to the first client \(port \d+\)/ },
  },
  {
    name: "slow: 0.5 s a reply",
    transport: "udp",
    start: python("udp_slow.py", "0.5"),
    timeout: 1,
    verdicts: "PPPWPPW",
    score: 6,
  },
  {
    name: "slow: 1.5 s a reply (`--timeout 2`)",
    transport: "udp",
    start: python("udp_slow.py", "1.5"),
    timeout: 2,
    verdicts: "PPPWPPW",
    score: 6,
  },
  {
    name: "keeps each client's first reply",
    transport: "udp",
    start: python("udp_first_reply_kept.py"),
    timeout: 0.5,
    verdicts: "FPPWPPW",
    score: 5,
    reasons: {
      sentence:
        /^from the same socket, "and again" came back "HELLO WORLD", not "AND AGAIN": that is the reply to "hello world", sent earlier/,
    },
  },
  {
    name: "sends each reply to every client it has heard",
    transport: "udp",
    start: python("udp_every_client.py"),
    timeout: 0.5,
    verdicts: "PPPWPFW",
    score: 5,
    reasons: {
      "2 clients": /got its own reply, and then the (first|second) client's/,
    },
  },
  {
    name: "a new socket for each reply after the first",
    transport: "udp",
    start: python("udp_new_socket_later.py"),
    timeout: 0.5,
    verdicts: "PPPWFPW",
    score: 5,
    reasons: {
      "own port": /^the reply to "and again" came from 127\.0\.0\.1:\d+, not/,
    },
  },
  {
    name: "a newline after each reply",
    transport: "udp",
    start: python("udp_newline.py"),
    timeout: 0.5,
    verdicts: "FFFFPFW",
    score: 1.5,
    reasons: {
      sentence:
        /^"hello world" came back "HELLO WORLD\\n", not "HELLO WORLD": the reply, then "\\n"$/,
    },
  },
  {
    name: "right, but loses 4 and then takes 0.6 s a reply",
    transport: "udp",
    start: python("udp_slower_after_first.py"),
    timeout: 1,
    verdicts: "PPPPPPP",
    score: 7,
  },
  {
    name: "Java: the companion's, the whole 1,024-byte buffer sent back",
    transport: "udp",
    start: java("UDPServerCompanion"),
    timeout: 0.5,
    verdicts: "FFFWPFF",
    score: 1.5,
    reasons: {
      sentence:
        /^"hello world" came back "HELLO WORLD\\x00.*: the reply, then "\\x00.*" \(1,013 bytes\): 1013 bytes of NUL past the end of the reply/,
      "2 clients": /came back "FIRST CLIENT[A-Z]/,
    },
  },
  {
    name: "Java: a 1,024-byte buffer, the reply as long as the datagram",
    transport: "udp",
    start: java("UDPServerLength"),
    timeout: 0.5,
    verdicts: "PPPWPPW",
    score: 6,
    reasons: {
      "3,000 bytes":
        /^a 3,000-byte datagram came back cut to its first 1,024 bytes/,
    },
  },
  {
    name: "`connect()`s its socket to the first client",
    transport: "udp",
    start: python("udp_connects_first.py"),
    timeout: 0.5,
    verdicts: "PFFFPFF",
    score: 2,
    reasons: {
      Unicode:
        /, though the server still answers the first client \(port \d+\): it answers its first client only$/,
    },
  },
  {
    name: "slow: 0.6 s a reply (`--timeout 0.5`)",
    transport: "udp",
    start: python("udp_slow.py", "0.6"),
    timeout: 0.5,
    verdicts: "PPPWPPW",
    score: 6,
  },
];
