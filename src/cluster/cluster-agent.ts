/**
 * The per-host agent for global state (design-multihost.md): registers this host under a
 * leased key, watches every host's keys and turns them into hostUp / hostDown / hostGone,
 * cleans up after a gone host (its blocks, addresses and endpoints) once its grace ran out,
 * offers cluster IPAM, and rides out store outages: operations fail fast while the store is
 * away, and on its return the agent re-claims what is still its own (lease, blocks, addresses)
 * and re-reads everything before it allocates anything new. It never programs the kernel.
 */
import { EventEmitter } from 'node:events';
import { StoreUnavailableError, WeftError } from '../errors.js';
import type { ClusterStore, Snapshot } from '../store/cluster-store.js';
import type { KvEvent } from '../store/store.js';
import { BlockIpam, type ClusterAllocation } from './block-ipam.js';
import { clusterKeys, parseHostKey } from './cluster-keys.js';
import type { HostIdentity } from './host-identity.js';
import { HostIdTakenError, HostRegistry, type StoredHostRecord } from './host-registry.js';
import { HostStateCore, type AliveRecord, type HostTransition, type HostView } from './host-state-core.js';

const isUnavailable = (err: unknown): boolean => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE';

export interface ClusterAgentOptions {
  identity: HostIdentity;
  name: string;
  address: string;
  /** An IPv6 underlay address beside an IPv4 `address`, recorded for dual-stack routing. */
  address6?: string;
  /** TTL of the liveness lease (ms); a dead host is seen down within about this. */
  ttlMs?: number;
  /** How long a down host keeps its endpoints and blocks before it is gone (ms). */
  graceMs?: number;
  /** File for the IPAM journal (in the state dir); none = in memory only. */
  ipamJournal?: string;
  /** First delay before probing the store once it is unavailable (ms); doubled after each failure … */
  probeMs?: number;
  /** … up to this (ms, default 2000: the store's return is noticed within about this). */
  maxProbeMs?: number;
  log?: (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string) => void;
}

/** `refused`: the store answered that this host's id is another host's; the agent stopped for good. */
export type StoreState = 'connected' | 'unavailable' | 'recovering' | 'refused';

/** A host as `weft host ls|inspect` shows it. */
export interface HostInfo extends HostView {
  /** When it last renewed its lease (up) or when it went down (ms since epoch). */
  lastSeen: number;
  endpoints: number;
  blocks: string[];
  self: boolean;
}

export interface ClusterAgentEvents {
  hostUp: [HostView];
  hostDown: [HostView];
  hostGone: [HostView];
  storeDown: [Error];
  storeUp: [{ lease: 'kept' | 'registered'; kept: number; reclaimed: number; lost: ClusterAllocation[] }];
  /**
   * The store came back and this host's id is held by another host (HostIdTakenError, as a
   * start would have been refused): the agent stopped and will not register. Emitted once;
   * the owner reports it (weftd exits with it, as at a start). Not logged by the agent.
   */
  refused: [WeftError];
  /** Addresses this host held that another host took while it was away. */
  allocationLost: [ClusterAllocation[]];
  /** Cleanup after a gone host finished (by this agent or another). */
  hostReclaimed: [{ id: string; blocks: number; addresses: number; endpoints: number }];
}

/** The contract the controller and surfaces use. */
export interface ClusterAgent {
  readonly hostId: string;
  readonly address: string;
  start(): Promise<void>;
  /** Graceful: revoke the lease (others see this host down at once). */
  stop(): Promise<void>;
  /** Fresh from the store: every host with its state, last seen, endpoints and blocks. */
  hosts(): Promise<HostInfo[]>;
  host(idOrName: string): Promise<HostInfo>;
  /** This agent's current belief, without a store read. */
  view(): HostView[];
  storeState(): StoreState;
  allocate(pool: string, handle: string): Promise<ClusterAllocation>;
  release(pool: string, address: string, handle: string): Promise<boolean>;
  readonly ipam: BlockIpam;
  /** Keep a prefix mirrored: a full read, then events; a full read again whenever the watch is lost. */
  mirror(prefix: string, m: PrefixMirror): () => void;
  on<K extends keyof ClusterAgentEvents>(event: K, listener: (...args: ClusterAgentEvents[K]) => void): this;
}

