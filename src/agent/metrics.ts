/**
 * The agent's Prometheus metrics: its own counters (passes, their duration,
 * kernel changes, netlink errors, reloads, probes) kept here, and the
 * kernel's per-service and per-real-server counters read at scrape time.
 *
 * Kernel counters are 64-bit (bigint) and printed exactly: a float would
 * lose precision past 2^53 bytes.
 * @module
 */
import type { ServiceEntry, Stats, Rates } from '../ipvs/model';
import { serviceId } from '../ipvs/plan';
import { formatAddrPort } from '../ipvs/address';
import type { ProbeResult } from './checks/types';
import type { AgentConfig, RealServerSpec, ServiceSpec } from './config/types';
import type { DesiredService } from './desired';
import type { PassReport } from './reconciler';

/** Reconcile-duration histogram buckets, in seconds. */
const BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** What a scrape renders besides the agent's own counters. */
export interface ScrapeInput {
  /** The owned services as the kernel reports them now. */
  entries: ServiceEntry[];
  config: AgentConfig;
  latest: ReadonlyMap<string, DesiredService>;
  /** true/false, or null when no verdict yet. */
  health: (s: ServiceSpec, rs: RealServerSpec) => boolean | null;
  probe: (s: ServiceSpec, rs: RealServerSpec) => ProbeResult | undefined;
  drains: number;
  scrapeError?: Error;
}

/** Escapes a label value (backslash, quote, newline). */
function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function labels(l: Record<string, string>): string {
  const parts = Object.entries(l).map(([k, v]) => `${k}="${esc(v)}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

/** A Prometheus text exposition being built: HELP/TYPE once per family, samples after. */
class Exposition {
  private families = new Map<string, { help: string; type: string; samples: string[] }>();

  sample(name: string, type: 'counter' | 'gauge' | 'histogram', help: string, l: Record<string, string>, value: number | bigint, suffix = ''): void {
    let f = this.families.get(name);
    if (!f) {
      f = { help, type, samples: [] };
      this.families.set(name, f);
    }
    f.samples.push(`${name}${suffix}${labels(l)} ${typeof value === 'bigint' ? value.toString() : formatNumber(value)}`);
  }

  /** Declares a family with no samples yet (so HELP/TYPE appear even when empty). */
  declare(name: string, type: 'counter' | 'gauge' | 'histogram', help: string): void {
    if (!this.families.has(name)) this.families.set(name, { help, type, samples: [] });
  }

  text(): string {
    let out = '';
    for (const [name, f] of this.families) {
      out += `# HELP ${name} ${f.help}\n# TYPE ${name} ${f.type}\n`;
      for (const s of f.samples) out += `${s}\n`;
    }
    return out;
  }
}

