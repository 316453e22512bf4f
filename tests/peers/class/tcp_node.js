// A student's TCP server in Node.js: a line reader per connection (it
// waits for a newline), each line upper-cased with toUpperCase() and sent
// back with its newline; the connection ends when the client's does.
// Bytes that are not UTF-8 are decoded as U+FFFD. Bound to 127.0.0.1 on a
// free port; the ready line on stdout.
//
// Usage: node tests/peers/class/tcp_node.js
const net = require("node:net");

const server = net.createServer((socket) => {
  let pending = "";
  socket.setEncoding("utf8");
  socket.on("data", (chunk) => {
    pending += chunk;
    let newline;
    while ((newline = pending.indexOf("\n")) >= 0) {
      socket.write(pending.slice(0, newline).toUpperCase() + "\n");
      pending = pending.slice(newline + 1);
    }
  });
  socket.on("end", () => socket.end());
  socket.on("error", () => {});
});
server.listen(0, "127.0.0.1", () => {
  console.log(
    `The server is ready to receive on 127.0.0.1:${server.address().port}`,
  );
});
