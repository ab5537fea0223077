// The behaviour suite (test/behaviour/suite.ts) against Linux: each test in a
// fresh network namespace. The same suite runs against the fake kernel on
// the host (test/unit/behaviour-fake.test.ts), so the two cannot drift.
import t from 'tap';
import { IpvsClient } from '../../../src/index';
import { behaviourSuite } from '../../behaviour/suite';
import { withNetns } from '../harness';

// Starting and stopping a sync daemon take rtnl_lock, which the kernel also
// holds while it tears down the namespaces of earlier tests; under UML with
// the host busy that wait has passed the client's default 10 s.
const options = { timeoutMs: 120_000 };

behaviourSuite(t, {
  name: 'linux',
  run: (fn) =>
    withNetns(
      (ns) => fn({ client: ns.client, openClient: () => IpvsClient.open({ ...options, netns: ns.path }), interface: 'dummy0' }),
      options,
    ),
});
