/**
 * Subnet leases on the cluster store, Flannel's subnet manager: each host holds one subnet per
 * hostsubnet network under `leases/<network>/<subnet>`, written with a create-only transaction
 * (two hosts can never hold one subnet) and attached to an etcd lease with a long TTL (24 h by
 * default) that this process keeps alive. A host keeps its subnet across restarts (it finds its
 * own record and takes it over), and across an outage or a lost etcd lease (a journal in the
 * state dir names its subnets; it re-claims them before anything new is leased). Leases of dead
 * hosts expire with their TTL and the subnet is free again; watchers hear the delete.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { InvalidArgumentError, StoreConflictError } from '../errors.js';
import {
  leaseOrder,
  parseLeaseRecord,
  subnetFromKeyName,
  subnetKeyName,
  SubnetPoolExhaustedError,
  type LeaseRecord,
  type SubnetConfig,
} from '../ipam/subnet-leases.js';
import type { ClusterStore, StoreLease } from '../store/cluster-store.js';
import type { KvEntry } from '../store/store.js';
import { LockQueue } from '../store/lock-queue.js';

export const DEFAULT_SUBNET_LEASE_TTL_MS = 24 * 3600 * 1000;

export const leaseKeys = {
  all: 'leases/',
  network: (net: string) => `leases/${net}/`,
  lease: (net: string, subnet: string) => `leases/${net}/${subnetKeyName(subnet)}`,
};

/** What a host asks for when it leases: where others reach it and its backend's data. */
export interface LeaseAttrs {
  publicIp: string;
  backend: LeaseRecord['backend'];
  data: Record<string, string>;
}

export interface LeaseWatcher {
  /** Every lease of the network (first, and again after a lost watch). */
  onSnapshot(leases: LeaseRecord[]): void;
  onPut(lease: LeaseRecord): void;
  /** A lease expired or was released. */
  onDelete(subnet: string): void;
}

export interface SubnetLeaserOptions {
  ttlMs?: number;
  /** File in the state dir remembering this host's subnets (none: memory only). */
  journalFile?: string;
  log?: (level: 'info' | 'warn' | 'error', fields: Record<string, unknown>, msg: string) => void;
}

interface Journal {
  /** network id → subnet this host holds there. */
  leases: Record<string, string>;
}

const MAX_ATTEMPTS = 16;

export class SubnetLeaser {
  readonly ttlMs: number;
  private lease: StoreLease | undefined;
  private granting: Promise<StoreLease> | undefined;
  private journal: Journal;
  /** What this host wrote last per network, to re-put after a lost etcd lease. */
  private readonly held = new Map<string, LeaseRecord>();
  private readonly local = new LockQueue();
  private lostListeners: ((network: string, subnet: string, by: string) => void)[] = [];
  private closed = false;

  constructor(
    private readonly store: ClusterStore,
    readonly hostId: string,
    private readonly o: SubnetLeaserOptions = {},
  ) {
    this.ttlMs = o.ttlMs ?? DEFAULT_SUBNET_LEASE_TTL_MS;
    this.journal = this.readJournal();
  }

  /** Called when a subnet this host held was taken by another host while it was away. */
  onLeaseLost(cb: (network: string, subnet: string, by: string) => void): void {
    this.lostListeners.push(cb);
  }

  /** The subnet this host holds in a network, from its journal (no store read). */
  mine(network: string): string | undefined {
    return this.journal.leases[network];
  }

  private async storeLease(): Promise<StoreLease> {
    if (this.lease) return this.lease;
    this.granting ??= (async () => {
      try {
        const l = await this.store.grantLease(this.ttlMs);
        l.onLost((reason) => {
          if (this.lease !== l || this.closed) return;
          this.lease = undefined;
          this.o.log?.('warn', { reason }, 'subnet lease lost in the store; re-claiming');
          void this.recover().catch((err: unknown) => this.o.log?.('error', { err: String(err) }, 're-claiming subnets failed'));
        });
        this.lease = l;
        return l;
      } finally {
        this.granting = undefined;
      }
    })();
    return this.granting;
  }

