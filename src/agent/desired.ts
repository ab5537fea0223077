/**
 * What the kernel should hold for one configured service, given the health
 * verdicts: configuration ∩ healthy, with the failure policy, the sorry
 * server and quorum applied. Pure: no I/O, no clock.
 *
 * Drains are not decided here: a real server that is not wanted at all is
 * simply absent, and the reconciler decides whether it leaves at once (failed
 * under policy `remove`) or drains (everything else).
 * @module
 */
import type { DestinationRule, ServiceRule } from '../ipvs/model';
import { addressFamily } from '../ipvs/address';
import type { QuorumSettings, RealServerSpec, ServiceSpec } from './config/types';

/** Health of one real server of one service, as the agent currently sees it. */
export type HealthOf = (service: ServiceSpec, rs: RealServerSpec) => boolean;

/** Why a real server is (or is not) in the desired set: the words logs use. */
export type DestinationReason =
  | 'healthy'
  | 'unchecked'
  | 'unhealthy: removed'
  | 'unhealthy: inhibited'
  | 'quorum lost: inhibited'
  | 'sorry server: no real server healthy'
  | 'sorry server: quorum lost';

/** The desired state of one configured service. */
export interface DesiredService {
  spec: ServiceSpec;
  /** The rule the kernel should hold (drains not included). */
  rule: ServiceRule;
  /** Destination ids (`198.51.100.11:80`) absent because they failed under policy `remove`: deleted at once, not drained. */
  failed: Set<string>;
  /** Why each destination of `rule` (and each of `failed`) is as it is. */
  reasons: Map<string, DestinationReason>;
  healthyCount: number;
  healthyWeight: number;
  /** Quorum state after this evaluation; undefined when the service has no quorum. */
  quorumMet?: boolean;
  /** True when the sorry server is in the set. */
  sorryActive: boolean;
}

/**
 * Quorum with hysteresis (keepalived's rule): lost when the healthy weight
 * falls below `min - hysteresis`, regained when it reaches
 * `min + hysteresis`. The first evaluation has no history: met iff the
 * weight reaches `min`.
 */
export function nextQuorum(previous: boolean | undefined, healthyWeight: number, q: QuorumSettings): boolean {
  if (previous === undefined) return healthyWeight >= q.min;
  if (previous) return healthyWeight >= q.min - q.hysteresis;
  return healthyWeight >= q.min + q.hysteresis;
}

function rule(spec: ServiceSpec, destinations: DestinationRule[]): ServiceRule {
  const family = 'fwmark' in spec.key ? spec.key.family : (addressFamily(spec.key.address) ?? 'ipv4');
  return { key: spec.key, family, config: spec.config, destinations };
}

function dest(key: DestinationRule['key'], config: DestinationRule['config']): DestinationRule {
  return { key, family: addressFamily(key.address) ?? 'ipv4', config };
}

/** Computes the desired state of one service. */
export function desiredService(spec: ServiceSpec, healthOf: HealthOf, previousQuorum: boolean | undefined): DesiredService {
  const reasons = new Map<string, DestinationReason>();
  const failed = new Set<string>();
  const up: RealServerSpec[] = [];
  let healthyWeight = 0;
  for (const rs of spec.realServers) {
    if (!rs.check || healthOf(spec, rs)) {
      up.push(rs);
      healthyWeight += rs.config.weight;
    }
  }
  const quorumMet = spec.quorum ? nextQuorum(previousQuorum, healthyWeight, spec.quorum) : undefined;
  const quorumDrop = quorumMet === false && spec.quorum?.onLost === 'sorry';
  const sorryActive = spec.sorryServer !== undefined && (up.length === 0 || quorumDrop);

  const destinations: DestinationRule[] = [];
  const upSet = new Set(up);
  for (const rs of spec.realServers) {
    if (upSet.has(rs)) {
      if (quorumDrop && sorryActive) {
        // Below quorum the sorry server takes the whole set; healthy servers
        // keep their established connections at weight 0.
        destinations.push(dest(rs.key, { ...rs.config, weight: 0 }));
        reasons.set(rs.id, 'quorum lost: inhibited');
      } else {
        destinations.push(dest(rs.key, rs.config));
        reasons.set(rs.id, rs.check ? 'healthy' : 'unchecked');
      }
    } else if (spec.failurePolicy === 'inhibit') {
      destinations.push(dest(rs.key, { ...rs.config, weight: 0 }));
      reasons.set(rs.id, 'unhealthy: inhibited');
    } else {
      failed.add(rs.id);
      reasons.set(rs.id, 'unhealthy: removed');
    }
  }
  if (sorryActive && spec.sorryServer) {
    destinations.push(dest(spec.sorryServer.key, spec.sorryServer.config));
    reasons.set(spec.sorryServer.id, up.length === 0 ? 'sorry server: no real server healthy' : 'sorry server: quorum lost');
  }
  const d: DesiredService = {
    spec,
    rule: rule(spec, destinations),
    failed,
    reasons,
    healthyCount: up.length,
    healthyWeight,
    sorryActive,
  };
  if (quorumMet !== undefined) d.quorumMet = quorumMet;
  return d;
}
