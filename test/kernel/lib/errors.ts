/**
 * Every error of the errno table (reference §4.2, libipvs's §6.8 meanings)
 * triggered on the real kernel, arriving as its typed error: class, stable
 * code, errno, command, and a message that names the objects.
 *
 * Where the client refuses a value before sending it (a weight of 2^31, an
 * IPv6 netmask of 0...), the test proves both sides: the client's own
 * refusal (errno 0, nothing sent, the field named) and the kernel's answer
 * to the same request sent raw below the checks (test/kernel/raw.ts), given
 * its meaning by errorFromKernel.
 */
import t from 'tap';
import { join } from 'node:path';
import {
  AddressFamilyError,
  DaemonNotRunningError,
  DaemonRunningError,
  DestinationExistsError,
  DestinationNotFoundError,
  ERROR_CODES,
  InvalidArgumentError,
  IpvsClient,
  IpvsNotAvailableError,
  NoSuchDeviceError,
  NotSupportedError,
  OutOfRangeError,
  PermissionError,
  SchedulerNotFoundError,
  ServiceExistsError,
  ServiceNotFoundError,
  completeDestinationConfig,
  completeServiceConfig,
  normalizeDestinationKey,
  normalizeServiceKey,
  type AddressServiceKey,
  type DestinationKey,
  type ServiceKey,
} from '../../../src/index';
import { destinationAttrs, destinationKeyAttrs, serviceAttrs, serviceKeyAttrs } from '../../../src/ipvs/codec';
import type { AttrValues } from '../../../src/netlink/attributes';
import { checkError, refusedBeforeSending, rejectsWith } from '../expect';
import { withNetns } from '../harness';
import { ipvsLoaded, restoreIpvs, unloadIpvs } from '../modules';
import { IPVS_CMD, RawIpvs, hostU32 } from '../raw';

const VS: AddressServiceKey = { protocol: 'tcp', address: '203.0.113.10', port: 80 };
const VS_TEXT = 'service tcp 203.0.113.10:80';
const VS6: AddressServiceKey = { protocol: 'tcp', address: '2001:db8::10', port: 80 };
const RS: DestinationKey = { address: '198.51.100.2', port: 80 };
const RS6: DestinationKey = { address: '2001:db8:1::2', port: 80 };

/** Attributes for raw requests, built with the library's own encoders. */
function svcId(key: ServiceKey) {
  return serviceKeyAttrs(normalizeServiceKey(key));
}
function svcFull(key: ServiceKey, family: 'ipv4' | 'ipv6', config = {}) {
  return serviceAttrs(normalizeServiceKey(key), completeServiceConfig(family, config));
}
function destFull(key: DestinationKey, config = {}) {
  return destinationAttrs(normalizeDestinationKey(key), completeDestinationConfig(config));
}
async function withRaw<T>(netns: string, fn: (raw: RawIpvs) => Promise<T>, timeoutMs?: number): Promise<T> {
  const raw = await RawIpvs.open(netns, timeoutMs);
  try {
    return await fn(raw);
  } finally {
    raw.close();
  }
}

t.test('EEXIST on NEW_SERVICE: ServiceExistsError, and the first service stays as it was', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    const cases: [ServiceKey, string][] = [
      [VS, `${VS_TEXT} already exists`],
      [{ protocol: 'udp', address: '2001:db8::10', port: 53 }, 'service udp [2001:db8::10]:53 already exists'],
      [{ fwmark: 7, family: 'ipv6' }, 'service fwmark 7 ipv6 already exists'],
    ];
    for (const [key, message] of cases) {
      await c.addService(key, { scheduler: 'rr' });
      await rejectsWith(t, c.addService(key, { scheduler: 'wrr' }), ServiceExistsError, {
        code: ERROR_CODES.SERVICE_EXISTS,
        errno: 17,
        command: 'IPVS_CMD_NEW_SERVICE',
        message,
      }, message);
    }
    const save = await ns.sh('ipvsadm -S -n');
    t.equal(save.match(/-s rr/g)?.length, 3, 'every service kept its first scheduler');
    t.notMatch(save, /wrr/, 'the refused adds changed nothing');
  });
});

