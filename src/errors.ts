/**
 * Typed errors with stable codes. Everything weft throws on purpose is a WeftError; the edges
 * (REST, CLI, CNI, Docker plugin) translate these into their own error shapes.
 */

export type ErrorCode =
  | 'WEFT_INVALID_ARGUMENT'
  | 'WEFT_NOT_FOUND'
  | 'WEFT_CONFLICT'
  | 'WEFT_IPAM_EXHAUSTED'
  | 'WEFT_IPAM_OVERLAP'
  | 'WEFT_IPAM_ADDRESS_IN_USE'
  | 'WEFT_STORE_CONFLICT'
  | 'WEFT_STORE'
  | 'WEFT_STORE_UNAVAILABLE'
  | 'WEFT_KERNEL'
  | 'WEFT_KERNEL_UNSUPPORTED'
  | 'WEFT_FIREWALL'
  | 'WEFT_IN_USE'
  | 'WEFT_PERMISSION'
  | 'WEFT_TIMEOUT'
  | 'WEFT_DAEMON_UNREACHABLE'
  | 'WEFT_INTERNAL';

/** Base of every error weft raises deliberately. `field` names the offending input, if any. */
export class WeftError extends Error {
  readonly code: ErrorCode;
  readonly field?: string;
  constructor(code: ErrorCode, message: string, opts: { field?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    if (opts.field !== undefined) this.field = opts.field;
  }
  toJSON(): { code: ErrorCode; message: string; field?: string } {
    return this.field === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, field: this.field };
  }
}

/** Bad input: a flag, an option, a JSON field. The message names the field. */
export class InvalidArgumentError extends WeftError {
  constructor(field: string, message: string, cause?: unknown) {
    super('WEFT_INVALID_ARGUMENT', `${field}: ${message}`, { field, cause });
  }
}

export class NotFoundError extends WeftError {
  constructor(kind: string, ref: string) {
    super('WEFT_NOT_FOUND', `${kind} "${ref}" not found`, { field: kind });
  }
}

/** Something with that name/identity already exists. */
export class ConflictError extends WeftError {
  constructor(field: string, message: string) {
    super('WEFT_CONFLICT', message, { field });
  }
}

export class InUseError extends WeftError {
  constructor(message: string) {
    super('WEFT_IN_USE', message);
  }
}

export class IpamExhaustedError extends WeftError {
  constructor(pool: string) {
    super('WEFT_IPAM_EXHAUSTED', `no free address left in ${pool}`, { field: 'ipam' });
  }
}

export class IpamOverlapError extends WeftError {
  constructor(subnet: string, other: string) {
    super('WEFT_IPAM_OVERLAP', `subnet ${subnet} overlaps ${other}`, { field: 'subnet' });
  }
}

export class AddressInUseError extends WeftError {
  constructor(address: string) {
    super('WEFT_IPAM_ADDRESS_IN_USE', `address ${address} is already in use`, { field: 'ip' });
  }
}

/** A compare-and-set lost a race; callers retry. */
export class StoreConflictError extends WeftError {
  constructor(message = 'store changed concurrently') {
    super('WEFT_STORE_CONFLICT', message);
  }
}

export class StoreError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_STORE', message, { cause });
  }
}

/**
 * The store could not be reached in time (etcd down, partitioned, or its circuit breaker open).
 * For a write the outcome is unknown: callers re-read before they retry.
 */
export class StoreUnavailableError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_STORE_UNAVAILABLE', message, { cause });
  }
}

/** A kernel operation failed: netlink errno, a tool's exit status and stderr. */
export class KernelError extends WeftError {
  readonly errno?: number;
  readonly op: string;
  constructor(op: string, message: string, opts: { errno?: number; cause?: unknown } = {}) {
    super('WEFT_KERNEL', `${op}: ${message}`, { cause: opts.cause });
    this.op = op;
    if (opts.errno !== undefined) this.errno = opts.errno;
  }
}

/** The running kernel lacks a feature (e.g. ipvlan, wireguard): said plainly, never faked. */
export class KernelUnsupportedError extends WeftError {
  constructor(feature: string, detail: string) {
    super('WEFT_KERNEL_UNSUPPORTED', `${feature} is not supported by this kernel: ${detail}`, {
      field: feature,
    });
  }
}

