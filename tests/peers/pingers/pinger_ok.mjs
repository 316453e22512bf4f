// A correct UDP Pinger client in Node: ten pings "Ping SEQ TIME" (TIME as
// a date, new Date().toString()), a 1 s timeout for each, a reply that is
// not this ping's skipped, RTTs in ms, then the statistics.
//
// Usage: node pinger_ok.mjs PORT
import dgram from "node:dgram";

const port = Number(process.argv[2]);
const socket = dgram.createSocket("udp4");
let waiting = null;
socket.on("message", (message) => waiting?.(message.toString()));

function reply(seq) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), 1000);
    waiting = (text) => {
      if (!text.startsWith(`PING ${seq} `)) return; // not this ping's
      clearTimeout(timer);
      resolve(text);
    };
  });
}

const rtts = [];
for (let seq = 1; seq <= 10; seq++) {
  const sent = performance.now();
  socket.send(`Ping ${seq} ${new Date().toString()}`, port, "127.0.0.1");
  const text = await reply(seq);
  if (text === null) {
    console.log("Request timed out");
  } else {
    const rtt = performance.now() - sent;
    rtts.push(rtt);
    console.log(`${text}  (RTT ${rtt.toFixed(2)} ms)`);
  }
}
socket.close();
const avg = rtts.reduce((a, b) => a + b, 0) / rtts.length;
console.log(`Min RTT: ${Math.min(...rtts).toFixed(2)} ms`);
console.log(`Avg RTT: ${avg.toFixed(2)} ms`);
console.log(`Max RTT: ${Math.max(...rtts).toFixed(2)} ms`);
console.log(`Loss rate: ${(10 - rtts.length) * 10}%`);