export interface PrefixMirror {
  /** Everything under the prefix (first, and after every lost watch). */
  onSnapshot(s: Snapshot): void;
  onEvent(e: KvEvent, revision: number): void;
}

export class EtcdClusterAgent extends EventEmitter implements ClusterAgent {
  readonly hostId: string;
  readonly address: string;
  readonly ipam: BlockIpam;
  private readonly registry: HostRegistry;
  private readonly core: HostStateCore;
  private readonly ttlMs: number;
  private readonly probeMs: number;
  private readonly maxProbeMs: number;
  /** Failed recoveries in a row (the probe's backoff) and the last refusal logged. */
  private probeFailures = 0;
  private probeError: string | undefined;
  private state: StoreState = 'recovering';
  /** When the state last became connected (ms since epoch). */
  private connectedAt = 0;
  private recovery: Promise<void> | undefined;
  private stopHosts: (() => void) | undefined;
  private graceTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private healthTimer: NodeJS.Timeout | undefined;
  private readonly mirrors = new Set<() => void>();
  private stopped = false;
  private refusal: WeftError | undefined;

  constructor(
    readonly store: ClusterStore,
    private readonly o: ClusterAgentOptions,
  ) {
    super();
    this.hostId = o.identity.id;
    this.address = o.address;
    this.ttlMs = o.ttlMs ?? 5000;
    this.probeMs = o.probeMs ?? 500;
    this.maxProbeMs = Math.max(this.probeMs, o.maxProbeMs ?? 2000);
    this.core = new HostStateCore(o.graceMs ?? 30_000);
    this.registry = new HostRegistry(store, o.identity, {
      name: o.name,
      address: o.address,
      ...(o.address6 !== undefined ? { address6: o.address6 } : {}),
      ttlMs: this.ttlMs,
    });
    this.ipam = new BlockIpam(store, this.hostId, o.ipamJournal);
    this.registry.onLeaseLost((reason) => {
      this.log('warn', { reason }, 'cluster lease lost; registering again');
      this.storeFailed(new StoreUnavailableError(`lease lost: ${reason}`));
    });
  }

  override on<K extends keyof ClusterAgentEvents>(event: K, listener: (...args: ClusterAgentEvents[K]) => void): this {
    return super.on(event, listener as (...args: unknown[]) => void);
  }

  private log(level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string): void {
    this.o.log?.(level, { host: this.hostId, ...fields }, msg);
  }

  /** Register, re-claim, and start watching. Fails (nothing left behind) on a duplicate id or no store. */
  async start(): Promise<void> {
    try {
      await this.join();
      this.watchHealth();
    } catch (err) {
      await this.shutdown(false);
      throw err;
    }
  }

  /**
   * Start without waiting for the store (weftd at boot, as dockerd with its KV store away):
   * join now if the store answers; if it cannot be reached, run in outage mode — cluster
   * operations are refused with WEFT_STORE_UNAVAILABLE — and keep trying with a bounded
   * backoff; the first success registers this host, re-claims its blocks and reads every host,
   * as after any outage (`storeUp`). A refusal by a store that answers (a duplicate host id)
   * still fails the start, with nothing left behind; met only when the store returns, it stops
   * the agent for good (`refused`).
   */
  async startOrWait(): Promise<'joined' | 'waiting'> {
    try {
      await this.join();
    } catch (err) {
      if (!isUnavailable(err)) {
        await this.shutdown(false);
        throw err;
      }
      this.state = 'unavailable';
      this.log(
        'warn',
        { name: this.o.name, address: this.address, err: (err as Error).message },
        'cluster store unreachable at start: global operations refused (WEFT_STORE_UNAVAILABLE) until it answers; retrying in the background',
      );
      this.watchHealth();
      this.probe();
      return 'waiting';
    }
    this.watchHealth();
    return 'joined';
  }

  private async join(): Promise<void> {
    await this.registry.register();
    await this.reclaimOwn();
    await this.watchHosts();
    this.state = 'connected';
    this.connectedAt = Date.now();
  }

