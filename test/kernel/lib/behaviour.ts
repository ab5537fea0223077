// The behaviour suite (test/behaviour/suite.ts) against Linux: each test in a
// fresh network namespace. The same suite runs against the fake kernel on
// the host (test/unit/behaviour-fake.test.ts), so the two cannot drift.
import t from 'tap';
import { IpvsClient } from '../../../src/index';
import { behaviourSuite } from '../../behaviour/suite';
import { withNetns } from '../harness';

behaviourSuite(t, {
  name: 'linux',
  run: (fn) =>
    withNetns((ns) => fn({ client: ns.client, openClient: () => IpvsClient.open({ netns: ns.path }), interface: 'dummy0' })),
});
