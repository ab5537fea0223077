/**
 * A real server for the traffic tests, run inside a real-server namespace:
 * `node lab-server.js NAME`. Answers HTTP on port 8080 (IPv4 and IPv6) with
 * its name (closing the connection unless asked to keep it), and counts UDP
 * datagrams on port 5060 (SIP). Prints `ready` once listening; on SIGTERM
 * prints one JSON line of what it saw and exits.
 */
import { createSocket } from 'node:dgram';
import { createServer } from 'node:http';

const name = process.argv[2] ?? 'server';
let http = 0;
const sip: string[] = [];

const server = createServer((req, res) => {
  http++;
  req.resume();
  // Closed after each answer, unless the client asks to keep the connection.
  const keep = /keep-alive/i.test(req.headers.connection ?? '');
  res.writeHead(200, { 'content-type': 'text/plain', connection: keep ? 'keep-alive' : 'close' });
  res.end(name);
});
const udp = createSocket({ type: 'udp6', ipv6Only: false });
udp.on('message', (msg) => {
  const callId = /^Call-ID:\s*(\S+)/im.exec(msg.toString('latin1'))?.[1];
  sip.push(callId ?? '');
});

let pending = 2;
const ready = (): void => {
  if (--pending === 0) process.stdout.write('ready\n');
};
server.listen({ port: 8080, host: '::', ipv6Only: false }, ready);
udp.bind(5060, '::', ready);

process.on('SIGTERM', () => {
  process.stdout.write(`${JSON.stringify({ name, http, sip })}\n`);
  process.exit(0);
});
