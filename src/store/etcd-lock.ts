/**
 * A named lock across processes on etcd: the key `locks/<name>` created only if absent, tied
 * to a lease so a crashed holder frees it within its TTL, renewed while fn runs. A waiter
 * watches the key for its deletion rather than polling, and gives up at its deadline.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { TimeoutError } from '../errors.js';
import type { EtcdStore } from './etcd-store.js';

const lockKey = (name: string) => `locks/${name}`;

/** Wait until the key is deleted (or ms pass); true when it was seen deleted. */
function waitForDelete(store: EtcdStore, key: string, afterRevision: number, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, Math.max(0, ms));
    const stop = store.watchFrom(key, afterRevision, {
      onEvent: (e) => {
        if (e.key === key && e.type === 'delete') done();
      },
      onLost: () => done(), // re-read and try again
    });
    function done(): void {
      clearTimeout(timer);
      stop();
      resolve();
    }
  });
}

export async function withEtcdLock<T>(
  store: EtcdStore,
  name: string,
  fn: () => Promise<T>,
  opts: { timeoutMs: number; ttlMs: number },
): Promise<T> {
  const deadline = performance.now() + opts.timeoutMs;
  const key = lockKey(name);
  const owner = `${process.pid}-${randomBytes(6).toString('hex')}`;
  const lease = await store.grantLease(opts.ttlMs);
  let held = false;
  try {
    for (;;) {
      const r = await store.txn({ checks: [{ key, version: 0 }], puts: [{ key, value: JSON.stringify(owner), lease: lease.id }] });
      if (r.ok) break;
      const left = deadline - performance.now();
      if (left <= 0) throw new TimeoutError(`lock "${name}"`, opts.timeoutMs);
      // The failed txn's revision already includes the holder's key: wait for what comes after.
      await waitForDelete(store, key, r.revision, left);
    }
    held = true;
    return await fn();
  } finally {
    store.dropLease(lease);
    try {
      // Revoking the lease deletes the key: the next waiter's watch fires.
      await lease.revoke();
    } catch (err) {
      // The lease then expires by its TTL; say so, but do not mask fn's own outcome.
      process.emitWarning(`lock "${name}": releasing ${held ? 'held' : 'pending'} lease failed: ${String(err)}`, {
        code: 'WEFT_STORE_LOCK',
      });
    }
  }
}
