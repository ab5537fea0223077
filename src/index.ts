/**
 * `ipvs`: Linux Virtual Server for Node.
 *
 * ```ts
 * import { IpvsClient } from 'ipvs';
 * const ipvs = await IpvsClient.open();
 * await ipvs.addService({ protocol: 'tcp', address: '203.0.113.10', port: 80 }, { scheduler: 'rr' });
 * ```
 * @module
 */
export { IpvsClient, InvalidOperationsError } from './ipvs/client';
export type { ApplyResult, EachRuleOptions, IpvsClientOptions, Operation, ProcReader } from './ipvs/client';
export * from './ipvs/model';
export * from './ipvs/errors';
export { addressFamily, formatAddress, formatAddrPort, normalizeAddress, parseAddress } from './ipvs/address';
export type { Family } from './ipvs/address';
export {
  completeDestinationConfig,
  completeServiceConfig,
  comparableFlags,
  comparableServiceConfig,
  defaultNetmask,
  destinationKeyText,
  normalizeDestinationKey,
  normalizeServiceKey,
  schedFlagBits,
  schedFlagNames,
  serviceKeyText,
  DEFAULT_PERSISTENCE_TIMEOUT,
} from './ipvs/codec';
export { parseConnections, parseTotals } from './ipvs/proc';
export { planChanges, sameDestinationConfig, sameServiceConfig, serviceId } from './ipvs/plan';
export type { Plan, PlanOptions, PlanSummary } from './ipvs/plan';
export type { Transport, SocketOptions } from './netlink/transport';
export { NetlinkError, NetlinkSocketError, NetlinkTimeoutError } from './netlink/errors';