t.test('ENOENT on NEW/SET_SERVICE: SchedulerNotFoundError for a missing scheduler or persistence engine', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await rejectsWith(t, c.addService(VS, { scheduler: 'nosuch' }), SchedulerNotFoundError, {
      code: ERROR_CODES.SCHEDULER_NOT_FOUND,
      errno: 2,
      command: 'IPVS_CMD_NEW_SERVICE',
      message: "scheduler 'nosuch' is not available (no kernel module ip_vs_nosuch)",
    }, 'add with an unknown scheduler');
    await rejectsWith(t, c.addService(VS, { scheduler: 'rr', persistent: true, persistenceEngine: 'nosuchpe' }), SchedulerNotFoundError, {
      code: ERROR_CODES.SCHEDULER_NOT_FOUND,
      errno: 2,
      command: 'IPVS_CMD_NEW_SERVICE',
      message: /persistence engine 'nosuchpe' is not available .*ip_vs_pe_nosuchpe/,
    }, 'add with an unknown persistence engine');
    t.equal(await ns.sh('ipvsadm -S -n'), '', 'nothing was created');

    await c.addService(VS, { scheduler: 'rr' });
    await rejectsWith(t, c.editService(VS, { scheduler: 'nosuch' }), SchedulerNotFoundError, {
      code: ERROR_CODES.SCHEDULER_NOT_FOUND,
      errno: 2,
      command: 'IPVS_CMD_SET_SERVICE',
      message: "scheduler 'nosuch' is not available (no kernel module ip_vs_nosuch)",
    }, 'edit to an unknown scheduler');
    await rejectsWith(t, c.editService(VS, { persistenceEngine: 'nosuchpe' }), SchedulerNotFoundError, {
      code: ERROR_CODES.SCHEDULER_NOT_FOUND,
      errno: 2,
      command: 'IPVS_CMD_SET_SERVICE',
      message: /persistence engine 'nosuchpe'/,
    }, 'edit to an unknown persistence engine');
    t.equal(await ns.sh('ipvsadm -S -n'), '-A -t 203.0.113.10:80 -s rr\n', 'the service kept its scheduler');
  });
});

t.test('ESRCH: ServiceNotFoundError from every command on a missing service', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService({ ...VS, port: 81 }); // another service: the table is not empty
    const cases: [string, () => Promise<unknown>, string][] = [
      ['getService', () => c.getService(VS), 'IPVS_CMD_GET_SERVICE'],
      ['editService (reads first)', () => c.editService(VS, { scheduler: 'rr' }), 'IPVS_CMD_GET_SERVICE'],
      ['replaceService', () => c.replaceService(VS, completeServiceConfig('ipv4', { scheduler: 'rr' })), 'IPVS_CMD_SET_SERVICE'],
      ['deleteService', () => c.deleteService(VS), 'IPVS_CMD_DEL_SERVICE'],
      ['zero one service', () => c.zero(VS), 'IPVS_CMD_ZERO'],
      ['addDestination', () => c.addDestination(VS, RS), 'IPVS_CMD_NEW_DEST'],
      ['replaceDestination', () => c.replaceDestination(VS, RS, completeDestinationConfig({})), 'IPVS_CMD_SET_DEST'],
      ['deleteDestination', () => c.deleteDestination(VS, RS), 'IPVS_CMD_DEL_DEST'],
      // GET_DEST alone ends empty for a missing service; the client asks GET_SERVICE to tell.
      ['listDestinations', () => c.listDestinations(VS), 'IPVS_CMD_GET_SERVICE'],
      ['editDestination (reads first)', () => c.editDestination(VS, RS, { weight: 2 }), 'IPVS_CMD_GET_SERVICE'],
    ];
    for (const [label, f, command] of cases) {
      await rejectsWith(t, f(), ServiceNotFoundError, {
        code: ERROR_CODES.SERVICE_NOT_FOUND,
        errno: 3,
        command,
        message: `${VS_TEXT} does not exist`,
      }, label);
    }
    const fw: ServiceKey = { fwmark: 9, family: 'ipv4' };
    await rejectsWith(t, c.deleteService(fw), ServiceNotFoundError, {
      code: ERROR_CODES.SERVICE_NOT_FOUND,
      errno: 3,
      command: 'IPVS_CMD_DEL_SERVICE',
      message: 'service fwmark 9 does not exist',
    }, 'deleteService (fwmark)');
    await withRaw(ns.path, async (raw) => {
      t.same(await raw.dump(IPVS_CMD.GET_DEST, { service: svcId(VS) }), [], 'the kernel: GET_DEST on a missing service is an empty dump, not an error');
      const e = await raw.refuse(IPVS_CMD.SET_SERVICE, { service: svcFull(VS, 'ipv4') }, { service: VS_TEXT });
      checkError(t, e, ServiceNotFoundError, { code: ERROR_CODES.SERVICE_NOT_FOUND, errno: 3, command: 'IPVS_CMD_SET_SERVICE' }, 'raw SET_SERVICE');
    });
  });
});

