/**
 * IPVS errors by meaning.
 *
 * The kernel answers with bare errno numbers whose meaning depends on the
 * command: ENOENT is "scheduler not found" when adding a service but "no
 * such destination" when editing one. {@link errorFromKernel} follows
 * ipvsadm's libipvs table (`ipvs_strerror`) to pick the class, and every
 * error keeps the errno, the command and the kernel's extended-ACK text.
 *
 * Every class has a stable `code` (`ERR_IPVS_*`) to switch on.
 * @module
 */
import { errnoName } from '../netlink/errors';
import { commandName, IPVS_CMD } from './constants';

/** What the failed operation was about, in the user's words. */
export interface ErrorContext {
  /** The IPVS command number (IPVS_CMD_*). */
  command?: number;
  /** e.g. `service tcp 203.0.113.10:80`. */
  service?: string;
  /** e.g. `destination 198.51.100.2:80`. */
  destination?: string;
  /** Scheduler name involved (service add/edit). */
  scheduler?: string;
  /** Persistence engine involved (service add/edit). */
  persistenceEngine?: string;
  /** Sync daemon state involved. */
  daemon?: string;
  /** Sync daemon interface involved. */
  interface?: string;
}

/** Base class of every error the IPVS client raises. */
export class IpvsError extends Error {
  /** Stable code, e.g. `ERR_IPVS_SERVICE_NOT_FOUND`. */
  readonly code: string;
  /** Positive errno from the kernel (0 for errors raised before sending). */
  readonly errno: number;
  /** Symbolic errno, e.g. `ESRCH`. */
  readonly errnoName: string;
  /** The IPVS command, e.g. `IPVS_CMD_NEW_SERVICE` (when one was sent). */
  readonly command?: string;
  /** The kernel's extended-ACK message, when it gave one. */
  readonly extack?: string;
  /** The context the message was built from. */
  readonly context: ErrorContext;

  constructor(code: string, message: string, errno = 0, context: ErrorContext = {}, extack?: string) {
    super(extack ? `${message} (kernel: ${extack})` : message);
    this.name = new.target.name;
    this.code = code;
    this.errno = errno;
    this.errnoName = errno ? errnoName(errno) : '';
    if (context.command !== undefined) this.command = commandName(context.command);
    if (extack !== undefined) this.extack = extack;
    this.context = context;
  }
}

/** Adding a service that exists (EEXIST on NEW_SERVICE). */
export class ServiceExistsError extends IpvsError {}
/** The service does not exist (ESRCH). */
export class ServiceNotFoundError extends IpvsError {}
/** The scheduler (or persistence engine) module is not available (ENOENT on NEW/SET_SERVICE). */
export class SchedulerNotFoundError extends IpvsError {}
/** Adding a destination that exists (EEXIST on NEW_DEST). */
export class DestinationExistsError extends IpvsError {}
/** The destination does not exist (ENOENT on SET/DEL_DEST). */
export class DestinationNotFoundError extends IpvsError {}
/** Starting a sync daemon that runs already (EEXIST on NEW_DAEMON). */
export class DaemonRunningError extends IpvsError {}
/** Stopping a sync daemon that does not run (ESRCH on DEL_DAEMON). */
export class DaemonNotRunningError extends IpvsError {}
/** Not allowed: IPVS needs CAP_NET_ADMIN in the initial user namespace (EPERM). */
export class PermissionError extends IpvsError {}
/** The kernel has no IPVS (the generic netlink family is missing). */
export class IpvsNotAvailableError extends IpvsError {}
/** Rejected as invalid, by the kernel (EINVAL) or by checks before sending. */
export class InvalidArgumentError extends IpvsError {
  /** For checks before sending: which field, e.g. `destination.weight`. */
  readonly field?: string;
  constructor(code: string, message: string, errno = 0, context: ErrorContext = {}, extack?: string, field?: string) {
    super(code, message, errno, context, extack);
    if (field !== undefined) this.field = field;
  }
}
/** A weight or threshold out of the kernel's range (ERANGE). */
export class OutOfRangeError extends IpvsError {}
/** The address family is not supported (EAFNOSUPPORT: IPv6 disabled?). */
export class AddressFamilyError extends IpvsError {}
/** The named interface does not exist (ENODEV, sync daemons). */
export class NoSuchDeviceError extends IpvsError {}
/** The kernel does not support the operation (EOPNOTSUPP). */
export class NotSupportedError extends IpvsError {}
/** No reply from the kernel in time. */
export class IpvsTimeoutError extends IpvsError {}
/** Any other kernel error. */
export class KernelError extends IpvsError {}

