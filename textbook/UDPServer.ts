#!/usr/bin/env -S deno run --allow-net --unstable-net
// UDPServer.py (Kurose & Ross 2.7.1) line for line in Deno. Licence: 0BSD.
//   deno run --allow-net --unstable-net UDPServer.ts [PORT [HOST]]
// As the textbook's: it reads 2,048 bytes of a datagram at most, logs
// nothing. grade.ts udp-server gives 5 PASS and 2 WARN: 3,000 bytes,
// not UTF-8. The full udp_server.ts passes all 7, and has the lab kit.
// Unlike Python, bytes that are not UTF-8 come back as U+FFFD instead of
// stopping the server.

// from socket import *   (nothing to import: sockets are built in)
// serverPort = 12000
const serverPort = Number(Deno.args[0] ?? 12000);
// serverSocket = socket(AF_INET, SOCK_DGRAM)
// serverSocket.bind(('', serverPort))
const serverSocket = Deno.listenDatagram({
  transport: "udp",
  hostname: Deno.args[1] ?? "0.0.0.0", // '' in Python: every address
  port: serverPort,
});
// (`as Deno.NetAddr` tells TypeScript that this address has a port)
const { hostname, port } = serverSocket.addr as Deno.NetAddr;
const host = hostname.includes(":") ? `[${hostname}]` : hostname; // [::1]
// print("The server is ready to receive")
console.log(`The server is ready to receive on ${host}:${port}`);
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // keeps a BOM
// while True:
while (true) {
  // message, clientAddress = serverSocket.recvfrom(2048)
  const [message, clientAddress] = await serverSocket.receive(
    new Uint8Array(2048),
  );
  // modifiedMessage = message.decode().upper()
  const modifiedMessage = decoder.decode(message).toUpperCase();
  // serverSocket.sendto(modifiedMessage.encode(), clientAddress)
  await serverSocket.send(
    new TextEncoder().encode(modifiedMessage),
    clientAddress,
  );
}
