/**
 * The agent's persistent state (`<state dir>/state.json`): which services it
 * owns and which drains are running. Both outlive the process on purpose:
 *
 * - owned services: a service removed from the configuration while the agent
 *   was stopped is still the agent's to retire; without the record it would
 *   look foreign and be left behind forever;
 * - drains: a restarted agent finishes a drain at its original deadline.
 *
 * Written atomically, only when it changes.
 * @module
 */
import { mkdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { ServiceKey } from '../ipvs/model';
import { normalizeServiceKey, normalizeDestinationKey } from '../ipvs/codec';
import { serviceId } from '../ipvs/plan';
import { formatAddrPort } from '../ipvs/address';
import type { DrainRecord } from './drain';
import { writeFileAtomic } from './files';

/** What state.json holds. */
export interface AgentState {
  /** Every service the agent owns (configured or being retired). */
  owned: ServiceKey[];
  drains: DrainRecord[];
}

/** The state file name inside the state directory. */
export const STATE_FILE = 'state.json';

/** Reads and writes the state file; without a directory it keeps nothing (dry runs, tests). */
export class StateStore {
  private last = '';

  /** @param dir the state directory (created when missing), or undefined for none */
  constructor(readonly dir: string | undefined) {}

  /** The state file's path, when there is a directory. */
  get file(): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, STATE_FILE);
  }

  /**
   * Loads the state. A missing file is an empty state. A damaged file is set
   * aside (renamed `state.json.damaged-<time>`) and reported through
   * `onDamaged`: refusing to start over it would take the director down
   * for the sake of drains.
   */
  async load(onDamaged?: (why: string, movedTo: string) => void): Promise<AgentState> {
    const file = this.file;
    if (!file) return { owned: [], drains: [] };
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { owned: [], drains: [] };
      throw e;
    }
    try {
      const state = parseState(text);
      this.last = JSON.stringify(state, null, 2);
      return state;
    } catch (e) {
      const moved = `${file}.damaged-${Date.now()}`;
      await rename(file, moved);
      onDamaged?.((e as Error).message, moved);
      return { owned: [], drains: [] };
    }
  }

  /** Saves the state when it differs from what was last loaded or saved. Returns true when written. */
  async save(state: AgentState): Promise<boolean> {
    if (!this.dir || !this.file) return false;
    const text = JSON.stringify({ version: 1, ...state }, null, 2);
    if (text === this.last) return false;
    await mkdir(this.dir, { recursive: true, mode: 0o750 });
    await writeFileAtomic(this.file, `${text}\n`, 0o640);
    this.last = text;
    return true;
  }
}

/** Parses state.json, checking every record (a hand-edited file must not crash a pass). */
export function parseState(text: string): AgentState {
  const raw = JSON.parse(text) as { version?: unknown; owned?: unknown; drains?: unknown };
  if (raw === null || typeof raw !== 'object' || raw.version !== 1) throw new Error('not a version 1 state file');
  if (!Array.isArray(raw.owned) || !Array.isArray(raw.drains)) throw new Error('owned and drains must be lists');
  const owned = raw.owned.map((k, i) => normalizeServiceKey(k as ServiceKey, `owned[${i}]`).key);
  const drains = raw.drains.map((d: unknown, i): DrainRecord => {
    const r = d as Partial<DrainRecord>;
    if (r === null || typeof r !== 'object') throw new Error(`drains[${i}] is not an object`);
    const service = normalizeServiceKey(r.service as ServiceKey, `drains[${i}].service`).key;
    const destination = normalizeDestinationKey(r.destination as DrainRecord['destination'], `drains[${i}].destination`).key;
    for (const f of ['startedAt', 'deadline'] as const) {
      if (typeof r[f] !== 'number' || !Number.isFinite(r[f])) throw new Error(`drains[${i}].${f} must be a time`);
    }
    return {
      service,
      serviceId: serviceId(service),
      destination,
      destinationId: formatAddrPort(destination.address, destination.port),
      startedAt: r.startedAt as number,
      deadline: r.deadline as number,
      reason: typeof r.reason === 'string' ? r.reason : 'left the configuration',
    };
  });
  return { owned, drains };
}