/** The codes, one per class. */
export const ERROR_CODES = {
  SERVICE_EXISTS: 'ERR_IPVS_SERVICE_EXISTS',
  SERVICE_NOT_FOUND: 'ERR_IPVS_SERVICE_NOT_FOUND',
  SCHEDULER_NOT_FOUND: 'ERR_IPVS_SCHEDULER_NOT_FOUND',
  DESTINATION_EXISTS: 'ERR_IPVS_DESTINATION_EXISTS',
  DESTINATION_NOT_FOUND: 'ERR_IPVS_DESTINATION_NOT_FOUND',
  DAEMON_RUNNING: 'ERR_IPVS_DAEMON_RUNNING',
  DAEMON_NOT_RUNNING: 'ERR_IPVS_DAEMON_NOT_RUNNING',
  PERMISSION: 'ERR_IPVS_PERMISSION',
  NOT_AVAILABLE: 'ERR_IPVS_NOT_AVAILABLE',
  INVALID_ARGUMENT: 'ERR_IPVS_INVALID_ARGUMENT',
  OUT_OF_RANGE: 'ERR_IPVS_OUT_OF_RANGE',
  ADDRESS_FAMILY: 'ERR_IPVS_ADDRESS_FAMILY',
  NO_SUCH_DEVICE: 'ERR_IPVS_NO_SUCH_DEVICE',
  NOT_SUPPORTED: 'ERR_IPVS_NOT_SUPPORTED',
  TIMEOUT: 'ERR_IPVS_TIMEOUT',
  KERNEL: 'ERR_IPVS_KERNEL',
} as const;

/** An invalid argument found before anything was sent. */
export function invalidArgument(field: string, message: string, context: ErrorContext = {}): InvalidArgumentError {
  return new InvalidArgumentError(ERROR_CODES.INVALID_ARGUMENT, `${field}: ${message}`, 0, context, undefined, field);
}

/** Raised when the IPVS family cannot be found. */
export function ipvsNotAvailable(netns?: string): IpvsNotAvailableError {
  const where = netns ? ` (network namespace ${netns})` : '';
  return new IpvsNotAvailableError(
    ERROR_CODES.NOT_AVAILABLE,
    `the kernel has no IPVS${where}: the ip_vs module is not loaded; load it with \`modprobe ip_vs\``,
    2,
  );
}

const C = IPVS_CMD;

function the(ctx: ErrorContext): string {
  return ctx.service ?? 'the service';
}

/**
 * Gives a kernel errno its meaning for the command that got it.
 * Follows ipvsadm's `ipvs_strerror` table; see the module comment.
 */
