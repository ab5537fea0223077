/**
 * Opening IPVS the way ipvsadm does: connect and read GET_INFO; if IPVS is
 * not there, run `/sbin/modprobe -- ip_vs` once and try again; if it still
 * is not there, print ipvsadm's message and exit 2. Loading the module is
 * the command's policy, never the library's.
 * @module
 */
import { IpvsClient } from '../ipvs/client';
import { IpvsError, IpvsNotAvailableError } from '../ipvs/errors';
import type { Info } from '../ipvs/model';
import { Exit, type Io } from './io';
import { ipvsStrerror, ERRNO } from './strerror';

/** An open client and the kernel's IPVS info. */
export interface Session {
  client: IpvsClient;
  info: Info;
}

async function tryOpen(): Promise<Session | IpvsError> {
  let client: IpvsClient | undefined;
  try {
    // A 1 MiB receive buffer rather than the library's 4 MiB: a command
    // touches its buffer's pages once, and under UML each page first touched
    // costs ~50 µs. Measured: a 1% restore's read of 5,000 dumps took 2,070-
    // 2,350 page faults with 4 MiB, 1,430-1,610 with 1 MiB (and as few with
    // 256 KiB, in more round trips); a save 3,080-3,140 against 2,900-2,920.
    client = await IpvsClient.open({ receiveBuffer: 1 << 20 });
    const info = await client.info();
    return { client, info };
  } catch (e) {
    client?.close();
    if (e instanceof IpvsError) return e;
    throw e;
  }
}

/** Opens IPVS or throws {@link Exit} after printing ipvsadm's "Can't initialize ipvs" message. */
export async function openSession(io: Io): Promise<Session> {
  let r = await tryOpen();
  if (r instanceof IpvsError) {
    let loaded = false;
    try {
      // ipvsadm lets modprobe's own complaints reach stderr. node:child_process
      // is loaded only here: it costs every command ~35 ms of start-up under UML.
      const { execFileSync } = require('node:child_process') as typeof import('node:child_process');
      execFileSync('/sbin/modprobe', ['--', 'ip_vs'], { stdio: ['ignore', 'inherit', 'inherit'] });
      loaded = true;
    } catch {
      loaded = false;
    }
    if (loaded) r = await tryOpen();
  }
  if (r instanceof IpvsError) {
    // Without the netlink family ipvsadm falls back to the socket option
    // interface, which answers ENOPROTOOPT when the module is missing.
    const errno = r instanceof IpvsNotAvailableError ? ERRNO.ENOPROTOOPT : r.errno || ERRNO.ENOPROTOOPT;
    io.err(
      `Can't initialize ipvs: ${ipvsStrerror(errno, 'init')}\nAre you sure that IP Virtual Server is built in the kernel or as module?\n`,
    );
    throw new Exit(2);
  }
  if (r.info.versionCode < 0x010104) {
    const v = (c: number): string => `${(c >> 16) & 0xff}.${(c >> 8) & 0xff}.${c & 0xff}`;
    io.err(
      `Warning: IPVS version mismatch: \n  Kernel compiled with IPVS version ${v(r.info.versionCode)}\n  ipvsadm v1.31  requires minimum IPVS version 1.1.4\n\n`,
    );
  }
  return r;
}
