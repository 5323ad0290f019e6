/**
 * In-process named mutexes: FIFO per name, with a bounded wait. The memory store uses it as
 * its whole lock; the SQLite store puts it in front of the cross-process lock row so that
 * waiters in one process queue fairly instead of polling the database against each other.
 */
import { TimeoutError } from '../errors.js';

interface Waiter {
  grant: () => void;
  timer: NodeJS.Timeout;
}

interface Slot {
  waiters: Waiter[];
}

export class LockQueue {
  /** A name is present while someone holds it; its waiters queue in arrival order. */
  private readonly slots = new Map<string, Slot>();

  /** Wait (at most timeoutMs) for the lock; resolves with a release function (idempotent). */
  acquire(name: string, timeoutMs: number): Promise<() => void> {
    const slot = this.slots.get(name);
    if (slot === undefined) {
      this.slots.set(name, { waiters: [] });
      return Promise.resolve(this.releaser(name));
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve(this.releaser(name));
        },
        timer: setTimeout(
          () => {
            const i = slot.waiters.indexOf(waiter);
            if (i >= 0) slot.waiters.splice(i, 1);
            reject(new TimeoutError(`lock "${name}"`, timeoutMs));
          },
          Math.max(0, timeoutMs),
        ),
      };
      slot.waiters.push(waiter);
    });
  }

  /** Whether anyone holds the lock (for tests and diagnostics). */
  isHeld(name: string): boolean {
    return this.slots.has(name);
  }

  private releaser(name: string): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const slot = this.slots.get(name);
      const next = slot?.waiters.shift();
      if (next) next.grant();
      else this.slots.delete(name);
    };
  }
}
