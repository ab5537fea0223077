/**
 * Health-check specifications and results: the contract between the check
 * engine (src/agent/checks/) and the agent (configuration, reconciler).
 * @module
 */

/** Settings every check kind has. Times are in milliseconds. */
export interface CheckCommon {
  /** Time between probes (default 2000). */
  intervalMs: number;
  /** A probe that takes longer fails (default 1000). */
  timeoutMs: number;
  /** Consecutive successes that turn a down target up (default 2). */
  rise: number;
  /** Consecutive failures that turn an up target down (default 3). */
  fall: number;
  /** State before the first verdict (default 'down': a new server must prove itself). */
  initial: 'up' | 'down';
  /** Probe this port instead of the real server's own (default: the real server's port). */
  port?: number;
  /** Probe this address instead of the real server's own (default: the real server's address). */
  address?: string;
}

/** HTTP or HTTPS request check. */
export interface HttpCheck extends CheckCommon {
  kind: 'http' | 'https';
  /** Default 'GET'. */
  method: string;
  /** Default '/'. */
  path: string;
  /** Host header (default: the target address). */
  host?: string;
  /** Accepted status codes (default [200]). Ranges are expanded by the config loader. */
  expectStatus: number[];
  /** A regular expression the body must match (first 64 KiB). */
  expectBody?: string;
  /** HTTPS: verify the certificate chain and name (default true). */
  tlsVerify: boolean;
  /** HTTPS: SNI server name (default: host, else none for an IP). */
  sni?: string;
}

/** TCP connect check: healthy when the handshake completes. */
export interface TcpCheck extends CheckCommon {
  kind: 'tcp';
}

/** UDP check: send a payload, expect a reply (optionally matching a pattern). */
export interface UdpCheck extends CheckCommon {
  kind: 'udp';
  /** Payload to send; `hex:` prefix for bytes, else UTF-8 text. */
  send: string;
  /** Regular expression the reply (latin1) must match; any reply when absent. */
  expect?: string;
}

/** DNS check: a query the server must answer. */
export interface DnsCheck extends CheckCommon {
  kind: 'dns';
  /** Name to query (default '.'). */
  query: string;
  /** Record type (default 'A'). */
  type: 'A' | 'AAAA' | 'NS' | 'SOA' | 'TXT' | 'CNAME' | 'MX' | 'PTR' | 'SRV' | 'ANY';
  /** Accepted response codes (default ['NOERROR']). */
  expectRcode: string[];
}

/** A program run without a shell; exit 0 is healthy. */
export interface ExecCheck extends CheckCommon {
  kind: 'exec';
  /** argv[0] is the program. `{address}` and `{port}` in any argument are replaced. */
  argv: string[];
}

/** Any check. */
export type CheckSpec = HttpCheck | TcpCheck | UdpCheck | DnsCheck | ExecCheck;

/** Where a probe goes. */
export interface ProbeTarget {
  address: string;
  port: number;
}

/** One probe's outcome. */
export interface ProbeResult {
  ok: boolean;
  /** Wall time of the probe. */
  latencyMs: number;
  /** Why it failed (or a short success note), in words: "connect ECONNREFUSED", "status 503". */
  reason: string;
}

/** A change of a target's health verdict. */
export interface HealthChange {
  /** The subscriber id given to the monitor. */
  id: string;
  healthy: boolean;
  /** The probe that tipped it. */
  result: ProbeResult;
}

/** One thing to keep checked: a subscriber id, where to probe, and how. */
export interface Subscription {
  /** Chosen by the caller, unique (e.g. `tcp/203.0.113.10:80/198.51.100.11:80`). */
  id: string;
  target: ProbeTarget;
  check: CheckSpec;
}

/** A subscription's current verdict. */
export interface Health {
  healthy: boolean;
  /** When the verdict last changed (ms since the epoch). */
  since: number;
  /** The latest probe, once there is one. */
  last?: ProbeResult;
}

/**
 * What the agent needs from the check engine. Probes are shared: every
 * subscription with the same target and the same check settings is served
 * by one probe schedule, and all of them see the same verdicts.
 */
export interface HealthSource {
  /**
   * Replaces the set of subscriptions. New probe schedules start after a
   * random fraction of their interval (jitter); schedules nobody subscribes
   * to any more stop. A subscription that stays keeps its verdict.
   */
  update(subscriptions: readonly Subscription[]): void;
  /** The verdict of a subscription, or undefined when it is not subscribed. */
  health(id: string): Health | undefined;
  /** A verdict changed (after rise/fall). Called once per subscription id. */
  on(event: 'change', listener: (change: HealthChange) => void): this;
  /** Every probe result, for metrics (once per probe, with every subscriber id it serves). */
  on(event: 'probe', listener: (ids: readonly string[], result: ProbeResult) => void): this;
  /** Stops every schedule and waits for probes in flight. */
  stop(): Promise<void>;
}
