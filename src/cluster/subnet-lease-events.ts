/**
 * Other hosts' subnet leases as host events: a full read of `leases/`, then a watch from its
 * revision (a full read again whenever the watch is lost, reporting only the differences). A
 * lease appearing or changing is hostUp with the lease in RemoteHost.data; a lease expiring or
 * released is hostDown with the lease it had. Events reach the sink one at a time, in order (the
 * controller's hostUp/hostDown, which route them to the drivers under the engine lock).
 */
import type { RemoteHost } from '../drivers/driver.js';
import { leaseDataKey, parseLeaseRecord, type LeaseRecord } from '../ipam/subnet-leases.js';
import type { ClusterStore } from '../store/cluster-store.js';
import { leaseKeys } from './subnet-lease.js';

export interface HostEventSink {
  hostUp(h: RemoteHost): Promise<void>;
  hostDown(h: RemoteHost): Promise<void>;
}

/** "<network>/<subnet key>" → the network's name. */
const networkOfKey = (key: string): string => key.slice(leaseKeys.all.length).split('/')[0]!;

function hostOf(network: string, rec: LeaseRecord): RemoteHost {
  return { hostId: rec.hostId, address: rec.publicIp, data: { [leaseDataKey(network)]: JSON.stringify(rec) } };
}

/** Follow every lease of every network but this host's own; returns the stop function. */
export function followLeases(
  store: ClusterStore,
  selfId: string,
  sink: HostEventSink,
  log: (level: 'warn' | 'error', fields: Record<string, unknown>, msg: string) => void = () => undefined,
): () => void {
  const known = new Map<string, { network: string; rec: LeaseRecord; value: string }>();
  let chain: Promise<void> = Promise.resolve();
  let stop: (() => void) | undefined;
  let done = false;
  const emit = (kind: 'hostUp' | 'hostDown', h: RemoteHost): void => {
    chain = chain.then(() =>
      sink[kind](h).catch((err: unknown) => log('error', { host: h.hostId, err: String(err) }, `subnet lease ${kind} failed`)),
    );
  };
  const put = (key: string, value: string): void => {
    const rec = parseLeaseRecord(value);
    if (!rec || rec.hostId === selfId || known.get(key)?.value === value) return;
    const network = networkOfKey(key);
    const prev = known.get(key);
    // The subnet changed hands (its old holder's lease expired and another host took it).
    if (prev && prev.rec.hostId !== rec.hostId) emit('hostDown', hostOf(network, prev.rec));
    known.set(key, { network, rec, value });
    emit('hostUp', hostOf(network, rec));
  };
  const del = (key: string): void => {
    const prev = known.get(key);
    if (!prev) return;
    known.delete(key);
    emit('hostDown', hostOf(prev.network, prev.rec));
  };
  const begin = async (): Promise<void> => {
    for (let delay = 100; !done; delay = Math.min(delay * 2, 2000)) {
      try {
        const snap = await store.snapshot(leaseKeys.all);
        if (done) return;
        const seen = new Set(snap.entries.map((e) => e.key));
        for (const k of [...known.keys()]) if (!seen.has(k)) del(k);
        for (const e of snap.entries) put(e.key, e.value);
        stop = store.watchFrom(leaseKeys.all, snap.revision, {
          onEvent: (e) => (e.type === 'put' && e.value !== undefined ? put(e.key, e.value) : del(e.key)),
          onLost: (reason) => {
            log('warn', { reason }, 'lease watch lost; full re-read');
            stop?.();
            void begin();
          },
        });
        return;
      } catch (err) {
        // Once per outage, not once per retry (the agent logs the store's state changes too).
        if (delay === 100) log('warn', { err: String(err) }, 'lease watch failed; retrying until the store answers');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  };
  void begin();
  return () => {
    done = true;
    stop?.();
  };
}
