/**
 * Graceful drain: a real server the agent no longer wants (it left the
 * configuration, the sorry server is no longer needed, its service is being
 * retired, or it was added behind the agent's back) first goes to weight 0 —
 * the kernel schedules nothing new to it while established connections carry
 * on — and is deleted when its active + inactive connections reach 0 or its
 * deadline passes.
 *
 * UDP and one-packet services drain on a short bound only: their connection
 * entries are timers (300 s for UDP by default), not sessions, so "zero
 * connections" would mean waiting for the timer.
 *
 * Records carry absolute deadlines and are persisted (state.ts), so an agent
 * restarted mid-drain finishes the drain on time instead of forgetting it.
 * @module
 */
import type { DestinationKey, ServiceKey } from '../ipvs/model';
import type { DrainSettings } from './config/types';

/** A drain in progress. */
export interface DrainRecord {
  service: ServiceKey;
  /** `serviceId(service)`. */
  serviceId: string;
  destination: DestinationKey;
  /** `198.51.100.11:80`. */
  destinationId: string;
  /** ms since the epoch. */
  startedAt: number;
  /** ms since the epoch: deleted then, connections or not. */
  deadline: number;
  /** Why it drains (`left the configuration`, …). */
  reason: string;
}

/** The key of a drain record in maps: service id and destination id. */
export function drainKey(serviceId: string, destinationId: string): string {
  return `${serviceId}|${destinationId}`;
}

/** True for services whose connection entries are timers rather than sessions. */
export function drainsOnTimer(service: ServiceKey, onePacket: boolean): boolean {
  return onePacket || ('protocol' in service && service.protocol === 'udp');
}

/** What to do with a real server that is not wanted. */
export type DrainDecision =
  /** Delete it now; `why` says why (no connections, deadline passed, timer-based service with no drain time). */
  | { action: 'delete'; why: 'no connections' | 'drain timeout' | 'no drain for UDP'; record?: DrainRecord }
  /** Keep it at weight 0; `record` is new when `started`. */
  | { action: 'hold'; record: DrainRecord; started: boolean };

/**
 * Decides the fate of an unwanted real server.
 * @param existing its drain record, if one is running
 * @param connections active + inactive connections now (undefined: unknown, e.g. already gone)
 */
export function decideDrain(args: {
  existing: DrainRecord | undefined;
  connections: number;
  now: number;
  settings: DrainSettings;
  timerBased: boolean;
  make: () => Omit<DrainRecord, 'startedAt' | 'deadline'>;
}): DrainDecision {
  const { existing, connections, now, settings, timerBased } = args;
  if (existing) {
    if (connections === 0) return { action: 'delete', why: 'no connections', record: existing };
    if (now >= existing.deadline) return { action: 'delete', why: 'drain timeout', record: existing };
    return { action: 'hold', record: existing, started: false };
  }
  const bound = timerBased ? settings.udpTimeoutMs : settings.timeoutMs;
  if (timerBased && bound === 0) return { action: 'delete', why: 'no drain for UDP' };
  if (connections === 0) return { action: 'delete', why: 'no connections' };
  if (bound === 0) return { action: 'delete', why: 'drain timeout' };
  return { action: 'hold', record: { ...args.make(), startedAt: now, deadline: now + bound }, started: true };
}
