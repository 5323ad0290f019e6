/**
 * One etcd3 client configured for weft's failure rules: every call is bounded (an operation
 * fails with WEFT_STORE_UNAVAILABLE within opTimeoutMs, 5 s by default, when etcd is down or
 * unreachable), reconnects are quick once etcd is back (short gRPC reconnect backoff, short
 * circuit-breaker open time, watch streams retried within a second), and etcd3's errors become
 * weft's typed errors.
 */
import { readFileSync } from 'node:fs';
import { Etcd3, isRecoverableError, GRPCDeadlineExceededError, GRPCUnavailableError, ClientClosedError, GRPCCancelledError } from 'etcd3';
import { BrokenCircuitError, ConsecutiveBreaker, ExponentialBackoff, circuitBreaker, handleWhen, retry } from 'cockatiel';
import { InvalidArgumentError, StoreError, StoreUnavailableError, WeftError } from '../errors.js';
import type { EtcdTarget } from './etcd-url.js';

export interface EtcdTlsFiles {
  ca?: string;
  cert?: string;
  key?: string;
}

export interface EtcdClientOptions {
  target: EtcdTarget;
  tls?: EtcdTlsFiles;
  /** Bound on one store operation, retries included (ms). */
  opTimeoutMs?: number;
}

export const DEFAULT_OP_TIMEOUT_MS = 5000;

function readTlsFile(flag: string, file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new InvalidArgumentError(flag, `cannot read ${file}: ${(err as Error).message}`, err);
  }
}

/** Build the etcd3 client; reads the TLS files (bad paths are InvalidArgumentError). */
export function createEtcdClient(o: EtcdClientOptions): Etcd3 {
  const opTimeoutMs = o.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS;
  const tls = o.tls ?? {};
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new InvalidArgumentError(
      tls.cert === undefined ? 'cluster-store-cert' : 'cluster-store-key',
      '--cluster-store-cert and --cluster-store-key go together',
    );
  }
  let credentials: { rootCertificate: Buffer; privateKey?: Buffer; certChain?: Buffer } | undefined;
  if (tls.ca !== undefined || tls.cert !== undefined) {
    if (!o.target.tls) throw new InvalidArgumentError('cluster-store', 'TLS files given for a plain etcd:// URL; use etcds://');
    if (tls.ca === undefined)
      throw new InvalidArgumentError('cluster-store-ca', 'a client certificate needs the CA that signed the server (--cluster-store-ca)');
    credentials = { rootCertificate: readTlsFile('cluster-store-ca', tls.ca) };
    if (tls.cert !== undefined && tls.key !== undefined) {
      credentials.certChain = readTlsFile('cluster-store-cert', tls.cert);
      credentials.privateKey = readTlsFile('cluster-store-key', tls.key);
    }
  }
  // Each attempt gets a share of the operation's budget, so a retry on another member still
  // fits inside it; the caller's own timer is the hard bound.
  const attemptMs = Math.max(200, Math.floor(opTimeoutMs / 2.5));
  return new Etcd3({
    hosts: o.target.hosts,
    ...(credentials ? { credentials } : {}),
    dialTimeout: opTimeoutMs,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + attemptMs }),
    grpcOptions: {
      // gRPC's default reconnect backoff grows to 120 s: after a 20 s outage the client would
      // stay away long after etcd came back. Keepalive pings find a silently dead member; etcd
      // refuses pings more often than every 5 s (too_many_pings).
      'grpc.initial_reconnect_backoff_ms': 200,
      'grpc.max_reconnect_backoff_ms': 1000,
      'grpc.keepalive_time_ms': 10_000,
      'grpc.keepalive_timeout_ms': 5000,
      'grpc.keepalive_permit_without_calls': 1,
    },
    faultHandling: {
      host: () => circuitBreaker(handleWhen(isRecoverableError), { halfOpenAfter: 500, breaker: new ConsecutiveBreaker(3) }),
      global: retry(handleWhen(isRecoverableError), {
        maxAttempts: 2,
        backoff: new ExponentialBackoff({ initialDelay: 50, maxDelay: 200 }),
      }),
      watchBackoff: new ExponentialBackoff({ initialDelay: 100, maxDelay: 1000 }).next(),
    },
  });
}

/** Whether an error from etcd3 means "the store could not be reached" (as opposed to a refusal). */
export function isUnavailable(err: unknown): boolean {
  return (
    err instanceof GRPCUnavailableError ||
    err instanceof GRPCDeadlineExceededError ||
    err instanceof GRPCCancelledError ||
    err instanceof BrokenCircuitError ||
    (err instanceof Error && isRecoverableError(err))
  );
}

/** Translate anything etcd3 threw into a WeftError naming the operation. */
export function toStoreError(op: string, err: unknown): WeftError {
  if (err instanceof WeftError) return err;
  if (err instanceof ClientClosedError) return new StoreError(`etcd store is closed (${op})`, err);
  const msg = err instanceof Error ? err.message : String(err);
  if (isUnavailable(err)) return new StoreUnavailableError(`cluster store unavailable during ${op}: ${msg}`, err);
  return new StoreError(`etcd ${op} failed: ${msg}`, err);
}

/**
 * Run one store operation with a hard deadline. A write that times out may still have been
 * applied: the error says the outcome is unknown, and callers re-read before retrying.
 */
export async function bounded<T>(op: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailableError(`cluster store did not answer ${op} within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([fn(), deadline]);
  } catch (err) {
    throw toStoreError(op, err);
  } finally {
    clearTimeout(timer);
  }
}