  /**
   * Keepalives are the agent's heartbeat to the store: when they stop succeeding the store is
   * away even if nothing else asked it anything (checked locally, no extra requests).
   */
  private watchHealth(): void {
    let lastTick = Date.now();
    this.healthTimer = setInterval(() => {
      const now = Date.now();
      // A late tick means this process was busy (or starved of CPU), not that the store is
      // away: the keepalive could not run either. Judge only after an on-time tick.
      const late = now - lastTick > 1500;
      lastTick = now;
      const last = this.registry.lastRenewed();
      // Counted from the last renewal or the last recovery, whichever is later: right after a
      // recovery the next keepalive has not had its turn yet.
      const since = last === undefined ? undefined : Math.max(last, this.connectedAt);
      if (!late && this.state === 'connected' && since !== undefined && now - since > this.ttlMs + 1000) {
        this.storeFailed(new StoreUnavailableError(`no lease renewal for ${now - since} ms`));
      }
    }, 500);
    this.healthTimer.unref();
  }

  private async reclaimOwn(): Promise<{ kept: number; reclaimed: number; lost: ClusterAllocation[] }> {
    const r = await this.ipam.recover();
    if (r.lost.length > 0) {
      this.log('warn', { lost: r.lost.map((a) => a.address) }, 'addresses taken by other hosts while this host was away');
      this.emit('allocationLost', r.lost);
    }
    return r;
  }

  private async watchHosts(): Promise<void> {
    this.stopHosts?.();
    const snap = await this.store.snapshot(clusterKeys.hosts);
    const records: StoredHostRecord[] = [];
    const alive = new Map<string, AliveRecord>();
    for (const e of snap.entries) {
      const k = parseHostKey(e.key);
      if (!k) continue;
      if (k.alive) alive.set(k.id, JSON.parse(e.value) as AliveRecord);
      else records.push(JSON.parse(e.value) as StoredHostRecord);
    }
    this.apply(this.core.resync(records, alive, Date.now()));
    this.stopHosts = this.store.watchFrom(clusterKeys.hosts, snap.revision, {
      onEvent: (e) => this.onHostEvent(e),
      onLost: (reason) => {
        this.log('warn', { reason }, 'host watch lost; full resync');
        void this.watchHosts().catch((err: unknown) => this.storeFailed(err));
      },
    });
  }

  private onHostEvent(e: KvEvent): void {
    const k = parseHostKey(e.key);
    if (!k) return;
    const now = Date.now();
    if (k.alive) {
      this.apply(e.type === 'put' ? this.core.setAlive(k.id, JSON.parse(e.value!) as AliveRecord, now) : this.core.deleteAlive(k.id, now));
    } else {
      this.apply(e.type === 'put' ? this.core.setRecord(JSON.parse(e.value!) as StoredHostRecord, now) : this.core.deleteRecord(k.id, now));
    }
  }

  private apply(ts: HostTransition[]): void {
    for (const t of ts) {
      this.log('info', { peer: t.host.id, name: t.host.name, address: t.host.address }, t.type);
      this.emit(t.type, t.host);
      if (t.type === 'hostDown' && t.host.id !== this.hostId) void this.markDown(t.host).catch((err: unknown) => this.storeFailed(err));
      if (t.type === 'hostGone' && t.host.id !== this.hostId)
        void this.cleanupGone(t.host.id).catch((err: unknown) => this.storeFailed(err));
    }
    this.scheduleGrace();
  }

  private scheduleGrace(): void {
    if (this.graceTimer) clearTimeout(this.graceTimer);
    this.graceTimer = undefined;
    const next = this.core.nextDeadline();
    if (next === undefined || this.stopped) return;
    this.graceTimer = setTimeout(() => this.apply(this.core.tick(Date.now())), Math.max(0, next - Date.now()) + 5);
    this.graceTimer.unref();
  }

