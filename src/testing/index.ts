/**
 * `ipvs/testing`: a fake IPVS kernel for testing code that drives IPVS,
 * without root and without IPVS in the kernel.
 *
 * ```ts
 * import { IpvsClient } from 'ipvs';
 * import { FakeKernel } from 'ipvs/testing';
 *
 * const kernel = new FakeKernel();
 * const client = await IpvsClient.open(kernel.clientOptions());
 * await client.addService({ protocol: 'tcp', address: '203.0.113.10', port: 80 }, { scheduler: 'rr' });
 * kernel.rules(); // what the kernel holds now
 * ```
 *
 * The fake speaks netlink bytes through the client's `Transport` boundary
 * and follows the kernel's rules (errno per command, whole-entry edits,
 * flag merging, newest-first real servers, the HASHED flag in dumps, 32- and
 * 64-bit statistics). The library's behaviour suite runs against it and
 * against Linux itself, so the two agree.
 * @module
 */
export { FakeKernel, IN_TREE_SCHEDULERS } from './kernel';
export type { CounterTarget, FakeConnection, FakeCounters, FakeKernelOptions } from './kernel';
export { FakeTransport } from './transport';
