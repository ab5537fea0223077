/**
 * Network namespaces: each namespace is its own IPVS instance, and a client
 * opened with `{ netns }` sees only that one — rules, the connection table
 * and the totals alike, from any number of clients in one process.
 */
import t from 'tap';
import { setTimeout as sleep } from 'node:timers/promises';
import { ERROR_CODES, InvalidArgumentError, IpvsClient } from '../../../src/index';
import { rejectsWith } from '../expect';
import { withNetns, type Netns } from '../harness';

/** Makes one UDP connection entry in `ns`: a local client sends to a VIP with a real server. */
async function oneConnection(ns: Netns, vip: string, rs: string): Promise<void> {
  const vs = { protocol: 'udp', address: vip, port: 53 } as const;
  await ns.client.addService(vs, { scheduler: 'rr' });
  await ns.client.addDestination(vs, { address: rs, port: 53 }, { forwarding: 'masq' });
  // IPVS also schedules locally originated packets (its LOCAL_OUT hook).
  await ns.sh(`${process.execPath} -e "const s=require('dgram').createSocket('udp4');s.send('x',53,'${vip}',()=>s.close())"`);
}

t.test('a client sees only its own namespace: rules, connections, totals', async (t) => {
  await withNetns(async (a) => {
    await withNetns(async (b) => {
      await oneConnection(a, '198.51.100.1', '192.0.2.99');
      await b.client.addService({ fwmark: 3, family: 'ipv6' });

      t.same((await a.client.listServices()).map((s) => s.key), [{ protocol: 'udp', address: '198.51.100.1', port: 53 }], 'A lists only its service');
      t.same((await b.client.listServices()).map((s) => s.key), [{ fwmark: 3, family: 'ipv6' }], 'B lists only its service');
      t.equal(await b.sh('ipvsadm -S -n'), '-A -f 3 -6 -s wlc\n', "B's ipvsadm agrees");

      const [ca, cb] = [await a.client.connections(), await b.client.connections()];
      t.same(ca.map((c) => [c.protocol, c.virtualAddress, c.destinationAddress]), [['UDP', '198.51.100.1', '192.0.2.99']], "A's connection table has A's connection");
      t.same(cb, [], "B's is empty");
      // Totals are folded in by the rate estimator (about every 2 s).
      let totals = await a.client.totals();
      for (let i = 0; i < 20 && totals.stats.conns === 0n; i++) {
        await sleep(500);
        totals = await a.client.totals();
      }
      t.equal(totals.stats.conns, 1n, "A's totals count it");
      t.equal((await b.client.totals()).stats.conns, 0n, "B's do not");

      // The test process itself lives in the initial namespace: a client without { netns } sees that one.
      const init = await IpvsClient.open();
      try {
        const mine = (await init.listServices()).filter((s) => JSON.stringify(s.key).includes('198.51.100.1') || JSON.stringify(s.key).includes('"fwmark":3'));
        t.same(mine, [], "the initial namespace has neither namespace's services");
        t.notOk((await init.connections()).some((c) => c.virtualAddress === '198.51.100.1'), "nor A's connection");
      } finally {
        init.close();
      }

      // Many clients, interleaved, in one process: each stays in its namespace.
      await Promise.all([
        ...Array.from({ length: 20 }, (_v, i) => a.client.addService({ protocol: 'tcp', address: '203.0.113.1', port: 1000 + i })),
        ...Array.from({ length: 20 }, (_v, i) => b.client.addService({ protocol: 'tcp', address: '203.0.113.2', port: 2000 + i })),
      ]);
      const addrs = async (ns: Netns): Promise<string[]> => [...new Set((await ns.client.rules()).map((s) => (s.key as { address?: string }).address ?? 'fwmark'))].sort();
      t.same(await addrs(a), ['198.51.100.1', '203.0.113.1'], 'concurrent adds through A landed in A');
      t.same(await addrs(b), ['203.0.113.2', 'fwmark'], 'and through B in B');
    });
  });
});

t.test('a path that is not a network namespace: InvalidArgumentError naming it', async (t) => {
  for (const [path, errno, why] of [
    ['/run/netns/does-not-exist', 2, 'open(netns): ENOENT'],
    ['/etc/hostname', 22, 'setns: EINVAL'],
  ] as const) {
    await rejectsWith(t, IpvsClient.open({ netns: path }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      errno,
      command: null,
      field: 'netns',
      message: `netns: '${path}' is not a network namespace file (${why})`,
    }, path);
  }
});
