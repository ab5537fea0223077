/**
 * A lab real server: `node web.js NAME PORT`. Answers every request with its
 * name (so the client can count who served it) and `/health` with 200;
 * SIGUSR1 toggles `/health` to 503 and back (a sick server that still
 * accepts connections). Prints `listening` once ready.
 * @module
 */
import { createServer } from 'node:http';

const [name, portText] = process.argv.slice(2);
if (!name || !portText) {
  process.stderr.write('usage: web.js NAME PORT\n');
  process.exit(2);
}
let healthy = true;
process.on('SIGUSR1', () => {
  healthy = !healthy;
});
const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'text/plain' }).end(healthy ? 'ok\n' : 'sick\n');
    return;
  }
  res.writeHead(200, { 'content-type': 'text/plain', 'x-server': name }).end(`${name}\n`);
});
// Short keep-alive: the lab's client opens a connection per request anyway.
server.keepAliveTimeout = 1000;
server.listen(Number(portText), '0.0.0.0', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