  /** The first agent to see a host down writes when, so every agent counts the grace from the same moment. */
  private async markDown(h: HostView): Promise<void> {
    const e = await this.store.get(clusterKeys.host(h.id));
    if (!e || (await this.store.get(clusterKeys.alive(h.id)))) return;
    const rec = JSON.parse(e.value) as StoredHostRecord;
    if (rec.downSince !== undefined) return;
    await this.store.commit({
      checks: [
        { key: e.key, version: e.version },
        { key: clusterKeys.alive(h.id), version: 0 },
      ],
      puts: [{ key: e.key, value: JSON.stringify({ ...rec, downSince: h.since }) }],
    });
  }

  /** After the grace: reclaim the gone host's blocks and addresses, delete its endpoints and record. */
  private async cleanupGone(id: string): Promise<void> {
    if (this.state !== 'connected') return; // the next full resync after recovery runs it again
    const ipam = await this.ipam.reclaimHost(id);
    let endpoints = 0;
    const eps = await this.store.snapshot(clusterKeys.endpoints);
    for (const e of eps.entries) {
      const host = (JSON.parse(e.value) as { host?: string }).host;
      if (host !== id) continue;
      if (await this.store.commit({ checks: [{ key: e.key, version: e.version }], deletes: [e.key] })) endpoints++;
    }
    const rec = await this.store.get(clusterKeys.host(id));
    if (rec) {
      // Only if it is still down: a host that came back in the meantime keeps its record.
      await this.store.commit({
        checks: [
          { key: rec.key, version: rec.version },
          { key: clusterKeys.alive(id), version: 0 },
        ],
        deletes: [rec.key],
      });
    }
    const r = { id, blocks: ipam.blocks, addresses: ipam.addresses, endpoints };
    this.log('info', r, 'gone host reclaimed');
    this.emit('hostReclaimed', r);
  }

  /** Route a store failure: unavailable → outage mode with probes; anything else is logged. */
  private storeFailed(err: unknown): void {
    if (this.stopped) return;
    if (!isUnavailable(err)) {
      this.log('error', { err: String(err) }, 'cluster store operation failed');
      return;
    }
    // Already away, or a recovery attempt is under way (it decides, and logs only a change).
    if (this.state === 'unavailable' || this.recovery) return;
    this.state = 'unavailable';
    this.log('warn', { err: (err as Error).message }, 'cluster store unavailable');
    this.emit('storeDown', err);
    this.probe();
  }

  /**
   * Try to recover after a delay that doubles with each failure, up to maxProbeMs: an outage
   * of hours costs one attempt every few seconds. Only changes are logged (the outage began in
   * storeFailed, it ended in recover, a different refusal here), never each attempt.
   */
  private probe(): void {
    if (this.probeTimer || this.stopped) return;
    const delay = Math.min(this.probeMs * 2 ** this.probeFailures, this.maxProbeMs);
    this.probeTimer = setTimeout(() => {
      this.probeTimer = undefined;
      void this.recover().then(
        () => {
          this.probeFailures = 0;
          this.probeError = undefined;
        },
        (err: unknown) => {
          if (err instanceof HostIdTakenError) return this.refuse(err);
          this.probeFailures = Math.min(this.probeFailures + 1, 16);
          const msg = String(err);
          if (!isUnavailable(err) && msg !== this.probeError) this.log('error', { err: msg }, 'recovery failed; retrying');
          this.probeError = isUnavailable(err) ? undefined : msg;
          this.probe();
        },
      );
    }, delay);
    this.probeTimer.unref();
  }

  /**
   * Another host holds this host's id (it registered while this one was away): registering is
   * refused for good, not retried — retrying would only wait for that host to die and then take
   * its id over. Nothing was written (register checks before it writes); stop everything.
   */
  private refuse(err: HostIdTakenError): void {
    if (this.stopped) return;
    this.refusal = err;
    this.state = 'refused';
    void this.shutdown(false).then(
      () => this.emit('refused', err),
      (e: unknown) => {
        this.log('error', { err: String(e) }, 'stopping the cluster agent after a refused registration failed');
        this.emit('refused', err);
      },
    );
  }

  /** Why the store refused this host (a duplicate id), once it did. */
  refusedWith(): WeftError | undefined {
    return this.refusal;
  }

