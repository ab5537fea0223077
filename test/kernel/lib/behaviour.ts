// The behaviour suite (test/behaviour/suite.ts) against Linux: each test in a
// fresh network namespace. The same suite runs against the fake kernel on
// the host (test/unit/behaviour-fake.test.ts), so the two cannot drift.
import t from 'tap';
import { IpvsClient } from '../../../src/index';
import { behaviourSuite } from '../../behaviour/suite';
import { withNetns } from '../harness';

// Starting and stopping a sync daemon take rtnl_lock, which the kernel also
// holds while it tears down the namespaces of earlier tests; the client gets
// more than its default 10 s for that.
const options = { timeoutMs: 120_000 };

behaviourSuite(t, {
  name: 'linux',
  run: (fn) =>
    withNetns(
      (ns) =>
        fn({
          client: ns.client,
          openClient: () => IpvsClient.open({ ...options, netns: ns.path }),
          interface: 'dummy0',
          // See BehaviourContext.settleDaemons: 1.5 s was always enough in UML.
          settleDaemons: () => new Promise((resolve) => setTimeout(resolve, 2000)),
        }),
      options,
    ),
});
