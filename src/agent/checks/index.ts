/**
 * The agent's health-check engine: probes of every kind, the monitor that
 * schedules them and keeps verdicts, and the validator of `check:` objects.
 *
 * ```ts
 * import { HealthMonitor, parseCheckConfig } from './checks';
 * const r = parseCheckConfig({ type: 'http', path: '/healthz' }, 'services[0].realServers[0].check');
 * if (!r.ok) throw new Error(r.errors.map((e) => `${e.path}: ${e.message}`).join('\n'));
 * const monitor = new HealthMonitor({ concurrency: 1024 });
 * monitor.on('change', (c) => log.info(c, 'health changed'));
 * monitor.update([{ id: 'web1', target: { address: '198.51.100.11', port: 80 }, check: r.check }]);
 * ```
 * @module
 */
export * from './types';
export { HealthMonitor, DEFAULT_CONCURRENCY, scheduleKey, systemClock } from './monitor';
export type { Clock, HealthMonitorOptions, MonitorStats } from './monitor';
export { CheckConfigError, CHECK_DEFAULTS, CHECK_TYPES, checkFromConfig, parseCheckConfig } from './config';
export type { CheckConfigIssue, CheckConfigResult } from './config';
export { createProber, probeTarget } from './probe';
export type { Prober } from './attempt';
export { formatDuration, parseDuration } from './duration';