t.test('EEXIST on NEW_DEST: DestinationExistsError, and the destination stays as it was', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    await c.addDestination(VS, RS, { weight: 3 });
    await rejectsWith(t, c.addDestination(VS, RS, { weight: 5, forwarding: 'masq' }), DestinationExistsError, {
      code: ERROR_CODES.DESTINATION_EXISTS,
      errno: 17,
      command: 'IPVS_CMD_NEW_DEST',
      message: `destination 198.51.100.2:80 already exists in ${VS_TEXT}`,
    }, 'IPv4');
    await c.addService(VS6);
    await c.addDestination(VS6, RS6);
    await rejectsWith(t, c.addDestination(VS6, RS6), DestinationExistsError, {
      code: ERROR_CODES.DESTINATION_EXISTS,
      errno: 17,
      command: 'IPVS_CMD_NEW_DEST',
      message: 'destination [2001:db8:1::2]:80 already exists in service tcp [2001:db8::10]:80',
    }, 'IPv6');
    t.match(await ns.sh('ipvsadm -S -n'), '-a -t 203.0.113.10:80 -r 198.51.100.2:80 -g -w 3\n', 'the first destination kept its settings');
  });
});

t.test('ENOENT on SET/DEL_DEST: DestinationNotFoundError', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    await c.addDestination(VS, RS);
    const missing: DestinationKey = { address: '198.51.100.3', port: 80 };
    const otherPort: DestinationKey = { address: '198.51.100.2', port: 8080 };
    const want = (command: string, d = '198.51.100.3:80') => ({
      code: ERROR_CODES.DESTINATION_NOT_FOUND,
      errno: 2,
      command,
      message: `destination ${d} does not exist in ${VS_TEXT}`,
    });
    await rejectsWith(t, c.replaceDestination(VS, missing, completeDestinationConfig({})), DestinationNotFoundError, want('IPVS_CMD_SET_DEST'), 'replaceDestination');
    await rejectsWith(t, c.deleteDestination(VS, missing), DestinationNotFoundError, want('IPVS_CMD_DEL_DEST'), 'deleteDestination');
    await rejectsWith(t, c.deleteDestination(VS, otherPort), DestinationNotFoundError, want('IPVS_CMD_DEL_DEST', '198.51.100.2:8080'), 'same address, other port');
    // editDestination reads first and raises the same error itself, as the kernel's SET_DEST would.
    await rejectsWith(t, c.editDestination(VS, missing, { weight: 4 }), DestinationNotFoundError, want('IPVS_CMD_SET_DEST'), 'editDestination');
    await withRaw(ns.path, async (raw) => {
      const e = await raw.refuse(IPVS_CMD.SET_DEST, { service: svcId(VS), dest: destFull(missing, { weight: 4 }) }, { service: VS_TEXT, destination: 'destination 198.51.100.3:80' });
      checkError(t, e, DestinationNotFoundError, want('IPVS_CMD_SET_DEST'), 'raw SET_DEST: the kernel says ENOENT');
    });
    t.equal(await ns.sh('ipvsadm -S -n | grep -c -- "-a "'), '1\n', 'the existing destination is still there');
  });
});

t.test('sync daemons: EEXIST, ESRCH and ENODEV', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    for (const state of ['master', 'backup'] as const) {
      await rejectsWith(t, c.stopDaemon(state), DaemonNotRunningError, {
        code: ERROR_CODES.DAEMON_NOT_RUNNING,
        errno: 3,
        command: 'IPVS_CMD_DEL_DAEMON',
        message: `no ${state} sync daemon is running`,
      }, `stop ${state} when none runs`);
    }
    await c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 4 });
    await rejectsWith(t, c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 5 }), DaemonRunningError, {
      code: ERROR_CODES.DAEMON_RUNNING,
      errno: 17,
      command: 'IPVS_CMD_NEW_DAEMON',
      message: 'the master sync daemon is already running',
    }, 'start master twice');
    t.same((await c.listDaemons()).map((d) => [d.state, d.syncId]), [['master', 4]], 'the first daemon runs unchanged');
    await c.stopDaemon('master');
    t.same(await c.listDaemons(), [], 'stopped');
    await rejectsWith(t, c.startDaemon({ state: 'backup', interface: 'nosuch0', syncId: 1 }), NoSuchDeviceError, {
      code: ERROR_CODES.NO_SUCH_DEVICE,
      errno: 19,
      command: 'IPVS_CMD_NEW_DAEMON',
      message: "interface 'nosuch0' does not exist",
    }, 'start on a missing interface');
  });
});

