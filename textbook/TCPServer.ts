#!/usr/bin/env -S deno run --allow-net
// TCPServer.py (Kurose & Ross 2.7.2) line for line in Deno. Licence: 0BSD.
//   deno run --allow-net TCPServer.ts [PORT [HOST]]
// As the textbook's, grade.ts tcp-server gives 5 PASS and 3 WARN: 3,001 bytes,
// 2nd client, not UTF-8; the full tcp_server.ts passes all 8. Unlike Python's,
// it outlives resets, and answers U+FFFD to bytes that are not UTF-8.

// from socket import *   (nothing to import: sockets are built in)
// serverPort = 12000
const serverPort = Number(Deno.args[0] ?? 12000);
// serverSocket = socket(AF_INET, SOCK_STREAM)
// serverSocket.bind(('',serverPort))   (no HOST: every address, as '')
// serverSocket.listen(1)
const serverSocket = Deno.listen({ hostname: Deno.args[1], port: serverPort });
const { hostname, port } = serverSocket.addr;
const host = hostname.includes(":") ? `[${hostname}]` : hostname; // [::1]
// print('The server is ready to receive')
console.log(`The server is ready to receive on ${host}:${port}`);
const decoder = new TextDecoder("utf-8", { ignoreBOM: true }); // keeps a BOM
// while True:   (one client at a time: delete `await` below for all at once)
while (true) {
  //     connectionSocket, addr = serverSocket.accept()
  const connectionSocket = await serverSocket.accept().catch(console.error);
  if (connectionSocket) await answer(connectionSocket).catch(console.error);
}
async function answer(connectionSocket: Deno.Conn) {
  try {
    // sentence = connectionSocket.recv(1024).decode()
    const buffer = new Uint8Array(1024);
    const received = await connectionSocket.read(buffer) ?? 0;
    const sentence = decoder.decode(buffer.subarray(0, received));
    // capitalizedSentence = sentence.upper()
    const capitalizedSentence = sentence.toUpperCase();
    // connectionSocket.send(capitalizedSentence.encode())
    await connectionSocket.write(new TextEncoder().encode(capitalizedSentence));
  } finally { // even when the client reset: its socket is closed
    // connectionSocket.close()
    connectionSocket.close();
  }
}