  /**
   * Lease a subnet of `network` for this host, or take over the one it already holds (its own
   * record, or the subnet its journal names if nobody took it meanwhile). Idempotent.
   */
  async acquire(network: string, cfg: SubnetConfig, attrs: LeaseAttrs): Promise<LeaseRecord> {
    if (network === '' || network.includes('/')) throw new InvalidArgumentError('network', `"${network}" is not a network id`);
    const unlock = await this.local.acquire(`lease/${network}`, 30_000);
    try {
      return await this.acquireLocked(network, cfg, attrs);
    } finally {
      unlock();
    }
  }

  private async acquireLocked(network: string, cfg: SubnetConfig, attrs: LeaseAttrs): Promise<LeaseRecord> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const snap = await this.store.snapshot(leaseKeys.network(network));
      const entries = snap.entries.map((e) => ({ e, rec: parseLeaseRecord(e.value) })).filter((x) => x.rec !== undefined);
      // 1. Our own record (a restart): take it over with a fresh etcd lease and current data.
      const own = entries.find((x) => x.rec!.hostId === this.hostId);
      if (own) {
        const got = await this.put(network, own.rec!.subnet, own.e, attrs);
        if (got) return got;
        continue;
      }
      // 2. The subnet our journal names, if it is free (the lease expired while we were away).
      const taken = new Set(entries.map((x) => x.rec!.subnet));
      const remembered = this.journal.leases[network];
      const order = leaseOrder(cfg, taken, this.hostId);
      if (remembered !== undefined && order.includes(remembered)) order.unshift(remembered);
      if (order.length === 0) throw new SubnetPoolExhaustedError(cfg, taken.size);
      // 3. A free subnet, create-only: a racing host makes this fail and we look again.
      for (const subnet of order.slice(0, 3)) {
        const got = await this.put(network, subnet, undefined, attrs);
        if (got) return got;
      }
    }
    throw new StoreConflictError(`leasing a subnet of ${network} kept racing with other hosts`);
  }

  /** One transaction writing our record, if the key is still as we read it. */
  private async put(network: string, subnet: string, prev: KvEntry | undefined, attrs: LeaseAttrs): Promise<LeaseRecord | undefined> {
    const lease = await this.storeLease();
    const rec: LeaseRecord = { subnet, hostId: this.hostId, ...attrs, renewedAt: Date.now() };
    const key = leaseKeys.lease(network, subnet);
    const r = await this.store.txn({
      checks: [{ key, version: prev?.version ?? 0 }],
      puts: [{ key, value: JSON.stringify(rec), lease: lease.id }],
    });
    if (!r.ok) return undefined;
    this.held.set(network, rec);
    if (this.journal.leases[network] !== subnet) {
      this.journal.leases[network] = subnet;
      this.writeJournal();
    }
    this.o.log?.('info', { network, subnet, reclaimed: prev !== undefined }, 'subnet leased');
    return rec;
  }

  /** Give the subnet back (network removed on this host). Not held = success. */
  async release(network: string): Promise<boolean> {
    const unlock = await this.local.acquire(`lease/${network}`, 30_000);
    try {
      const subnet = this.journal.leases[network] ?? this.held.get(network)?.subnet;
      this.held.delete(network);
      let released = false;
      if (subnet !== undefined) {
        const key = leaseKeys.lease(network, subnet);
        const e = await this.store.get(key);
        if (e && parseLeaseRecord(e.value)?.hostId === this.hostId) {
          released = await this.store.commit({ checks: [{ key, version: e.version }], deletes: [key] });
        }
      }
      delete this.journal.leases[network];
      this.writeJournal();
      return released;
    } finally {
      unlock();
    }
  }

  /**
   * A host is gone (down past the cluster's grace): delete its leases in every network, each a
   * compare-and-set, so several agents doing it at once is harmless. Returns how many went.
   */
  async reclaimHost(deadId: string): Promise<number> {
    if (deadId === this.hostId) return 0;
    let n = 0;
    for (const e of (await this.store.snapshot(leaseKeys.all)).entries) {
      if (parseLeaseRecord(e.value)?.hostId !== deadId) continue;
      if (await this.store.commit({ checks: [{ key: e.key, version: e.version }], deletes: [e.key] })) n++;
    }
    return n;
  }

  /** Every lease of a network, as the store has it now. */
  async leases(network: string): Promise<LeaseRecord[]> {
    const snap = await this.store.snapshot(leaseKeys.network(network));
    return snap.entries.map((e) => parseLeaseRecord(e.value)).filter((r): r is LeaseRecord => r !== undefined);
  }

  /**
   * After an outage or a lost etcd lease: put back every subnet this host held (create-only
   * where the key vanished, take-over where our record is still there). Returns what was lost
   * to another host, which the caller must handle (the bridge's gateway changes).
   */
  async recover(): Promise<{ kept: string[]; lost: { network: string; subnet: string; by: string }[] }> {
    const kept: string[] = [];
    const lost: { network: string; subnet: string; by: string }[] = [];
    for (const [network, subnet] of Object.entries(this.journal.leases)) {
      const prev = this.held.get(network);
      if (!prev) continue; // not acquired in this process yet: acquire() re-claims it
      const e = await this.store.get(leaseKeys.lease(network, subnet));
      const rec = e ? parseLeaseRecord(e.value) : undefined;
      if (rec && rec.hostId !== this.hostId) {
        lost.push({ network, subnet, by: rec.hostId });
        this.held.delete(network);
        for (const cb of this.lostListeners) cb(network, subnet, rec.hostId);
        continue;
      }
      const got = await this.put(network, subnet, e, { publicIp: prev.publicIp, backend: prev.backend, data: prev.data });
      if (got) kept.push(subnet);
    }
    return { kept, lost };
  }

  /** Follow a network's leases: a full read, then events; a full read again whenever the watch is lost. */
  watch(network: string, w: LeaseWatcher): () => void {
    let stop: (() => void) | undefined;
    let done = false;
    const prefix = leaseKeys.network(network);
    const begin = async (): Promise<void> => {
      for (let delay = 100; !done; delay = Math.min(delay * 2, 2000)) {
        try {
          const snap = await this.store.snapshot(prefix);
          if (done) return;
          w.onSnapshot(snap.entries.map((e) => parseLeaseRecord(e.value)).filter((r): r is LeaseRecord => r !== undefined));
          stop = this.store.watchFrom(prefix, snap.revision, {
            onEvent: (e) => {
              if (e.type === 'delete') w.onDelete(subnetFromKeyName(e.key.slice(prefix.length)));
              else {
                const rec = e.value === undefined ? undefined : parseLeaseRecord(e.value);
                if (rec) w.onPut(rec);
              }
            },
            onLost: () => {
              stop?.();
              void begin();
            },
          });
          return;
        } catch (err) {
          this.o.log?.('warn', { network, err: String(err) }, 'lease watch failed; retrying');
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

  /** Stop renewing; with `revoke`, every lease of this host vanishes now (a graceful leave of the cluster). */
  async close(revoke = false): Promise<void> {
    this.closed = true;
    const l = this.lease;
    this.lease = undefined;
    if (revoke) await l?.revoke();
    else l?.abandon();
  }

  private readJournal(): Journal {
    if (!this.o.journalFile) return { leases: {} };
    try {
      const j = JSON.parse(readFileSync(this.o.journalFile, 'utf8')) as Partial<Journal>;
      return { leases: typeof j.leases === 'object' && j.leases !== null ? j.leases : {} };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { leases: {} };
      throw new InvalidArgumentError('state-dir', `subnet lease journal ${this.o.journalFile} is unreadable: ${(err as Error).message}`);
    }
  }

  private writeJournal(): void {
    if (!this.o.journalFile) return;
    writeFileSync(`${this.o.journalFile}.tmp`, JSON.stringify(this.journal), { mode: 0o600 });
    renameSync(`${this.o.journalFile}.tmp`, this.o.journalFile);
  }
}