/** A helper program weft needs (bird, wireguard-go, …) is not installed; names the package to install. */
export class MissingProgramError extends WeftError {
  readonly program: string;
  readonly packageName: string;
  constructor(program: string, packageName: string) {
    super(
      'WEFT_NOT_FOUND',
      `program "${program}" is not installed: install the Debian package "${packageName}" (apt-get install ${packageName})`,
      {
        field: 'program',
      },
    );
    this.program = program;
    this.packageName = packageName;
  }
}

export class FirewallError extends WeftError {
  constructor(message: string, cause?: unknown) {
    super('WEFT_FIREWALL', message, { cause });
  }
}

export class PermissionError extends WeftError {
  constructor(message: string) {
    super('WEFT_PERMISSION', message);
  }
}

export class TimeoutError extends WeftError {
  constructor(what: string, ms: number) {
    super('WEFT_TIMEOUT', `${what} timed out after ${ms} ms`);
  }
}

/** A client (the CLI) could not reach weftd's API socket; the message names the socket. */
export class DaemonUnreachableError extends WeftError {
  readonly socketPath: string;
  constructor(socketPath: string, reason: string, cause?: unknown) {
    super('WEFT_DAEMON_UNREACHABLE', `cannot reach weftd at ${socketPath}: ${reason}`, { cause });
    this.socketPath = socketPath;
  }
}

/** HTTP status for an error code (REST edge). */
export function httpStatusFor(code: ErrorCode): number {
  switch (code) {
    case 'WEFT_INVALID_ARGUMENT':
      return 400;
    case 'WEFT_NOT_FOUND':
      return 404;
    case 'WEFT_CONFLICT':
    case 'WEFT_IN_USE':
    case 'WEFT_IPAM_OVERLAP':
    case 'WEFT_IPAM_ADDRESS_IN_USE':
    case 'WEFT_STORE_CONFLICT':
      return 409;
    case 'WEFT_IPAM_EXHAUSTED':
      return 507;
    case 'WEFT_PERMISSION':
      return 403;
    case 'WEFT_KERNEL_UNSUPPORTED':
      return 501;
    case 'WEFT_TIMEOUT':
      return 504;
    case 'WEFT_STORE_UNAVAILABLE':
    case 'WEFT_DAEMON_UNREACHABLE':
      return 503;
    default:
      return 500;
  }
}

const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/**
 * One error for an operation that failed more than once: a teardown that kept going past its
 * failures, or a change whose rollback failed too (netavark returns its whole error list).
 * One failure is returned as it is; several become an AggregateError with every cause, the
 * first (the one that stopped the operation) leading the message.
 */
export function combineErrors(what: string, errors: readonly unknown[]): unknown {
  if (errors.length === 1) return errors[0];
  return new AggregateError(errors, `${what}: ${errors.map(messageOf).join('; ')}`);
}

/**
 * Runs steps that must all be tried (teardown, rollback), keeping every failure. `run` never
 * throws; `throwIfAny` throws what combineErrors makes of the failures, if there were any.
 */
export class ErrorList {
  readonly errors: unknown[] = [];
  constructor(private readonly what: string) {}
  /** Record a failure that happened elsewhere (e.g. the error that caused a rollback). */
  add(err: unknown): void {
    this.errors.push(err);
  }
  async run(step: () => unknown): Promise<boolean> {
    try {
      await step();
      return true;
    } catch (err) {
      this.errors.push(err);
      return false;
    }
  }
  throwIfAny(): void {
    if (this.errors.length > 0) throw combineErrors(this.what, this.errors);
  }
  /** Every failure recorded as one error, to throw (a rollback: the error that caused it was add()ed first). */
  combined(): unknown {
    return combineErrors(this.what, this.errors.length > 0 ? this.errors : [new Error(`${this.what}: failed`)]);
  }
}

/** Wrap anything thrown into a WeftError (unknown errors become WEFT_INTERNAL). */
export function asWeftError(err: unknown): WeftError {
  if (err instanceof WeftError) return err;
  // Several failures: the edge reports the first one's code, and every message.
  if (err instanceof AggregateError && err.errors.length > 0) {
    const first = asWeftError(err.errors[0]);
    return new WeftError(first.code, err.message, { ...(first.field === undefined ? {} : { field: first.field }), cause: err });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new WeftError('WEFT_INTERNAL', message, { cause: err });
}

/** The network namespace given is already a sandbox of weft's (attached or created by it). */
export class AlreadyAttachedError extends ConflictError {
  constructor(what: string, sandbox: string) {
    super('netns', `${what} is already attached as sandbox "${sandbox}"`);
  }
}
