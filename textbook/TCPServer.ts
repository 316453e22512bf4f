#!/usr/bin/env -S deno run --allow-net
// TCPServer.py (Kurose & Ross 2.7.2) line for line in Deno. Licence: 0BSD.
//   deno run --allow-net TCPServer.ts [PORT [HOST]]
// As the textbook's: one client at a time, one read of 1,024 bytes at most.
// grade.ts tcp-server gives 5 PASS and 3 WARN: 3,001 bytes, 2nd client,
// not UTF-8. The full tcp_server.ts passes all 8. Unlike Python, bytes that
// are not UTF-8 come back as U+FFFD instead of stopping the server.

// from socket import *   (nothing to import: sockets are built in)
// serverPort = 12000
const serverPort = Number(Deno.args[0] ?? 12000);
// (no HOST: Deno binds every address, as '' does in Python)
// serverSocket = socket(AF_INET, SOCK_STREAM)
// serverSocket.bind(('',serverPort))
// serverSocket.listen(1)
const serverSocket = Deno.listen({ hostname: Deno.args[1], port: serverPort });
const { hostname, port } = serverSocket.addr;
// print('The server is ready to receive')
console.log(`The server is ready to receive on ${hostname}:${port}`);
// while True:
//     connectionSocket, addr = serverSocket.accept()
for await (const connectionSocket of serverSocket) {
  // One client at a time, as in Python. Delete the one word `await`, and all
  // are answered at once: the exercise. A client's failure is only logged.
  await answer(connectionSocket).catch(console.error);
}

async function answer(connectionSocket: Deno.Conn) {
  // sentence = connectionSocket.recv(1024).decode()
  const buffer = new Uint8Array(1024);
  const received = await connectionSocket.read(buffer) ?? 0;
  const sentence = new TextDecoder().decode(buffer.subarray(0, received));
  // capitalizedSentence = sentence.upper()
  const capitalizedSentence = sentence.toUpperCase();
  // connectionSocket.send(capitalizedSentence.encode())
  await connectionSocket.write(new TextEncoder().encode(capitalizedSentence));
  // connectionSocket.close()
  connectionSocket.close();
}