function formatNumber(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

const STAT_METRICS: [keyof Stats, string, string][] = [
  ['conns', 'connections_total', 'Connections scheduled'],
  ['inPackets', 'packets_in_total', 'Packets in (client to real server)'],
  ['outPackets', 'packets_out_total', 'Packets out (real server to client; NAT only)'],
  ['inBytes', 'bytes_in_total', 'Bytes in'],
  ['outBytes', 'bytes_out_total', 'Bytes out (NAT only)'],
];
const RATE_METRICS: [keyof Rates, string, string][] = [
  ['cps', 'connections_per_second', "Connection rate (the kernel's 2 s estimator)"],
  ['inPps', 'packets_in_per_second', 'Incoming packet rate'],
  ['outPps', 'packets_out_per_second', 'Outgoing packet rate'],
  ['inBps', 'bytes_in_per_second', 'Incoming byte rate'],
  ['outBps', 'bytes_out_per_second', 'Outgoing byte rate'],
];

/** The agent's own counters, and the renderer. */
export class AgentMetrics {
  private passes = { ok: 0, failed: 0 };
  private durationBuckets = new Array<number>(BUCKETS.length).fill(0);
  private durationSum = 0;
  private durationCount = 0;
  private lastDuration = 0;
  private changes = new Map<string, number>();
  private netlinkErrors = 0;
  private reloads = { accepted: 0, refused: 0 };
  private probes = { ok: 0, failed: 0 };

  /** Records a pass. */
  pass(r: PassReport): void {
    if (r.error) this.passes.failed++;
    else this.passes.ok++;
    const s = r.durationMs / 1000;
    this.lastDuration = s;
    this.durationSum += s;
    this.durationCount++;
    BUCKETS.forEach((b, i) => {
      if (s <= b) this.durationBuckets[i] = (this.durationBuckets[i] as number) + 1;
    });
    if (!r.dryRun) {
      // Count applied changes per kind; refusals are netlink errors.
      const refused = new Set(r.refused);
      r.operations.forEach((op, i) => {
        if (!refused.has(i) && !r.error) this.changes.set(op.type, (this.changes.get(op.type) ?? 0) + 1);
      });
      this.netlinkErrors += r.refused.length;
      if (r.error) this.netlinkErrors++;
    }
  }

  /** Records a netlink error outside a pass (a scrape's read). */
  netlinkError(): void {
    this.netlinkErrors++;
  }

  /** Records a reload. */
  reload(accepted: boolean): void {
    if (accepted) this.reloads.accepted++;
    else this.reloads.refused++;
  }

  /** Records a probe. */
  probe(r: ProbeResult): void {
    if (r.ok) this.probes.ok++;
    else this.probes.failed++;
  }

  /** The whole exposition. */
  render(input: ScrapeInput): string {
    const e = new Exposition();
    const P = 'ipvs_agent_';
    e.sample(`${P}passes_total`, 'counter', 'Reconciliation passes', { result: 'ok' }, this.passes.ok);
    e.sample(`${P}passes_total`, 'counter', 'Reconciliation passes', { result: 'failed' }, this.passes.failed);
    let cum = 0;
    BUCKETS.forEach((b, i) => {
      cum = this.durationBuckets[i] as number;
      e.sample(`${P}reconcile_duration_seconds`, 'histogram', 'Duration of a reconciliation pass', { le: String(b) }, cum, '_bucket');
    });
    e.sample(`${P}reconcile_duration_seconds`, 'histogram', '', { le: '+Inf' }, this.durationCount, '_bucket');
    e.sample(`${P}reconcile_duration_seconds`, 'histogram', '', {}, this.durationSum, '_sum');
    e.sample(`${P}reconcile_duration_seconds`, 'histogram', '', {}, this.durationCount, '_count');
    e.sample(`${P}last_reconcile_duration_seconds`, 'gauge', 'Duration of the latest pass', {}, this.lastDuration);
    e.declare(`${P}kernel_changes_total`, 'counter', 'Kernel changes applied, by operation');
    for (const [op, n] of this.changes) e.sample(`${P}kernel_changes_total`, 'counter', '', { operation: op }, n);
    e.sample(`${P}netlink_errors_total`, 'counter', 'Kernel operations refused or failed (netlink errors)', {}, this.netlinkErrors);
    e.sample(`${P}reloads_total`, 'counter', 'Configuration reloads', { result: 'accepted' }, this.reloads.accepted);
    e.sample(`${P}reloads_total`, 'counter', 'Configuration reloads', { result: 'refused' }, this.reloads.refused);
    e.sample(`${P}probes_total`, 'counter', 'Health probes', { result: 'ok' }, this.probes.ok);
    e.sample(`${P}probes_total`, 'counter', 'Health probes', { result: 'failed' }, this.probes.failed);
    e.sample(`${P}draining_real_servers`, 'gauge', 'Real servers draining (weight 0, waiting for connections to end)', {}, input.drains);
    e.sample(`${P}scrape_error`, 'gauge', "1 when this scrape could not read the kernel's counters", {}, input.scrapeError ? 1 : 0);

    const kernel = new Map(input.entries.map((s) => [serviceId(s.key), s]));
    for (const spec of input.config.services) {
      const sl = { service: spec.name, vip: spec.id.replace(/^service /, '') };
      const k = kernel.get(spec.id);
      const d = input.latest.get(spec.id);
      e.sample(`${P}service_present`, 'gauge', 'Whether the service is in the kernel', sl, k ? 1 : 0);
      if (d?.quorumMet !== undefined) e.sample(`${P}service_quorum`, 'gauge', 'Whether the service has quorum', sl, d.quorumMet ? 1 : 0);
      e.sample(`${P}service_healthy_real_servers`, 'gauge', 'Healthy real servers of the service', sl, d?.healthyCount ?? 0);
      e.sample(`${P}service_sorry_server_active`, 'gauge', 'Whether the sorry server is in use', sl, d?.sorryActive ? 1 : 0);
      if (k) {
        for (const [f, n, h] of STAT_METRICS) e.sample(`${P}service_${n}`, 'counter', h, sl, k.stats[f]);
        for (const [f, n, h] of RATE_METRICS) e.sample(`${P}service_${n}`, 'gauge', h, sl, k.rates[f]);
      }
      const kd = new Map((k?.destinations ?? []).map((x) => [formatAddrPort(x.key.address, x.key.port), x]));
      for (const rs of spec.realServers) {
        const rl = { ...sl, real_server: rs.id };
        const h = input.health(spec, rs);
        e.declare(`${P}real_server_healthy`, 'gauge', 'Health verdict (1 up, 0 down; absent while unknown)');
        if (h !== null) e.sample(`${P}real_server_healthy`, 'gauge', '', rl, h ? 1 : 0);
        e.sample(`${P}real_server_configured_weight`, 'gauge', 'Weight in the configuration', rl, rs.config.weight);
        const probe = input.probe(spec, rs);
        if (probe) e.sample(`${P}check_latency_seconds`, 'gauge', 'Latency of the latest probe', rl, probe.latencyMs / 1000);
        const x = kd.get(rs.id);
        e.sample(`${P}real_server_present`, 'gauge', 'Whether the real server is in the kernel', rl, x ? 1 : 0);
        if (!x) continue;
        e.sample(`${P}real_server_weight`, 'gauge', 'Weight in the kernel', rl, x.config.weight);
        e.sample(`${P}real_server_active_connections`, 'gauge', 'Active (established) connections', rl, x.activeConns);
        e.sample(`${P}real_server_inactive_connections`, 'gauge', 'Inactive connections', rl, x.inactiveConns);
        for (const [f, n, hh] of STAT_METRICS) e.sample(`${P}real_server_${n}`, 'counter', hh, rl, x.stats[f]);
        for (const [f, n, hh] of RATE_METRICS) e.sample(`${P}real_server_${n}`, 'gauge', hh, rl, x.rates[f]);
      }
    }
    return e.text();
  }
}
