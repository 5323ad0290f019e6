/**
 * A watch on a key range that starts after a given revision and never silently skips: it
 * resumes across reconnects from the last revision it delivered (etcd3 alone would resume from
 * the header revision of the creation reply, which can be past events not yet delivered), drops
 * replays, and reports a lost history (compaction, server cancel) instead of pretending.
 */
import type { Etcd3, IKeyValue } from 'etcd3';
import type { RevisionWatch } from './cluster-store.js';

interface WatchResponse {
  header: { revision: string };
  events: { type: 'Put' | 'Delete'; kv: IKeyValue }[];
}

export interface RevisionWatchSpec {
  from: Buffer;
  end: Buffer;
  afterRevision: number;
  unkey(b: Buffer): string;
  seen(rev: number): void;
  watch: RevisionWatch;
}

/** Start the watch; returns the stop function (idempotent). */
export function startRevisionWatch(client: Etcd3, s: RevisionWatchSpec): () => void {
  let last = s.afterRevision;
  let stopped = false;
  const builder = client.watch().inRange({ start: s.from, end: s.end });
  // Revision 0 would mean "from now" to etcd; a caller that read nothing yet wants everything.
  builder.startRevision(String(last + 1));
  const watcher = builder.watcher();
  const deliver = (fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      // A consumer's bug must not kill the stream for the others; it is reported, not swallowed.
      process.emitWarning(`store watch consumer threw: ${String(err)}`, { code: 'WEFT_STORE_WATCH' });
    }
  };
  watcher.on('data', (res: WatchResponse) => {
    if (stopped) return;
    let top = last;
    for (const ev of res.events) {
      const rev = Number(ev.kv.mod_revision);
      if (rev <= last) continue; // a replay after a reconnect
      top = Math.max(top, rev);
      const key = s.unkey(ev.kv.key);
      deliver(() =>
        s.watch.onEvent(ev.type === 'Put' ? { type: 'put', key, value: ev.kv.value.toString('utf8') } : { type: 'delete', key }, rev),
      );
    }
    last = top;
    s.seen(Math.max(last, Number(res.header.revision)));
  });
  watcher.on('disconnected', () => {
    // Resume exactly after what was delivered (see the header comment).
    (watcher as unknown as { request: { start_revision: string } }).request.start_revision = String(last + 1);
  });
  watcher.on('error', (err: Error) => {
    if (stopped) return;
    stopped = true;
    // eslint-disable-next-line no-restricted-syntax -- the server already dropped the watch; nothing to undo
    void watcher.cancel().catch(() => undefined);
    deliver(() => s.watch.onLost(err.message || 'watch cancelled by etcd'));
  });
  return () => {
    if (stopped) return;
    stopped = true;
    watcher.cancel().catch((err: unknown) => {
      // Cancelling fails only when the client is closing; the watch dies with it.
      process.emitWarning(`store watch cancel: ${String(err)}`, { code: 'WEFT_STORE_WATCH' });
    });
  };
}
