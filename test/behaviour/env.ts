/**
 * What a behaviour test needs from the IPVS it runs against. Two
 * implementations: the fake kernel on the host (test/unit/behaviour-fake.test.ts)
 * and Linux inside User-Mode Linux (test/kernel/lib/behaviour.ts). The tests
 * (suite.ts) are written once against this, so the fake cannot drift from
 * the kernel.
 */
import { IpvsClient } from '../../src/index';
import { FakeKernel, type FakeKernelOptions } from '../../src/testing';

/** A fresh, empty IPVS with a client on it. */
export interface BehaviourContext {
  client: IpvsClient;
  /** Another client on the same IPVS (closed by the caller). */
  openClient(): Promise<IpvsClient>;
  /** A network interface that exists there, for sync daemons. */
  interface: string;
  /**
   * Waits until sync daemons just started can be stopped promptly. Linux
   * (6.1, UML) can take many seconds to answer DEL_DAEMON for a master
   * started less than about a second before (docs/kernel-notes.md); the
   * fake needs no wait.
   */
  settleDaemons(): Promise<void>;
}

/** Where behaviour tests run. */
export interface BehaviourEnv {
  /** `fake` or `linux`, for test names. */
  readonly name: string;
  /** Runs `fn` against a fresh, empty IPVS; cleans up afterwards. */
  run<T>(fn: (ctx: BehaviourContext) => Promise<T>): Promise<T>;
}

/**
 * The fake kernel dressed as the kernel tests' namespace (test/kernel/harness.ts):
 * `lo` and `dummy0` holding 198.51.100.1/24, 192.0.2.1/24 and 2001:db8:1::1/64.
 */
export const NAMESPACE_LIKE: FakeKernelOptions = {
  interfaces: { lo: 65536, dummy0: 1500 },
  routable: (a) => a !== '198.51.100.255' && a !== '192.0.2.255',
  localAddresses: ['127.0.0.1', '::1', '198.51.100.1', '192.0.2.1', '2001:db8:1::1'],
};

/** The fake kernel as a behaviour environment: a new FakeKernel per test. */
export const fakeEnv: BehaviourEnv = {
  name: 'fake',
  async run(fn) {
    const kernel = new FakeKernel(NAMESPACE_LIKE);
    const client = await IpvsClient.open(kernel.clientOptions());
    try {
      return await fn({
        client,
        openClient: () => IpvsClient.open(kernel.clientOptions()),
        interface: 'dummy0',
        settleDaemons: async () => undefined,
      });
    } finally {
      client.close();
    }
  },
};
