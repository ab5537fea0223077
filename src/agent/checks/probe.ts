/**
 * From a check and a target to a prober of the right kind.
 * @module
 */
import type { Prober } from './attempt';
import { dnsProber } from './dns';
import { execProber } from './exec';
import { httpProber } from './http';
import { tcpProber } from './tcp';
import type { CheckSpec, ProbeTarget } from './types';
import { udpProber } from './udp';

/** Where a check on `target` actually goes: the check's `address`/`port` override the target's. */
export function probeTarget(target: ProbeTarget, check: CheckSpec): ProbeTarget {
  return { address: check.address ?? target.address, port: check.port ?? target.port };
}

/**
 * Builds the prober for `check` on `target` (after the check's own address
 * and port overrides). What can be prepared once (request bytes, patterns,
 * argv) is prepared here; each call of the prober runs one probe within
 * `check.timeoutMs` and resolves, never rejects. Throws a TypeError when the
 * check cannot be run at all (a pattern that is not a regular expression):
 * checks from {@link parseCheckConfig} never do.
 */
export function createProber(target: ProbeTarget, check: CheckSpec): Prober {
  const to = probeTarget(target, check);
  switch (check.kind) {
    case 'http':
    case 'https':
      return httpProber(to, check);
    case 'tcp':
      return tcpProber(to, check);
    case 'udp':
      return udpProber(to, check);
    case 'dns':
      return dnsProber(to, check);
    case 'exec':
      return execProber(to, check);
  }
}
