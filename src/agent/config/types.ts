/**
 * The agent's configuration after validation: every default filled in, every
 * address canonical, every time in milliseconds. The raw file format (YAML or
 * JSON) is described in docs/agent.md; `validate.ts` turns one into the other.
 * @module
 */
import type { DestinationConfig, DestinationKey, ServiceConfig, ServiceKey } from '../../ipvs/model';
import type { CheckSpec } from '../checks/types';

/** What happens to a real server whose check fails. */
export type FailurePolicy =
  /** Delete it from the service (ipvsadm -d): keepalived's default. */
  | 'remove'
  /** Keep it with weight 0: no new connections, established ones continue (keepalived's inhibit_on_failure). */
  | 'inhibit';

/** How long a leaving real server may keep its connections. */
export interface DrainSettings {
  /** TCP/SCTP (and fwmark): delete once active + inactive connections reach 0, or after this long. */
  timeoutMs: number;
  /**
   * UDP and one-packet services: their connection entries only expire on a
   * timer (300 s by default), so waiting for zero is pointless; delete after
   * this long (0: at once).
   */
  udpTimeoutMs: number;
}

/** Quorum of a service: the healthy real servers' total weight it needs. */
export interface QuorumSettings {
  /** Minimum total configured weight of healthy real servers. */
  min: number;
  /**
   * Hysteresis: quorum is lost below `min - hysteresis` and regained at
   * `min + hysteresis` or more, so a flapping server does not flap the service.
   */
  hysteresis: number;
  /** Below quorum: only alert (log, metric), or also replace the whole set by the sorry server. */
  onLost: 'alert' | 'sorry';
}

/** A real server as configured. */
export interface RealServerSpec {
  /** Canonical key (inet_ntop address). */
  key: DestinationKey;
  /** `198.51.100.11:80` (for logs, metrics, subscription ids). */
  id: string;
  /** Complete configuration with the configured weight (health may lower it to 0). */
  config: DestinationConfig;
  /** The check that decides its health; undefined when unchecked (always healthy). */
  check?: CheckSpec;
  /** Where it is in the file, e.g. `services[0].realServers[2]`. */
  path: string;
}

/** The sorry server: used only while no real server is healthy (or on quorum loss, when asked). */
export interface SorryServerSpec {
  key: DestinationKey;
  id: string;
  config: DestinationConfig;
}

/** A virtual service as configured. */
export interface ServiceSpec {
  /** Canonical key. */
  key: ServiceKey;
  /** `serviceId(key)`: `service tcp 192.0.2.10:80`, the identity used everywhere. */
  id: string;
  /** A label for logs and metrics: the configured `name`, else the key text (`tcp 192.0.2.10:80`). */
  name: string;
  /** Complete kernel configuration. */
  config: ServiceConfig;
  failurePolicy: FailurePolicy;
  drain: DrainSettings;
  realServers: RealServerSpec[];
  sorryServer?: SorryServerSpec;
  quorum?: QuorumSettings;
  /** Where it is in the file, e.g. `services[0]`. */
  path: string;
}

/** The whole validated configuration. */
export interface AgentConfig {
  /**
   * Time between reconciliation passes. Health changes trigger a pass at
   * once; the periodic pass repairs changes made behind the agent's back and
   * finishes drains.
   */
  intervalMs: number;
  /** The top-level drain settings (each service may override them; retired services use these). */
  drain: DrainSettings;
  services: ServiceSpec[];
}
