/**
 * The watcher registry both backends share: who watches which prefix since which revision,
 * and delivery that keeps one throwing callback from starving the others.
 */
import type { KvEvent } from './store.js';

interface Watcher {
  prefix: string;
  onEvent: (e: KvEvent) => void;
  /** Events at or below this revision happened before the watch started. */
  afterRev: number;
}

export class Watchers {
  private readonly list = new Set<Watcher>();

  get size(): number {
    return this.list.size;
  }

  /** Register; returns the unsubscribe function (idempotent). */
  add(prefix: string, onEvent: (e: KvEvent) => void, afterRev: number): () => void {
    const w: Watcher = { prefix, onEvent, afterRev };
    this.list.add(w);
    return () => {
      this.list.delete(w);
    };
  }

  /** Deliver one event that committed at revision rev to every matching watcher. */
  dispatch(rev: number, e: KvEvent): void {
    for (const w of this.list) {
      if (rev <= w.afterRev || !e.key.startsWith(w.prefix)) continue;
      try {
        w.onEvent({ ...e });
      } catch (err) {
        // A watcher's bug must not stop delivery to the others or kill the poller; it is
        // reported, not swallowed.
        process.emitWarning(`store watch callback for "${w.prefix}" threw: ${String(err)}`, { code: 'WEFT_STORE_WATCH' });
      }
    }
  }

  clear(): void {
    this.list.clear();
  }
}
