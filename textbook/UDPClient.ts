#!/usr/bin/env -S deno run --allow-net --unstable-net
// UDPClient.py (Kurose & Ross 2.7.1) line for line in Deno. Licence: 0BSD.
//   deno run --allow-net --unstable-net UDPClient.ts [HOST [PORT]]
// Left out, as in the textbook: a lost datagram leaves it waiting for ever
// (Ctrl-C), and it sends one sentence. The full udp_client.ts adds a
// timeout and retries, many sentences, Pinger and Heartbeat.
import { lookup } from "node:dns/promises";
import { stdin, stdout } from "node:process";
import { createInterface } from "node:readline";

// input() reads the lines typed, or piped in, one at a time:
const keyboard = createInterface({ input: stdin });
const lines = keyboard[Symbol.asyncIterator]();

// from socket import *   (nothing to import: sockets are built in)
// serverName = 'hostname'
const serverName = Deno.args[0] ?? "localhost";
// serverPort = 12000
const serverPort = Number(Deno.args[1] ?? 12000);
// clientSocket = socket(AF_INET, SOCK_DGRAM)   (IPv4; port 0: any free one)
const clientSocket = Deno.listenDatagram({ transport: "udp", port: 0 });
// message = input('Input lowercase sentence:')
stdout.write("Input lowercase sentence:");
const message: string = (await lines.next()).value ?? Deno.exit(); // Ctrl-D: end
// clientSocket.sendto(message.encode(), (serverName, serverPort))
const { address } = await lookup(serverName, { family: 4 }); // AF_INET: IPv4
await clientSocket.send(new TextEncoder().encode(message), {
  transport: "udp",
  hostname: address,
  port: serverPort,
});
// modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
const [modifiedMessage, _serverAddress] = await clientSocket.receive(
  new Uint8Array(2048),
);
// print(modifiedMessage.decode())
console.log(new TextDecoder().decode(modifiedMessage));
// clientSocket.close()
clientSocket.close();
keyboard.close(); // and the keyboard too, or the program waits on it