  /** The store answers again: lease first, then own blocks, then a full re-read. */
  private recover(): Promise<void> {
    this.recovery ??= (async () => {
      try {
        this.state = 'recovering';
        const lease = await this.registry.ensure();
        const r = await this.reclaimOwn();
        await this.watchHosts();
        this.state = 'connected';
        this.connectedAt = Date.now();
        this.log('info', { lease, kept: r.kept, reclaimed: r.reclaimed, lost: r.lost.length }, 'cluster store back; state re-claimed');
        this.emit('storeUp', { lease, ...r });
        // Hosts whose grace ran out while we were away are cleaned up now.
        for (const v of this.core.views()) if (v.state === 'down') void this.markDown(v).catch((err: unknown) => this.storeFailed(err));
      } catch (err) {
        if (!(err instanceof HostIdTakenError)) this.state = 'unavailable';
        throw err;
      } finally {
        this.recovery = undefined;
      }
    })();
    return this.recovery;
  }

  storeState(): StoreState {
    return this.state;
  }

  /** Run a cluster operation: refused at once while the store is away, waits for a recovery in progress. */
  private async op<T>(fn: () => Promise<T>): Promise<T> {
    if (this.refusal) throw this.refusal;
    if (this.state === 'unavailable') throw new StoreUnavailableError('cluster store unavailable (waiting for it to return)');
    if (this.state === 'recovering' && this.recovery) await this.recovery;
    try {
      return await fn();
    } catch (err) {
      this.storeFailed(err);
      throw err;
    }
  }

  allocate(pool: string, handle: string): Promise<ClusterAllocation> {
    return this.op(() => this.ipam.allocate(pool, handle));
  }

  /** Publish per-host data of one driver (e.g. a VTEP MAC); other hosts read it with hostData. */
  publishHostData(driver: string, data: Record<string, string>): Promise<void> {
    return this.op(async () => {
      await this.store.commit({ puts: [{ key: clusterKeys.hostData(this.hostId, driver), value: JSON.stringify(data) }] });
    });
  }

  /** What every driver published for a host, as "<driver>/<key>" → value. */
  hostData(id: string): Promise<Record<string, string>> {
    return this.op(async () => {
      const out: Record<string, string> = {};
      const prefix = clusterKeys.hostDataOf(id);
      for (const e of await this.store.list(prefix)) {
        for (const [k, v] of Object.entries(JSON.parse(e.value) as Record<string, string>)) out[`${e.key.slice(prefix.length)}/${k}`] = v;
      }
      return out;
    });
  }

  /** Throw StoreUnavailableError at once while the store is away (nothing is sent). */
  assertAvailable(): void {
    if (this.refusal) throw this.refusal;
    if (this.state === 'unavailable') throw new StoreUnavailableError('cluster store unavailable (waiting for it to return)');
  }

  definePool(input: { id: string; cidr: string; reserved: string[]; blockPrefix?: number }): Promise<void> {
    return this.op(async () => {
      await this.ipam.definePool(input);
    });
  }

  deletePool(id: string): Promise<void> {
    return this.op(() => this.ipam.deletePool(id));
  }

  poolAddresses(pool: string): Promise<Map<string, { handle: string; host: string }>> {
    return this.op(() => this.ipam.addresses(pool));
  }

  /**
   * Give an address back. While the store is away the release is journaled and done when it
   * returns (before anything is re-claimed), so a rollback never leaves an address leaked.
   */
  async release(pool: string, address: string, handle: string): Promise<boolean> {
    try {
      return await this.op(() => this.ipam.release(pool, address, handle));
    } catch (err) {
      if (!isUnavailable(err)) throw err;
      this.ipam.deferRelease(pool, address, handle);
      this.log('warn', { pool, address }, 'cluster store away: address release deferred until it returns');
      return true;
    }
  }

  view(): HostView[] {
    return this.core.views();
  }