t.test('stopDaemon right after startDaemon: answered every time', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    // The kernel sends no answer to a DEL_DAEMON that stops a sync thread
    // before it ever ran (kthread_stop() gives -EINTR, which netlink takes as
    // "answer later"); the client must not wait for one (see stopDaemon).
    const unanswered = await withRaw(ns.path, async (raw) => {
      let n = 0;
      for (let i = 0; i < 5; i++) {
        if ((await raw.send(IPVS_CMD.NEW_DAEMON, { daemon: { state: 1, mcastIfn: 'dummy0', syncId: 1 } })) !== null) continue;
        try {
          await raw.send(IPVS_CMD.DEL_DAEMON, { daemon: { state: 1 } });
        } catch {
          n++; // no answer in time: the kernel's silence
        }
      }
      return n;
    }, 1000);
    t.comment(`raw DEL_DAEMON with an ACK request right after NEW_DAEMON: ${unanswered} of 5 never answered`);
    t.same(await c.listDaemons(), [], 'the raw DEL_DAEMONs stopped the daemon all the same');
    let failures = 0;
    for (let i = 0; i < 20; i++) {
      const state = i % 2 ? 'backup' : 'master';
      await c.startDaemon({ state, interface: 'dummy0', syncId: i });
      try {
        await c.stopDaemon(state);
      } catch (e) {
        failures++;
        t.comment(`stop ${state}: ${(e as Error).message}`);
      }
    }
    t.equal(failures, 0, '20 start/stop pairs, each stop answered');
    t.same(await c.listDaemons(), [], 'no daemon left running');
  }, { timeoutMs: 3000 });
});

t.test('EINVAL: a new real server must be unicast (or local)', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    await c.addService(VS6);
    const refused: [AddressServiceKey, string, string][] = [
      [VS, '0.0.0.0', '0.0.0.0:80'],
      [VS, '224.0.0.1', '224.0.0.1:80'],
      [VS, '255.255.255.255', '255.255.255.255:80'],
      [VS, '198.51.100.255', '198.51.100.255:80'], // the broadcast address of dummy0's 198.51.100.1/24
      [VS6, 'ff02::1', '[ff02::1]:80'],
      [VS6, 'fe80::5', '[fe80::5]:80'], // link-local and not ours
      [VS6, '::', '[::]:80'],
    ];
    for (const [svc, address, text] of refused) {
      const svcText = svc === VS ? VS_TEXT : 'service tcp [2001:db8::10]:80';
      await rejectsWith(t, c.addDestination(svc, { address, port: 80 }), InvalidArgumentError, {
        code: ERROR_CODES.INVALID_ARGUMENT,
        errno: 22,
        command: 'IPVS_CMD_NEW_DEST',
        message: new RegExp(`^the kernel refused destination ${text.replace(/[.[\]]/g, '\\$&')} for ${svcText.replace(/[.[\]]/g, '\\$&')} as invalid`),
      }, `real server ${address}`);
    }
    // What the kernel does accept: any unicast address, routed or not, and local ones.
    for (const [svc, address] of [[VS, '203.0.113.99'], [VS, '127.0.0.1'], [VS, '198.51.100.1'], [VS6, '::1'], [VS6, '2001:db8:ffff::9']] as const) {
      await c.addDestination(svc, { address, port: 80 });
    }
    const listed = (await c.listDestinations(VS)).concat(await c.listDestinations(VS6)).map((d) => d.key.address).sort();
    t.same(listed, ['127.0.0.1', '198.51.100.1', '2001:db8:ffff::9', '203.0.113.99', '::1'], 'unrouted, loopback and local unicast addresses are accepted');
  });
});

