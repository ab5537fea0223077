/**
 * Real traffic through IPVS (test/kernel/lab.ts): a director namespace, two
 * real servers running node HTTP and UDP servers, and a client namespace.
 * What the library reads (snapshot counters, totals, the connection table)
 * must match what was sent, as counted independently: by the client (its
 * local ports, which server answered), by iptables counters on the director
 * (packets and bytes, seen before IPVS), and by the real servers themselves.
 *
 * The kernel folds counters in with its rate estimator about every 2 s, so
 * reads wait until the numbers settle.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Connection, ServiceEntry, ServiceKey, Stats } from '../../../src/index';
import { iptables, ruleCounters, withLab, type Lab, type Reply } from '../lab';

const TCP_CLOSED_STATES = ['TIME_WAIT', 'FIN_WAIT', 'CLOSE', 'CLOSE_WAIT', 'LAST_ACK'];

/** Polls `f` until it returns a value, or gives up after `ms` (returning the last attempt's undefined). */
async function settle<T>(f: () => Promise<T | undefined>, ms = 20_000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined || Date.now() > deadline) return v;
    await sleep(500);
  }
}

function entryOf(snap: ServiceEntry[], key: ServiceKey): ServiceEntry | undefined {
  return snap.find((s) => JSON.stringify(s.key) === JSON.stringify(key));
}

const big = (o: unknown): string => JSON.stringify(o, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));

function sumStats(list: readonly { stats: Stats }[]): Stats {
  const s: Stats = { conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n };
  for (const x of list) for (const k of Object.keys(s) as (keyof Stats)[]) s[k] += x.stats[k];
  return s;
}

/** Which real server address answered each client port, as the client saw it. */
function servedBy(lab: Lab, replies: readonly Reply[], family: 'v4' | 'v6' = 'v4'): Map<number, string> {
  const addr = Object.fromEntries(lab.servers.map((s) => [s.name, s[family]]));
  return new Map(replies.map((r) => [r.localPort, addr[r.body] ?? `?${r.body}`]));
}

function conns(list: readonly Connection[], vip: string, vport: number): { plain: Connection[]; templates: Connection[] } {
  const mine = list.filter((c) => c.virtualAddress === vip && c.virtualPort === vport);
  return { plain: mine.filter((c) => !c.template), templates: mine.filter((c) => c.template) };
}

