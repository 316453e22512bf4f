#!/usr/bin/env -S deno run --allow-net
// TCPClient.py (Kurose & Ross 2.7.2) line for line in Deno. Licence: 0BSD.
//   deno run --allow-net TCPClient.ts [HOST [PORT]]
// Left out, as in the textbook: it sends no newline and reads once, so a
// reply over 1,024 bytes or in two pieces is cut short. The full
// tcp_client.ts reads whole lines, with a timeout and --stream.
import { stdin, stdout } from "node:process";
import { createInterface } from "node:readline";

// input() reads the lines typed, or piped in, one at a time:
const keyboard = createInterface({ input: stdin });
const lines = keyboard[Symbol.asyncIterator]();

// from socket import *   (nothing to import: sockets are built in)
// serverName = 'servername'
const serverName = Deno.args[0] ?? "localhost";
// serverPort = 12000
const serverPort = Number(Deno.args[1] ?? 12000);
// clientSocket = socket(AF_INET, SOCK_STREAM)
// clientSocket.connect((serverName,serverPort))
const clientSocket = await Deno.connect({
  hostname: serverName,
  port: serverPort,
});
// sentence = input('Input lowercase sentence:')
stdout.write("Input lowercase sentence:");
const sentence: string = (await lines.next()).value ?? Deno.exit(); // Ctrl-D: end
// clientSocket.send(sentence.encode())
await clientSocket.write(new TextEncoder().encode(sentence));
// modifiedSentence = clientSocket.recv(1024)
const modifiedSentence = new Uint8Array(1024);
const received = await clientSocket.read(modifiedSentence) ?? 0;
// print('From Server: ', modifiedSentence.decode())
const text = new TextDecoder().decode(modifiedSentence.subarray(0, received));
console.log("From Server: ", text);
// clientSocket.close()
clientSocket.close();
keyboard.close(); // and the keyboard too, or the program waits on it