t.test('EINVAL: a real server of the other family needs tunnel forwarding and no sync daemon', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    await refusedBeforeSending(t, () => c.addDestination(VS, RS6, { forwarding: 'masq' }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      field: 'destination.address',
      message: /destination \[2001:db8:1::2\]:80 is ipv6 but service tcp 203\.0\.113\.10:80 is ipv4: mixed address families need tunnel forwarding/,
    }, 'the client refuses a mixed-family NAT server');
    await withRaw(ns.path, async (raw) => {
      for (const fwd of ['masq', 'route', 'local'] as const) {
        const e = await raw.refuse(IPVS_CMD.NEW_DEST, { service: svcId(VS), dest: destFull(RS6, { forwarding: fwd }) }, {
          service: VS_TEXT,
          destination: 'destination [2001:db8:1::2]:80',
        });
        checkError(t, e, InvalidArgumentError, { code: ERROR_CODES.INVALID_ARGUMENT, errno: 22, command: 'IPVS_CMD_NEW_DEST' }, `the kernel refuses mixed ${fwd}`);
      }
    });
    await c.addDestination(VS, RS6, { forwarding: 'tunnel' });
    t.match(await ns.sh('ipvsadm -S -n'), '-a -t 203.0.113.10:80 -r [2001:db8:1::2]:80 -i -w 1 --tun-type ipip', 'a mixed-family tunnel is accepted');
    await rejectsWith(t, c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 1 }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      errno: 22,
      command: 'IPVS_CMD_NEW_DAEMON',
      message: /^the kernel refused to start the sync daemon/,
    }, 'no sync daemon while a mixed-family server exists');
    await c.deleteDestination(VS, RS6);
    await c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 1 });
    await rejectsWith(t, c.addDestination(VS, RS6, { forwarding: 'tunnel' }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      errno: 22,
      command: 'IPVS_CMD_NEW_DEST',
    }, 'no mixed-family server while a sync daemon runs');
    await c.stopDaemon('master');
  });
});

t.test('EINVAL: an IPv6 service netmask must be a prefix length 1..128, persistent or not', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    for (const netmask of [0, 129]) {
      await refusedBeforeSending(t, () => c.addService(VS6, { netmask }), InvalidArgumentError, {
        code: ERROR_CODES.INVALID_ARGUMENT,
        field: 'config.netmask',
        message: /^config\.netmask: must be an integer from 1 to 128/,
      }, `the client refuses prefix ${netmask}`);
    }
    await withRaw(ns.path, async (raw) => {
      const ctx = { service: 'service tcp [2001:db8::10]:80' };
      const base = svcFull(VS6, 'ipv6', { scheduler: 'rr' });
      for (const [label, netmask] of [['0', hostU32(0)], ['129', hostU32(129)], ['0xffffffff', hostU32(0xffffffff)], ['absent', undefined]] as const) {
        const service = { ...base };
        if (netmask) service.netmask = netmask;
        else delete service.netmask;
        const e = await raw.refuse(IPVS_CMD.NEW_SERVICE, { service }, ctx);
        checkError(t, e, InvalidArgumentError, {
          code: ERROR_CODES.INVALID_ARGUMENT,
          errno: 22,
          command: 'IPVS_CMD_NEW_SERVICE',
          message: /an IPv6 persistence netmask must be a prefix length 1\.\.128/,
        }, `the kernel refuses a non-persistent IPv6 service with netmask ${label}`);
      }
      t.equal(await raw.send(IPVS_CMD.NEW_SERVICE, { service: { ...base, netmask: hostU32(1) } }), null, 'prefix 1 is accepted');
      const e = await raw.refuse(IPVS_CMD.SET_SERVICE, { service: { ...base, netmask: hostU32(0) } }, ctx);
      checkError(t, e, InvalidArgumentError, { code: ERROR_CODES.INVALID_ARGUMENT, errno: 22, command: 'IPVS_CMD_SET_SERVICE' }, 'the kernel refuses prefix 0 on edit too');
    });
  });
});

