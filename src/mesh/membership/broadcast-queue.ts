/**
 * Updates waiting to be piggybacked. Each is sent a bounded number of times (infection-style
 * dissemination); a newer update about a member replaces the queued one, so stale facts stop
 * spreading as soon as a fresher one exists. Least-sent updates go first.
 */
import type { Update } from './types.js';

interface Queued {
  update: Update;
  sent: number;
  /** Insertion order, so equally-sent updates go oldest first. */
  id: number;
}

/** Rough JSON size of an update, for the datagram budget. */
export function updateSize(u: Update): number {
  return JSON.stringify(u).length + 1;
}

export class BroadcastQueue {
  private readonly byName = new Map<string, Queued>();
  private nextId = 0;

  /** Queue an update, replacing any older one about the same member. */
  push(update: Update): void {
    this.byName.set(update.name, { update, sent: 0, id: this.nextId++ });
  }

  get size(): number {
    return this.byName.size;
  }

  /** Take updates that fit `budget` bytes; each pick counts as one transmission, up to `limit`. */
  take(budget: number, limit: number): Update[] {
    const order = [...this.byName.values()].sort((a, b) => a.sent - b.sent || a.id - b.id);
    const out: Update[] = [];
    let used = 0;
    for (const q of order) {
      const size = updateSize(q.update);
      if (used + size > budget) continue;
      used += size;
      out.push(q.update);
      q.sent++;
      if (q.sent >= limit) this.byName.delete(q.update.name);
    }
    return out;
  }

  /** Forget anything queued about a member (it was removed). */
  drop(name: string): void {
    this.byName.delete(name);
  }
}
