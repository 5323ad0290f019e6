/**
 * This host's registration: the record `hosts/<id>` and the liveness key `hosts/<id>/alive`
 * held by a short-TTL lease that is kept alive. One transaction writes both, so a host is never
 * half-registered. A second host claiming the same id is refused (its token differs); the same
 * host restarting takes its own keys over without waiting for the old lease to expire.
 */
import { createHash } from 'node:crypto';
import { ConflictError } from '../errors.js';
import type { ClusterStore, StoreLease } from '../store/cluster-store.js';
import { clusterKeys } from './cluster-keys.js';
import type { AliveRecord, HostRecord } from './host-state-core.js';
import type { HostIdentity } from './host-identity.js';

/** The record carries a hash of the token: it identifies the host without revealing the secret. */
export interface StoredHostRecord extends HostRecord {
  tokenHash: string;
}

export interface RegistryOptions {
  name: string;
  address: string;
  address6?: string;
  ttlMs: number;
}

const hashToken = (t: string): string => createHash('sha256').update(t).digest('hex').slice(0, 32);

/**
 * The id belongs to another host (live, or its record not yet reclaimed): final, unlike a
 * registration race or an outage, so whoever meets it stops trying (the agent after an outage,
 * as weftd at a start). Same code and field as any other host-id conflict.
 */
export class HostIdTakenError extends ConflictError {
  constructor(message: string) {
    super('host-id', message);
  }
}

export class HostRegistry {
  private lease: StoreLease | undefined;
  private lostHandler: ((reason: string) => void) | undefined;

  constructor(
    private readonly store: ClusterStore,
    readonly identity: HostIdentity,
    readonly opts: RegistryOptions,
  ) {}

  /** Called when the store says our lease is gone (the agent then registers again). */
  onLeaseLost(cb: (reason: string) => void): void {
    this.lostHandler = cb;
  }

  /** When the lease was last renewed (ms since epoch), or undefined when not registered. */
  lastRenewed(): number | undefined {
    return this.lease?.lastRenewed();
  }

  get leaseId(): string | undefined {
    return this.lease?.id;
  }

  /** Register (or take over our own stale registration). Throws HostIdTakenError for a duplicate id, nothing written. */
  async register(): Promise<void> {
    const { id, token } = this.identity;
    for (let attempt = 0; ; attempt++) {
      const [rec, alive] = await Promise.all([this.store.get(clusterKeys.host(id)), this.store.get(clusterKeys.alive(id))]);
      const record = rec ? (JSON.parse(rec.value) as StoredHostRecord) : undefined;
      const live = alive ? (JSON.parse(alive.value) as AliveRecord) : undefined;
      if (live && live.token !== hashToken(token)) {
        throw new HostIdTakenError(`host id "${id}" is already registered by a live host at ${live.address} (pid ${live.pid})`);
      }
      if (live && live.address !== this.opts.address) {
        throw new HostIdTakenError(`host id "${id}" is live at ${live.address}: a copy of this host's state directory runs there`);
      }
      if (record && record.tokenHash !== hashToken(token)) {
        throw new HostIdTakenError(
          `host id "${id}" belongs to another host (last at ${record.address}); it is free again once that host is gone`,
        );
      }
      const lease = await this.store.grantLease(this.opts.ttlMs);
      const next: StoredHostRecord = {
        id,
        name: this.opts.name,
        address: this.opts.address,
        ...(this.opts.address6 !== undefined ? { address6: this.opts.address6 } : {}),
        registeredAt: record?.registeredAt ?? new Date().toISOString(),
        tokenHash: hashToken(token),
      };
      const aliveRec: AliveRecord = {
        token: hashToken(token),
        address: this.opts.address,
        pid: process.pid,
        lease: lease.id,
        since: Date.now(),
      };
      let ok = false;
      try {
        ok = (
          await this.store.txn({
            checks: [
              { key: clusterKeys.host(id), version: rec?.version ?? 0 },
              { key: clusterKeys.alive(id), version: alive?.version ?? 0 },
            ],
            puts: [
              { key: clusterKeys.host(id), value: JSON.stringify(next) },
              { key: clusterKeys.alive(id), value: JSON.stringify(aliveRec), lease: lease.id },
            ],
          })
        ).ok;
      } finally {
        if (!ok) await lease.revoke();
      }
      if (ok) {
        const old = this.lease;
        this.lease = lease;
        lease.onLost((reason) => {
          if (this.lease === lease) this.lostHandler?.(reason);
        });
        // A previous incarnation's lease (ours, before a crash or an outage) is not needed any more.
        if (old && old !== lease) old.abandon();
        return;
      }
      if (attempt >= 5) throw new ConflictError('host-id', `host id "${id}": registration kept racing with another writer`);
    }
  }

  /** After an outage: true when our liveness key is still ours, else register again. */
  async ensure(): Promise<'kept' | 'registered'> {
    const alive = await this.store.get(clusterKeys.alive(this.identity.id));
    const live = alive ? (JSON.parse(alive.value) as AliveRecord) : undefined;
    if (live && this.lease && live.lease === this.lease.id && (await this.store.leaseRemaining(this.lease.id)) !== undefined) return 'kept';
    await this.register();
    return 'registered';
  }

  /** Graceful stop: revoke the lease, so others see this host down at once. */
  async deregister(): Promise<void> {
    const l = this.lease;
    this.lease = undefined;
    await l?.revoke();
  }

  /** Stop renewing without telling anyone (a crash, for tests). */
  abandon(): void {
    this.lease?.abandon();
    this.lease = undefined;
  }
}

export { hashToken };