t.test('EINVAL: a GUE tunnel needs a port', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    await refusedBeforeSending(t, () => c.addDestination(VS, RS, { forwarding: 'tunnel', tunnelType: 'gue' }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      field: 'config.tunnelPort',
      message: 'config.tunnelPort: a GUE tunnel needs a port (1..65535)',
    }, 'the client refuses GUE without a port');
    await withRaw(ns.path, async (raw) => {
      const ctx = { service: VS_TEXT, destination: 'destination 198.51.100.2:80' };
      const gue0 = { ...destFull(RS, { forwarding: 'tunnel' }), tunType: 1, tunPort: 0 };
      // NEW_DEST first; then SET_DEST on the same server, added properly in between.
      for (const [cmd, name] of [[IPVS_CMD.NEW_DEST, 'NEW_DEST'], [IPVS_CMD.SET_DEST, 'SET_DEST']] as const) {
        if (cmd === IPVS_CMD.SET_DEST) await c.addDestination(VS, RS, { forwarding: 'tunnel', tunnelType: 'gue', tunnelPort: 6080 });
        checkError(t, await raw.refuse(cmd, { service: svcId(VS), dest: gue0 }, ctx), InvalidArgumentError, {
          code: ERROR_CODES.INVALID_ARGUMENT,
          errno: 22,
          command: `IPVS_CMD_${name}`,
          message: /a GUE tunnel needs a port/,
        }, `the kernel refuses ${name}`);
      }
    });
    t.match(await ns.sh('ipvsadm -S -n'), '--tun-type gue --tun-port 6080', 'the GUE server kept its port');
  });
});

t.test('EINVAL: a sync daemon group must be a multicast address', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    for (const group of ['192.0.2.1', '2001:db8::1']) {
      await rejectsWith(t, c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 1, group }), InvalidArgumentError, {
        code: ERROR_CODES.INVALID_ARGUMENT,
        errno: 22,
        command: 'IPVS_CMD_NEW_DAEMON',
        message: /the multicast group must be a multicast address/,
      }, `group ${group}`);
    }
    t.same(await c.listDaemons(), [], 'nothing started');
    await c.startDaemon({ state: 'master', interface: 'dummy0', syncId: 1, group: '239.1.2.3' });
    t.equal((await c.listDaemons())[0]?.group, '239.1.2.3', 'a multicast group is accepted');
    await c.stopDaemon('master');
  });
});

t.test('EINVAL: timeouts the kernel cannot hold, and requests missing what the kernel requires', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    // The kernel keeps timeouts in jiffies: it refuses more than INT_MAX/HZ seconds.
    await rejectsWith(t, c.setTimeouts({ tcp: 0x7fffffff }), InvalidArgumentError, {
      code: ERROR_CODES.INVALID_ARGUMENT,
      errno: 22,
      command: 'IPVS_CMD_SET_CONFIG',
      message: 'the kernel refused the timeouts as invalid (too large)',
    }, 'a tcp timeout of 2^31-1 s');
    t.same(await c.getTimeouts(), { tcp: 900, tcpFin: 120, udp: 300 }, 'the timeouts are unchanged (the kernel defaults)');
    await c.addService(VS);
    await withRaw(ns.path, async (raw) => {
      const svc = svcFull(VS, 'ipv4');
      const incomplete: [string, number, AttrValues][] = [
        ['NEW_SERVICE without a service', IPVS_CMD.NEW_SERVICE, {}],
        ['NEW_SERVICE without SCHED_NAME', IPVS_CMD.NEW_SERVICE, { service: { ...svc, port: 82, schedName: undefined } }],
        ['NEW_SERVICE without FLAGS', IPVS_CMD.NEW_SERVICE, { service: { ...svc, port: 82, flags: undefined } }],
        ['NEW_SERVICE without TIMEOUT', IPVS_CMD.NEW_SERVICE, { service: { ...svc, port: 82, timeout: undefined } }],
        ['NEW_SERVICE without an address', IPVS_CMD.NEW_SERVICE, { service: { ...svc, addr: undefined } }],
        ['NEW_DEST without WEIGHT', IPVS_CMD.NEW_DEST, { service: svcId(VS), dest: { ...destFull(RS), weight: undefined } }],
        ['NEW_DEST without a destination', IPVS_CMD.NEW_DEST, { service: svcId(VS) }],
        ['DEL_DEST without a port', IPVS_CMD.DEL_DEST, { service: svcId(VS), dest: { ...destinationKeyAttrs(normalizeDestinationKey(RS)), port: undefined } }],
        ['NEW_DAEMON without SYNC_ID', IPVS_CMD.NEW_DAEMON, { daemon: { state: 1, mcastIfn: 'dummy0' } }],
      ];
      for (const [label, cmd, attrs] of incomplete) {
        const e = await raw.send(cmd, attrs);
        t.equal(e?.code, 'EINVAL', label);
      }
    });
  });
});

