/**
 * Network namespaces for the kernel benchmarks (inside the UML guest): a
 * fresh one per load, with lo up and a dummy interface holding
 * 198.51.100.1/24 (the real servers' subnet), and its removal.
 * @module
 */
import { execFileSync } from 'node:child_process';

/** Creates namespace `name`; returns its path (for `IpvsClient.open({ netns })`). */
export function createNetns(name: string): string {
  execFileSync('sh', [
    '-c',
    [`ip netns add ${name}`, `ip -n ${name} link set lo up`, `ip -n ${name} link add dummy0 type dummy`, `ip -n ${name} addr add 198.51.100.1/24 dev dummy0`, `ip -n ${name} link set dummy0 up`].join(' && '),
  ]);
  return `/run/netns/${name}`;
}

/**
 * Flushes the namespace's IPVS table and deletes it. The flush is at once,
 * unlike netns teardown, and matters: the kernel's service hash table is one
 * for all namespaces, so a table left behind slows every later load
 * (docs/kernel-notes.md).
 */
export function disposeNetns(name: string): void {
  execFileSync('sh', ['-c', `ip netns exec ${name} ipvsadm -C && ip netns del ${name}`]);
}