t.test('NAT with two real servers: counters, totals and the connection table match the requests', async (t) => {
  await withLab(async (lab) => {
    const c = lab.director.client;
    const vs = { protocol: 'tcp', address: '203.0.113.10', port: 80 } as const;
    await c.addService(vs, { scheduler: 'rr' });
    for (const s of lab.servers) await c.addDestination(vs, { address: s.v4, port: 8080 }, { forwarding: 'masq' });
    // Counted before IPVS sees them: requests in PREROUTING, replies in FORWARD (IPVS un-NATs later in FORWARD).
    await iptables(lab, '-t mangle -A PREROUTING -d 203.0.113.10 -p tcp --dport 80 -m comment --comment in');
    await iptables(lab, '-t mangle -A FORWARD -s 198.51.100.0/24 -p tcp --sport 8080 -m comment --comment out');

    const N = 10;
    const replies = await lab.http('http://203.0.113.10/', N);
    t.same(replies.map((r) => r.status), Array(N).fill(200), `${N} requests answered`);
    const names = replies.map((r) => r.body);
    t.ok(names.every((n, i) => i === 0 || n !== names[i - 1]), `round robin alternates: ${names.join(' ')}`);
    const perServer = Object.fromEntries(lab.servers.map((s) => [s.v4, BigInt(names.filter((n) => n === s.name).length)]));

    const settled = await settle(async () => {
      const [snap, counters] = [await c.snapshot(), await ruleCounters(lab, 'mangle')];
      const e = entryOf(snap, vs);
      const [i, o] = [counters.get('in'), counters.get('out')];
      if (!e || !i || !o) return undefined;
      const s = e.stats;
      return s.conns === BigInt(N) && s.inPackets === i.packets && s.outPackets === o.packets ? { e, i, o } : undefined;
    });
    t.ok(settled, 'the counters settled (estimator) to what iptables counted');
    if (!settled) {
      t.comment(big(await c.snapshot()), big([...(await ruleCounters(lab, 'mangle'))]));
      return;
    }
    const { e, i, o } = settled;
    t.equal(e.stats.conns, BigInt(N), 'service conns == requests');
    t.same([e.stats.inPackets, e.stats.inBytes], [i.packets, i.bytes], 'service in packets and bytes == iptables PREROUTING');
    t.same([e.stats.outPackets, e.stats.outBytes], [o.packets, o.bytes], 'service out packets and bytes == iptables FORWARD');
    t.ok(i.packets >= BigInt(3 * N), `at least 3 packets in per connection (${i.packets})`);
    for (const d of e.destinations) {
      t.equal(d.stats.conns, perServer[d.key.address], `${d.key.address}: conns == requests it answered`);
      t.same([d.activeConns, d.inactiveConns], [0, Number(perServer[d.key.address])], `${d.key.address}: all its connections closed (inactive)`);
    }
    t.same(big(sumStats(e.destinations)), big(e.stats), 'service counters == sum of its real servers');
    t.ok(e.statsSource === 'stats64', 'from STATS64');
    t.same(big((await c.totals()).stats), big(e.stats), "totals() (the namespace's only service) == service counters");

    // ipvsadm reads the same counters its own way.
    const line = (await lab.director.sh('ipvsadm -Ln --stats --exact')).split('\n').find((l) => l.startsWith('TCP  203.0.113.10:80'));
    t.same(line?.trim().split(/\s+/).slice(2), [e.stats.conns, e.stats.inPackets, e.stats.outPackets, e.stats.inBytes, e.stats.outBytes].map(String), 'ipvsadm --stats --exact shows the same numbers');

    // The connection table: one entry per request, from the client's port to the server that answered.
    const table = conns(await c.connections(), vs.address, vs.port);
    t.equal(table.templates.length, 0, 'no templates (not persistent)');
    const want = servedBy(lab, replies);
    t.same(new Map(table.plain.map((x) => [x.clientPort, x.destinationAddress])), want, 'client port -> real server, as the client saw it');
    t.ok(table.plain.every((x) => x.protocol === 'TCP' && x.clientAddress === lab.client.v4 && x.destinationPort === 8080 && x.expires > 0), 'TCP from the client to port 8080');
    t.ok(table.plain.every((x) => TCP_CLOSED_STATES.includes(x.state)), `closed states: ${[...new Set(table.plain.map((x) => x.state))].join(',')}`);
    const adm = (await lab.director.sh('ipvsadm -Lcn'))
      .split('\n')
      .slice(2)
      .filter(Boolean)
      .map((l) => l.trim().split(/\s+/))
      .filter((f) => f[4] === '203.0.113.10:80')
      .map((f) => `${f[0]} ${f[2]} ${f[3]} ${f[5]}`)
      .sort();
    t.same(table.plain.map((x) => `${x.protocol} ${x.state} ${x.clientAddress}:${x.clientPort} ${x.destinationAddress}:${x.destinationPort}`).sort(), adm, 'ipvsadm -Lcn lists the same connections');

    await c.zero();
    const after = entryOf(await c.snapshot(), vs);
    t.same(big(after?.stats), big({ conns: 0n, inPackets: 0n, outPackets: 0n, inBytes: 0n, outBytes: 0n }), 'zero() resets the service counters at once');
    t.equal((await c.totals()).stats.conns, 0n, 'and the totals');
    const reports = await lab.stopServers();
    t.same(reports.map((r) => r.http), lab.servers.map((s) => Number(perServer[s.v4])), 'each real server counted the requests IPVS sent it');
  });
});

t.test('persistence: one template per client network, masked by the netmask', async (t) => {
  await withLab(async (lab) => {
    const c = lab.director.client;
    const vs = { protocol: 'tcp', address: '203.0.113.11', port: 80 } as const;
    await c.addService(vs, { scheduler: 'rr', persistent: true, timeout: 300, netmask: '255.255.255.0' });
    for (const s of lab.servers) await c.addDestination(vs, { address: s.v4, port: 8080 }, { forwarding: 'masq' });
    const replies = await lab.http('http://203.0.113.11/', 6);
    const names = new Set(replies.map((r) => r.body));
    t.equal(names.size, 1, `every request went to the same real server (${[...names].join()})`);
    const server = lab.servers.find((s) => names.has(s.name));
    const table = conns(await c.connections(), vs.address, vs.port);
    t.equal(table.plain.length, 6, 'one connection per request');
    t.equal(table.templates.length, 1, 'one persistence template');
    t.match(table.templates[0], {
      protocol: 'TCP',
      clientAddress: '203.0.113.0',
      clientPort: 0,
      virtualAddress: '203.0.113.11',
      virtualPort: 80,
      destinationAddress: server?.v4,
      destinationPort: 8080,
      template: true,
    }, 'the template: client address masked to /24, client port 0');
    t.ok(['ASSURED', 'NONE'].includes(table.templates[0]?.state ?? ''), `template state ${table.templates[0]?.state}`);
    t.ok((table.templates[0]?.expires ?? 0) > 200, 'the template lives for the persistence timeout');
    const e = entryOf(await c.snapshot(), vs);
    t.same(
      Object.fromEntries((e?.destinations ?? []).map((d) => [d.key.address, d.persistentConns])),
      Object.fromEntries(lab.servers.map((s) => [s.v4, s === server ? 1 : 0])),
      'persistentConns counts the template on its real server',
    );
  });
});