export function errorFromKernel(errno: number, ctx: ErrorContext, extack?: string): IpvsError {
  const cmd = ctx.command ?? 0;
  const name = errnoName(errno);
  const svc = the(ctx);
  const dest = ctx.destination ?? 'the destination';
  const mk = <T extends IpvsError>(
    K: new (code: string, message: string, errno: number, context: ErrorContext, extack?: string) => T,
    code: string,
    message: string,
  ): T => new K(code, message, errno, ctx, extack);

  switch (name) {
    case 'EEXIST':
      if (cmd === C.NEW_SERVICE) return mk(ServiceExistsError, ERROR_CODES.SERVICE_EXISTS, `${svc} already exists`);
      if (cmd === C.NEW_DEST)
        return mk(DestinationExistsError, ERROR_CODES.DESTINATION_EXISTS, `${dest} already exists in ${svc}`);
      if (cmd === C.NEW_DAEMON)
        return mk(DaemonRunningError, ERROR_CODES.DAEMON_RUNNING, `the ${ctx.daemon ?? ''} sync daemon is already running`.replace('  ', ' '));
      break;
    case 'ESRCH':
      if (cmd === C.DEL_DAEMON)
        return mk(DaemonNotRunningError, ERROR_CODES.DAEMON_NOT_RUNNING, `no ${ctx.daemon ?? ''} sync daemon is running`.replace('  ', ' '));
      return mk(ServiceNotFoundError, ERROR_CODES.SERVICE_NOT_FOUND, `${svc} does not exist`);
    case 'ENOENT':
      if (cmd === C.NEW_SERVICE || cmd === C.SET_SERVICE) {
        const sched = ctx.scheduler !== undefined ? `scheduler '${ctx.scheduler}'` : 'the scheduler';
        const msg =
          ctx.persistenceEngine !== undefined
            ? `${sched} or persistence engine '${ctx.persistenceEngine}' is not available (no kernel module ip_vs_${ctx.scheduler ?? '?'} or ip_vs_pe_${ctx.persistenceEngine})`
            : `${sched} is not available (no kernel module ip_vs_${ctx.scheduler ?? '?'})`;
        return mk(SchedulerNotFoundError, ERROR_CODES.SCHEDULER_NOT_FOUND, msg);
      }
      if (cmd === C.SET_DEST || cmd === C.DEL_DEST)
        return mk(DestinationNotFoundError, ERROR_CODES.DESTINATION_NOT_FOUND, `${dest} does not exist in ${svc}`);
      break;
    case 'EPERM':
    case 'EACCES':
      return mk(
        PermissionError,
        ERROR_CODES.PERMISSION,
        'permission denied: IPVS needs CAP_NET_ADMIN in the initial user namespace (run as root, or grant the capability)',
      );
    case 'EINVAL':
      return mk(InvalidArgumentError, ERROR_CODES.INVALID_ARGUMENT, invalidHint(cmd, ctx));
    case 'ERANGE':
      return mk(
        OutOfRangeError,
        ERROR_CODES.OUT_OF_RANGE,
        `the kernel refused ${dest} of ${svc}: weight must be 0..2147483647 and the lower threshold must not exceed the upper one (an upper threshold of 0 means none, and then the lower must be 0)`,
      );
    case 'EAFNOSUPPORT':
      return mk(
        AddressFamilyError,
        ERROR_CODES.ADDRESS_FAMILY,
        `the kernel does not support this address family for ${ctx.destination ?? svc} (IPv6 disabled?)`,
      );
    case 'ENODEV':
      return mk(
        NoSuchDeviceError,
        ERROR_CODES.NO_SUCH_DEVICE,
        `interface '${ctx.interface ?? '?'}' does not exist`,
      );
    case 'EOPNOTSUPP':
      return mk(NotSupportedError, ERROR_CODES.NOT_SUPPORTED, `the kernel does not support ${commandName(cmd)} here`);
  }
  return mk(KernelError, ERROR_CODES.KERNEL, `${commandName(cmd)} failed: ${name}`);
}

function invalidHint(cmd: number, ctx: ErrorContext): string {
  const svc = the(ctx);
  switch (cmd) {
    case C.NEW_DEST:
      return `the kernel refused ${ctx.destination ?? 'the destination'} for ${svc} as invalid: a new real server's address must be unicast and routable (or local) here, a GUE tunnel needs a port, and a real server of another address family needs tunnel forwarding and no running sync daemon`;
    case C.SET_DEST:
      return `the kernel refused the edit of ${ctx.destination ?? 'the destination'} in ${svc} as invalid (a GUE tunnel needs a port; mixed address families need tunnel forwarding)`;
    case C.NEW_SERVICE:
    case C.SET_SERVICE:
      return `the kernel refused ${svc} as invalid (an IPv6 persistence netmask must be a prefix length 1..128)`;
    case C.NEW_DAEMON:
      return `the kernel refused to start the sync daemon: the multicast group must be a multicast address, and no real server may use a different address family than its service`;
    case C.SET_CONFIG:
      return 'the kernel refused the timeouts as invalid (too large)';
  }
  return `the kernel refused ${commandName(cmd)} as invalid`;
}
