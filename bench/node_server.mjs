// node_server.mjs: the benchmark's Node.js peer, an upper-case server on
// node's `net` and `dgram` (text upper-cased by String#toUpperCase).
//
//   node node_server.mjs tcp|udp
//
// Prints "The server is ready to receive on 127.0.0.1:PORT" like ours.
import dgram from "node:dgram";
import net from "node:net";

const mode = process.argv[2];

function upper(data) {
  return Buffer.from(data.toString("utf8").toUpperCase(), "utf8");
}

function ready(port) {
  console.log(`The server is ready to receive on 127.0.0.1:${port}`);
}

if (mode === "tcp") {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.setNoDelay(true);
    socket.on("data", (data) => {
      if (!socket.write(upper(data))) {
        socket.pause();
        socket.once("drain", () => socket.resume());
      }
    });
    socket.on("end", () => socket.end());
    socket.on("error", () => socket.destroy());
  });
  server.listen(0, "127.0.0.1", () => ready(server.address().port));
} else if (mode === "udp") {
  const socket = dgram.createSocket("udp4");
  socket.on("message", (message, remote) => {
    socket.send(upper(message), remote.port, remote.address);
  });
  socket.bind(0, "127.0.0.1", () => ready(socket.address().port));
} else {
  console.error("usage: node node_server.mjs tcp|udp");
  process.exit(2);
}
