// A right TCP client in Node.js: every line on a connection of its own to
// localhost (which Node may resolve to ::1), sent with a newline, the reply
// read to its newline. Usage: node tcp_client.mjs PORT
import net from "node:net";
import readline from "node:readline";

const port = Number(process.argv[2]);
const lines = readline.createInterface({ input: process.stdin });

function exchange(sentence) {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: "localhost", port });
    const chunks = [];
    socket.on("data", (chunk) => {
      chunks.push(chunk);
      if (chunk.includes(10)) {
        socket.end();
        resolve(Buffer.concat(chunks).toString("utf8"));
      }
    });
    socket.on("error", reject);
    socket.write(sentence + "\n", "utf8");
  });
}

for await (const line of lines) {
  process.stdout.write(await exchange(line));
}