t.test('ERANGE: a weight of 2^31 or more, a lower threshold above the upper one', async (t) => {
  await withNetns(async (ns) => {
    const c = ns.client;
    await c.addService(VS);
    const tooBig: [string, object, string][] = [
      ['weight 2^31', { weight: 0x80000000 }, 'config.weight'],
      ['lower 6 > upper 5', { upperThreshold: 5, lowerThreshold: 6 }, 'config.lowerThreshold'],
      ['lower 1 with upper 0 (no limit)', { upperThreshold: 0, lowerThreshold: 1 }, 'config.lowerThreshold'],
    ];
    await withRaw(ns.path, async (raw) => {
      const ctx = { service: VS_TEXT, destination: 'destination 198.51.100.2:80' };
      for (const [label, cfg, field] of tooBig) {
        await refusedBeforeSending(t, () => c.addDestination(VS, RS, cfg), InvalidArgumentError, { code: ERROR_CODES.INVALID_ARGUMENT, field }, `the client refuses ${label}`);
        const wire = { ...destFull(RS) };
        const o = cfg as { weight?: number; upperThreshold?: number; lowerThreshold?: number };
        if (o.weight !== undefined) wire.weight = o.weight;
        if (o.upperThreshold !== undefined) wire.uThresh = o.upperThreshold;
        if (o.lowerThreshold !== undefined) wire.lThresh = o.lowerThreshold;
        const e = await raw.refuse(IPVS_CMD.NEW_DEST, { service: svcId(VS), dest: wire }, ctx);
        checkError(t, e, OutOfRangeError, {
          code: ERROR_CODES.OUT_OF_RANGE,
          errno: 34,
          command: 'IPVS_CMD_NEW_DEST',
          message: /^the kernel refused destination 198\.51\.100\.2:80 of service tcp 203\.0\.113\.10:80: weight must be 0\.\.2147483647/,
        }, `the kernel refuses ${label} on NEW_DEST`);
      }
      await c.addDestination(VS, RS, { weight: 0x7fffffff, upperThreshold: 10, lowerThreshold: 10 });
      const e = await raw.refuse(IPVS_CMD.SET_DEST, { service: svcId(VS), dest: { ...destFull(RS), weight: 0xffffffff } }, ctx);
      checkError(t, e, OutOfRangeError, { code: ERROR_CODES.OUT_OF_RANGE, errno: 34, command: 'IPVS_CMD_SET_DEST' }, 'the kernel refuses weight 2^32-1 on SET_DEST');
    });
    const [d] = await c.listDestinations(VS);
    t.same([d?.config.weight, d?.config.upperThreshold, d?.config.lowerThreshold], [0x7fffffff, 10, 10], 'weight 2^31-1 and equal thresholds are accepted and read back');
    t.match(await ns.sh('ipvsadm -S -n'), '-w 2147483647', 'ipvsadm shows the largest weight');
  });
});

t.test('EAFNOSUPPORT and EOPNOTSUPP', async (t) => {
  await withNetns(async (ns) => {
    await withRaw(ns.path, async (raw) => {
      const e = await raw.refuse(IPVS_CMD.NEW_SERVICE, { service: { ...svcFull(VS, 'ipv4'), af: 7 } }, { service: VS_TEXT });
      checkError(t, e, AddressFamilyError, {
        code: ERROR_CODES.ADDRESS_FAMILY,
        errno: 97,
        command: 'IPVS_CMD_NEW_SERVICE',
        message: /does not support this address family for service tcp 203\.0\.113\.10:80/,
      }, 'address family 7');
      // genetlink looks an op up by do/dump; the wrong mode or an unknown command is EOPNOTSUPP.
      const getDestDo = await raw.refuse(IPVS_CMD.GET_DEST, { service: svcId(VS) });
      checkError(t, getDestDo, NotSupportedError, { code: ERROR_CODES.NOT_SUPPORTED, errno: 95, command: 'IPVS_CMD_GET_DEST' }, 'GET_DEST as a do request');
      const unknown = await raw.refuse(99, {});
      checkError(t, unknown, NotSupportedError, { code: ERROR_CODES.NOT_SUPPORTED, errno: 95, command: 'IPVS_CMD_99' }, 'an unknown command');
      await t.rejects(raw.dump(IPVS_CMD.GET_INFO, {}), { code: 'EOPNOTSUPP' }, 'GET_INFO as a dump');
    });
  });
});