  async hosts(): Promise<HostInfo[]> {
    return this.op(async () => {
      const [hosts, eps, blocks] = await Promise.all([
        this.store.snapshot(clusterKeys.hosts),
        this.store.snapshot(clusterKeys.endpoints),
        this.ipam.blocks(),
      ]);
      const epCount = new Map<string, number>();
      for (const e of eps.entries) {
        const h = (JSON.parse(e.value) as { host?: string }).host;
        if (h) epCount.set(h, (epCount.get(h) ?? 0) + 1);
      }
      const alive = new Map<string, AliveRecord>();
      const records: StoredHostRecord[] = [];
      for (const e of hosts.entries) {
        const k = parseHostKey(e.key);
        if (k?.alive) alive.set(k.id, JSON.parse(e.value) as AliveRecord);
        else if (k) records.push(JSON.parse(e.value) as StoredHostRecord);
      }
      const now = Date.now();
      const out: HostInfo[] = [];
      for (const r of records) {
        const a = alive.get(r.id);
        let lastSeen = r.downSince ?? now;
        if (a) {
          // The lease's remaining TTL says when the host last renewed it.
          const left = await this.store.leaseRemaining(a.lease);
          lastSeen = left === undefined ? now : now - Math.max(0, Math.ceil(this.ttlMs / 1000) * 1000 - left);
        }
        const mine = this.core.view(r.id);
        out.push({
          id: r.id,
          name: r.name,
          address: a?.address ?? r.address,
          registeredAt: r.registeredAt,
          state: a ? 'up' : 'down',
          since: mine?.since ?? (a ? a.since : (r.downSince ?? now)),
          ...(a ? { lease: a.lease } : {}),
          lastSeen,
          endpoints: epCount.get(r.id) ?? 0,
          blocks: blocks.filter((b) => b.owner === r.id).map((b) => `${b.pool}:${b.cidr}`),
          self: r.id === this.hostId,
        });
      }
      return out.sort((x, y) => x.name.localeCompare(y.name) || x.id.localeCompare(y.id));
    });
  }

  async host(idOrName: string): Promise<HostInfo> {
    const all = await this.hosts();
    const h = all.find((x) => x.id === idOrName) ?? all.find((x) => x.name === idOrName) ?? all.filter((x) => x.id.startsWith(idOrName));
    if (Array.isArray(h)) {
      if (h.length === 1) return h[0]!;
      throw new WeftError(
        h.length === 0 ? 'WEFT_NOT_FOUND' : 'WEFT_INVALID_ARGUMENT',
        `host "${idOrName}" ${h.length === 0 ? 'not found' : 'is ambiguous'}`,
        {
          field: 'host',
        },
      );
    }
    return h;
  }

  mirror(prefix: string, m: PrefixMirror): () => void {
    let stop: (() => void) | undefined;
    let done = false;
    const begin = async (): Promise<void> => {
      const snap = await this.store.snapshot(prefix);
      if (done) return;
      m.onSnapshot(snap);
      stop = this.store.watchFrom(prefix, snap.revision, {
        onEvent: (e, rev) => m.onEvent(e, rev),
        onLost: () => void restart(),
      });
    };
    const restart = async (): Promise<void> => {
      stop?.();
      for (let delay = 100; !done; delay = Math.min(delay * 2, 2000)) {
        try {
          await begin();
          return;
        } catch (err) {
          this.storeFailed(err);
          await new Promise((r) => setTimeout(r, delay));
        }
      }
    };
    void restart();
    const cancel = (): void => {
      done = true;
      stop?.();
      this.mirrors.delete(cancel);
    };
    this.mirrors.add(cancel);
    return cancel;
  }

  async stop(): Promise<void> {
    await this.shutdown(true);
  }

  /** Stop renewing without revoking: others see this host die (tests, fault injection). */
  crash(): void {
    this.registry.abandon();
    void this.shutdown(false);
  }

  private async shutdown(deregister: boolean): Promise<void> {
    this.stopped = true;
    if (this.graceTimer) clearTimeout(this.graceTimer);
    if (this.probeTimer) clearTimeout(this.probeTimer);
    if (this.healthTimer) clearInterval(this.healthTimer);
    this.stopHosts?.();
    this.stopHosts = undefined;
    for (const m of [...this.mirrors]) m();
    if (deregister) await this.registry.deregister();
    else this.registry.abandon();
  }
}
