/**
 * The agent's HTTP endpoint: `/metrics` (Prometheus text), `/status` (JSON)
 * and `/healthz`. Bound to 127.0.0.1 by default: the status names every real
 * server, which is nobody else's business unless the operator says so.
 * @module
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Agent } from './agent';

/** Parses `HOST:PORT`, `[V6]:PORT` or `PORT` (host 127.0.0.1). */
export function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(text) ?? (/^(\d+)$/.test(text) ? [text, undefined, '127.0.0.1', text] : null);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`--listen: '${text}' is not HOST:PORT (e.g. 127.0.0.1:9586), [IPv6]:PORT, a port, or 'none'`);
  }
  return { host: (m[1] ?? m[2]) as string, port };
}

/**
 * Whether the agent is healthy: its latest pass succeeded and is recent
 * (within three intervals; a pass stuck on the kernel is not healthy).
 */
export function healthz(agent: Agent, now = Date.now()): { ok: boolean; reason: string } {
  const lp = agent.lastPass;
  if (!lp) return { ok: false, reason: 'no pass yet' };
  if (lp.error) return { ok: false, reason: `latest pass failed: ${lp.error.message}` };
  const age = now - lp.at;
  if (age > 3 * agent.config.intervalMs + 5000) return { ok: false, reason: `latest pass was ${Math.round(age / 1000)} s ago` };
  return { ok: true, reason: 'ok' };
}

/** Starts the endpoint; resolves once listening. */
export async function startHttp(agent: Agent, listen: { host: string; port: number }): Promise<Server> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      agent.renderMetrics().then(
        (text) => res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(text),
        (e: Error) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${e.message}\n`),
      );
    } else if (path === '/status') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(agent.status(), null, 2)}\n`);
    } else if (path === '/healthz') {
      const h = healthz(agent);
      res.writeHead(h.ok ? 200 : 503, { 'content-type': 'text/plain' }).end(`${h.reason}\n`);
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics, /status or /healthz\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** The address a server listens on, as `host:port`. */
export function listening(server: Server): string {
  const a = server.address() as AddressInfo;
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
