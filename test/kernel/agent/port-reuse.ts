/**
 * Direct routing, a real server deleted (the agent's `remove` policy): what
 * becomes of a new connection whose client port is one a recent connection
 * to that server used. The director sees only the client's half of a DR
 * connection, so a closed one waits in FIN_WAIT (2 minutes) rather than
 * TIME_WAIT; with the kernel's default `conn_reuse_mode=1` a SYN that finds
 * such an entry is not scheduled afresh, and its real server being gone, the
 * packet is dropped unless `expire_nodest_conn` is set. Found by the
 * failover test, which lost a request this way once in a few loaded runs.
 */
import t from 'tap';
import { burst } from '../../../src/lab/procs';
import { withLab } from '../agent-harness';

const VIP = 'http://192.0.2.10/';
const PORT = 40000;

t.test('DR: a new connection from the port of one to a deleted real server is dropped while its FIN_WAIT entry lasts, scheduled afresh with expire_nodest_conn', async (t) => {
  for (const expire of [0, 1]) {
    await withLab(t, 'dr', async (lab) => {
      lab.director(`sysctl -qw net.ipv4.vs.expire_nodest_conn=${expire}`);
      lab.director('ipvsadm -A -t 192.0.2.10:80 -s rr && ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.12:80 -g');
      const entry = (): string | undefined =>
        lab
          .director('ipvsadm -Lcn')
          .split('\n')
          .find((l) => l.includes(` 192.0.2.100:${PORT} `));
      const [first] = burst(lab.net, VIP, 1, { localPort: PORT });
      t.match(first, { server: 'web2', port: PORT }, `expire_nodest_conn=${expire}: served by web2 from port ${PORT}`);
      t.match(entry(), /FIN_WAIT\s+192\.0\.2\.100:40000\s+192\.0\.2\.10:80\s+192\.0\.2\.12:80/, 'the closed connection waits in FIN_WAIT on the director');
      lab.director('ipvsadm -a -t 192.0.2.10:80 -r 192.0.2.11:80 -g && ipvsadm -d -t 192.0.2.10:80 -r 192.0.2.12:80');
      const [again] = burst(lab.net, VIP, 1, { localPort: PORT, timeoutMs: 3000 });
      if (expire === 0) {
        t.match(again, { error: 'TIMEOUT', port: PORT }, 'a new connection from the same port gets no answer in 3 s (SYN and its retry dropped)');
        t.match(entry(), /FIN_WAIT\s+\S+\s+\S+\s+192\.0\.2\.12:80/, 'the old entry, to the deleted server, is still there');
        const [other] = burst(lab.net, VIP, 1);
        t.match(other, { server: 'web1' }, 'a connection from another port is served by web1');
      } else {
        t.match(again, { server: 'web1', port: PORT }, 'a new connection from the same port is scheduled afresh: web1');
        t.ok((again?.ms ?? Infinity) < 1000, `at once (${again?.ms} ms, no SYN retry)`);
      }
    });
  }
});
