import t from 'tap';
import { withNetns } from '../harness';

t.test('a service and a real server reach the kernel and read back', async (t) => {
  await withNetns(async ({ client, sh }) => {
    const svc = { protocol: 'tcp' as const, address: '203.0.113.10', port: 80 };
    await client.addService(svc, { scheduler: 'rr' });
    await client.addDestination(svc, { address: '198.51.100.2', port: 80 }, { forwarding: 'masq', weight: 3 });
    t.equal(await sh('ipvsadm -S -n'), '-A -t 203.0.113.10:80 -s rr\n-a -t 203.0.113.10:80 -r 198.51.100.2:80 -m -w 3\n');
    const [s] = await client.snapshot();
    t.same(s?.key, svc);
    t.equal(s?.destinations[0]?.config.weight, 3);
  });
});