t.test('extended ACK text is kept where the kernel gives one', async (t) => {
  await withNetns(async (ns) => {
    await withRaw(ns.path, async (raw) => {
      // The daemon nest and the top level are parsed with extack; the
      // service and destination nests are not (reference §1.3).
      const daemon = await raw.refuse(IPVS_CMD.NEW_DAEMON, { daemon: { state: 1, mcastIfn: 'x'.repeat(20), syncId: 1 } }, { daemon: 'master' });
      checkError(t, daemon, InvalidArgumentError, {
        code: ERROR_CODES.INVALID_ARGUMENT,
        errno: 22,
        command: 'IPVS_CMD_NEW_DAEMON',
        extack: 'Attribute failed policy validation',
        message: 'the kernel refused to start the sync daemon: the multicast group must be a multicast address, and no real server may use a different address family than its service (kernel: Attribute failed policy validation)',
      }, 'an interface name too long for the daemon policy');
      const short = await raw.refuse(IPVS_CMD.SET_CONFIG, { unknown: [{ type: 4, data: Buffer.from([1, 0]) }] });
      checkError(t, short, OutOfRangeError, {
        code: ERROR_CODES.OUT_OF_RANGE,
        errno: 34,
        command: 'IPVS_CMD_SET_CONFIG',
        extack: 'Attribute failed policy validation',
      }, 'a 2-byte TIMEOUT_TCP');
      await ns.client.addService(VS);
      const nested = await raw.send(IPVS_CMD.NEW_DEST, { service: svcId(VS), dest: { ...destFull(RS), weight: 0x80000000 } });
      t.equal(nested?.code, 'ERANGE', 'a destination nest error');
      t.equal(nested?.extack, undefined, 'carries no extended ACK text');
    });
  });
});

t.test('EPERM: PermissionError without CAP_NET_ADMIN, listing included', async (t) => {
  await withNetns(async (ns) => {
    await ns.sh('ipvsadm -A -t 203.0.113.10:80 -s rr');
    const script = join(__dirname, '..', 'no-net-admin.js');
    const out = await ns.sh(`setpriv --inh-caps=-net_admin --bounding-set=-net_admin ${process.execPath} ${script}`);
    const r = JSON.parse(out) as Record<string, { ok: boolean; class?: string; code?: string; errno?: number; command?: string; message?: string }> & { capEff: string };
    const NET_ADMIN = 12n;
    t.equal((BigInt(`0x${r.capEff}`) >> NET_ADMIN) & 1n, 0n, `the script ran without CAP_NET_ADMIN (CapEff ${r.capEff})`);
    t.same(r.open, { ok: true }, 'opening a client needs no privilege (nlctrl)');
    for (const [op, command] of [['listServices', 'IPVS_CMD_GET_SERVICE'], ['info', 'IPVS_CMD_GET_INFO'], ['addService', 'IPVS_CMD_NEW_SERVICE']] as const) {
      t.match(r[op], {
        ok: false,
        class: PermissionError.name,
        code: ERROR_CODES.PERMISSION,
        errno: 1,
        command,
        message: /CAP_NET_ADMIN/,
      }, `${op} is refused with EPERM`);
    }
    t.equal(await ns.sh('ipvsadm -S -n'), '-A -t 203.0.113.10:80 -s rr\n', 'nothing changed');
  });
});

t.test('no ip_vs module: IpvsNotAvailableError', async (t) => {
  t.ok(ipvsLoaded(), 'ip_vs is loaded before');
  const modprobe = await unloadIpvs();
  try {
    t.notOk(ipvsLoaded(), 'ip_vs and its users are unloaded, autoloading is off');
    await rejectsWith(t, IpvsClient.open(), IpvsNotAvailableError, {
      code: ERROR_CODES.NOT_AVAILABLE,
      errno: 2,
      command: null,
      message: 'the kernel has no IPVS: the ip_vs module is not loaded; load it with `modprobe ip_vs`',
    }, 'open in the initial namespace');
    await rejectsWith(t, withNetns(async () => undefined), IpvsNotAvailableError, {
      code: ERROR_CODES.NOT_AVAILABLE,
      errno: 2,
      message: /^the kernel has no IPVS \(network namespace \/run\/netns\/[^)]+\): the ip_vs module is not loaded/,
    }, 'open in a namespace names it');
    t.notOk(ipvsLoaded(), 'the library did not load the module itself');
  } finally {
    restoreIpvs(modprobe);
  }
  t.ok(ipvsLoaded(), 'ip_vs is back for the tests that follow');
  const c = await IpvsClient.open();
  t.same(await c.listServices(), [], 'and answers');
  c.close();
});