t.test('fwmark: iptables marks, the template carries the mark, the packet keeps its port', async (t) => {
  await withLab(async (lab) => {
    const c = lab.director.client;
    await iptables(lab, '-t mangle -A PREROUTING -d 203.0.113.20 -p tcp --dport 8080 -j MARK --set-mark 7');
    const fw = { fwmark: 7, family: 'ipv4' } as const;
    await c.addService(fw, { scheduler: 'rr', persistent: true, timeout: 300 });
    // Port 9999 has no listener: a persistent fwmark service forwards to the
    // packet's own port (8080), so the requests still succeed.
    for (const s of lab.servers) await c.addDestination(fw, { address: s.v4, port: 9999 }, { forwarding: 'masq' });
    const replies = await lab.http('http://203.0.113.20:8080/', 4);
    t.same(replies.map((r) => r.status), [200, 200, 200, 200], 'marked requests are served');
    const names = new Set(replies.map((r) => r.body));
    t.equal(names.size, 1, 'persistent: one real server');
    const server = lab.servers.find((s) => names.has(s.name));
    const all = await c.connections();
    const plain = all.filter((x) => !x.template && x.virtualAddress === '203.0.113.20');
    t.same(
      plain.map((x) => [x.virtualPort, x.destinationAddress, x.destinationPort]),
      Array(4).fill([8080, server?.v4, 8080]),
      'connections: to the real server on the packet port 8080, not the configured 9999',
    );
    const templates = all.filter((x) => x.template);
    t.equal(templates.length, 1, 'one template');
    t.match(templates[0], {
      protocol: 'IP',
      clientAddress: lab.client.v4,
      clientPort: 0,
      virtualAddress: '0.0.0.7',
      virtualPort: 0,
      destinationAddress: server?.v4,
      destinationPort: 0,
      // NONE when created; ASSURED once a connection it placed got established.
      state: /^(NONE|ASSURED)$/,
      template: true,
    }, 'the fwmark template: protocol IP, the mark in the virtual address column, ports 0');
    const settled = await settle(async () => {
      const e = entryOf(await c.snapshot(), fw);
      return e && e.stats.conns === 4n ? e : undefined;
    });
    t.equal(settled?.stats.conns, 4n, 'the fwmark service counted 4 connections');
  });
});

t.test('the sip persistence engine: templates keyed by Call-ID carry the engine data', async (t) => {
  await withLab(async (lab) => {
    const c = lab.director.client;
    const vs = { protocol: 'udp', address: '203.0.113.30', port: 5060 } as const;
    await c.addService(vs, { scheduler: 'rr', persistent: true, timeout: 300, persistenceEngine: 'sip' });
    for (const s of lab.servers) await c.addDestination(vs, { address: s.v4, port: 5060 }, { forwarding: 'masq' });
    const calls: [number, string][] = [
      [5061, 'call-a@203.0.113.2'],
      [5062, 'call-a@203.0.113.2'],
      [5063, 'call-b@203.0.113.2'],
      [5064, 'call-b@203.0.113.2'],
    ];
    for (const [port, callId] of calls) await lab.sip(vs.address, vs.port, port, callId);
    await sleep(300);
    const table = conns(await c.connections(), vs.address, vs.port);
    const byPort = new Map(table.plain.map((x) => [x.clientPort, x]));
    t.same([...byPort.keys()].sort(), [5061, 5062, 5063, 5064], 'one UDP connection per source port');
    t.ok(table.plain.every((x) => x.protocol === 'UDP' && x.state === 'UDP' && x.peName === undefined), 'plain connections: state UDP, no engine columns');
    t.equal(byPort.get(5061)?.destinationAddress, byPort.get(5062)?.destinationAddress, 'the same Call-ID from another port goes to the same real server');
    t.equal(byPort.get(5063)?.destinationAddress, byPort.get(5064)?.destinationAddress, 'so does the second call');
    t.not(byPort.get(5061)?.destinationAddress, byPort.get(5063)?.destinationAddress, 'two calls are scheduled apart (rr)');
    const templates = new Map(table.templates.map((x) => [x.peData, x]));
    t.same([...templates.keys()].sort(), ['call-a@203.0.113.2', 'call-b@203.0.113.2'], 'one template per Call-ID, with the Call-ID as engine data');
    for (const [port, callId] of [calls[0], calls[2]] as [number, string][]) {
      t.match(templates.get(callId), {
        protocol: 'UDP',
        clientAddress: lab.client.v4,
        clientPort: 0,
        virtualPort: 5060,
        destinationAddress: byPort.get(port)?.destinationAddress,
        destinationPort: 5060,
        state: 'NONE',
        peName: 'sip',
        template: true,
      }, `template of ${callId}`);
    }
    const reports = await lab.stopServers();
    const sawByAddr = Object.fromEntries(reports.map((r) => [lab.servers.find((s) => s.name === r.name)?.v4, r.sip]));
    t.same(sawByAddr[byPort.get(5061)?.destinationAddress ?? ''], ['call-a@203.0.113.2', 'call-a@203.0.113.2'], 'the real server of call a received both its datagrams');
    t.same(sawByAddr[byPort.get(5063)?.destinationAddress ?? ''], ['call-b@203.0.113.2', 'call-b@203.0.113.2'], 'and of call b');
  });
});

