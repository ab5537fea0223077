/**
 * The lab's client: `node traffic.js URL --count N [--concurrency C]` sends
 * N requests, or `--rate R` keeps sending R per second until SIGTERM. Every
 * request opens its own connection (so IPVS schedules each one) and prints
 * one JSON line: `{"t":…, "server":"web1", "port":…, "ms":…}` or
 * `{"t":…, "error":"ECONNREFUSED", "port":…, "ms":…}` (`t` is when it was
 * sent, `port` the client's source port, which names the connection in the
 * director's table when one fails). A
 * request that takes longer than `--timeout` ms (default 2000) is an error.
 * `--local-port P` sends from that source port (one request at a time).
 */
import { request } from 'node:http';

const args = process.argv.slice(2);
const url = new URL(args[0] ?? '');
const opt = (name: string, def: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const count = opt('--count', 0);
const concurrency = opt('--concurrency', 4);
const rate = opt('--rate', 0);
const timeoutMs = opt('--timeout', 2000);
const localPort = opt('--local-port', 0) || undefined;

function once(): Promise<void> {
  const started = Date.now();
  return new Promise((resolve) => {
    let done = false;
    let port: number | undefined;
    const finish = (o: Record<string, unknown>): void => {
      if (done) return;
      done = true;
      port ??= req.socket?.localPort;
      process.stdout.write(`${JSON.stringify({ t: started, ...o, port, ms: Date.now() - started })}\n`);
      resolve();
    };
    const req = request(url, { agent: false, headers: { connection: 'close' }, timeout: timeoutMs, localPort }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => (res.statusCode === 200 ? finish({ server: body.trim() }) : finish({ error: `status ${res.statusCode}` })));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
    });
    // The source port is bound by connect(), before the handshake ends.
    req.on('socket', (sock) => setImmediate(() => (port ??= sock.localPort)));
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'TIMEOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => finish({ error: e.code ?? e.message }));
    req.end();
  });
}

async function main(): Promise<void> {
  if (count > 0) {
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < count) {
        next++;
        await once();
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
    return;
  }
  if (rate <= 0) throw new Error('usage: traffic.js URL (--count N [--concurrency C] | --rate R)');
  let stop = false;
  process.on('SIGTERM', () => (stop = true));
  const inFlight = new Set<Promise<void>>();
  const period = 1000 / rate;
  let due = Date.now();
  while (!stop) {
    const p = once();
    inFlight.add(p);
    void p.then(() => inFlight.delete(p));
    due += period;
    const wait = due - Date.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  await Promise.all(inFlight);
}

main().then(
  () => process.exit(0),
  (e: Error) => {
    process.stderr.write(`traffic: ${e.message}\n`);
    process.exit(2);
  },
);
