// A right UDP client in Node.js: every line, a 1 s timeout and 3 tries,
// only datagrams from the server. Usage: node udp_client.mjs PORT
import dgram from "node:dgram";
import readline from "node:readline";

const port = Number(process.argv[2]);
const socket = dgram.createSocket("udp4");
const lines = readline.createInterface({ input: process.stdin });

function exchange(sentence) {
  return new Promise((resolve, reject) => {
    let tries = 0;
    let timer;
    const send = () => {
      if (tries++ === 3) {
        socket.off("message", onMessage);
        reject(new Error("no reply from the server after 3 tries"));
        return;
      }
      socket.send(Buffer.from(sentence, "utf8"), port, "127.0.0.1");
      timer = setTimeout(send, 1000);
    };
    const onMessage = (message, from) => {
      if (from.address !== "127.0.0.1" || from.port !== port) return;
      clearTimeout(timer);
      socket.off("message", onMessage);
      resolve(message.toString("utf8"));
    };
    socket.on("message", onMessage);
    send();
  });
}

try {
  for await (const line of lines) console.log(await exchange(line));
} catch (error) {
  console.error(error.message);
  process.exitCode = 1;
}
socket.close();