t.test('IPv6 NAT: the connection table reads back in the compressed form', async (t) => {
  await withLab(async (lab) => {
    const c = lab.director.client;
    const vs = { protocol: 'tcp', address: '2001:db8:c::10', port: 80 } as const;
    await c.addService(vs, { scheduler: 'rr' });
    for (const s of lab.servers) await c.addDestination(vs, { address: s.v6, port: 8080 }, { forwarding: 'masq' });
    const replies = await lab.http('http://[2001:db8:c::10]/', 4);
    t.same(replies.map((r) => r.body).sort(), ['r1', 'r1', 'r2', 'r2'], 'both real servers answered, twice each');
    const table = conns(await c.connections(), vs.address, vs.port);
    t.same(new Map(table.plain.map((x) => [x.clientPort, x.destinationAddress])), servedBy(lab, replies, 'v6'), 'client port -> real server');
    t.ok(table.plain.every((x) => x.clientAddress === lab.client.v6 && x.destinationPort === 8080), 'addresses in inet_ntop form');
    const settled = await settle(async () => {
      const e = entryOf(await c.snapshot(), vs);
      return e && e.stats.conns === 4n ? e : undefined;
    });
    t.equal(settled?.stats.conns, 4n, 'the service counted 4 connections');
  });
});

t.test('a deleted real server: its open connections are dropped in silence, or reset with expire_nodest_conn', async (t) => {
  // What the agent's `remove` policy means for a client that holds a
  // connection to the server it removes (docs/agent.md, docs/kernel-notes.md).
  for (const expire of [0, 1]) {
    await withLab(async (lab) => {
      const c = lab.director.client;
      const vs = { protocol: 'tcp', address: '203.0.113.10', port: 80 } as const;
      const [r1, r2] = lab.servers;
      await lab.director.sh(`sysctl -qw net.ipv4.vs.expire_nodest_conn=${expire}`);
      await c.addService(vs, { scheduler: 'rr' });
      await c.addDestination(vs, { address: r1.v4, port: 8080 }, { forwarding: 'masq' });
      const kept = await lab.keepAlive('http://203.0.113.10/');
      t.same([kept.first.body, kept.first.error], ['r1', undefined], `expire_nodest_conn=${expire}: the first request, served by r1`);
      const entry = async () => (await c.connections()).find((x) => x.clientPort === kept.first.port && x.virtualPort === 80);
      let before;
      const second = await kept.second(async () => {
        before = await entry();
        await c.addDestination(vs, { address: r2.v4, port: 8080 }, { forwarding: 'masq' });
        await c.deleteDestination(vs, { address: r1.v4, port: 8080 });
      });
      t.match(before, { destinationAddress: r1.v4, state: 'ESTABLISHED' }, 'its entry, established, to r1');
      if (expire === 0) {
        t.match(second, { port: kept.first.port, error: 'TIMEOUT' }, 'the next request on it gets no answer in 3 s: the director drops its packets');
        t.match(await entry(), { destinationAddress: r1.v4, state: 'ESTABLISHED' }, 'and keeps the entry (until its 15-minute timer runs out)');
      } else {
        t.match(second, { port: kept.first.port, error: 'ECONNRESET' }, 'the next request on it is reset');
        t.ok(second.ms < 1000, `at once (${second.ms} ms, not at the 3 s timeout): the entry is expired at its next packet, and the director's own TCP resets it`);
        t.equal(await entry(), undefined, 'the entry is gone');
      }
      const fresh = await lab.http('http://203.0.113.10/', 2);
      t.same(fresh.map((r) => r.body), ['r2', 'r2'], 'new connections go to r2');
    });
  }
});
