/**
 * An etcd lease kept alive by this process. Keepalives go out every third of the TTL, each as
 * one short request, so a reconnect after an outage needs no stream bookkeeping. A lease is
 * "lost" only when etcd says so (TTL 0 in a keepalive reply, or "lease not found"): while etcd
 * is unreachable nobody can tell, and after a restart etcd gives every lease a fresh TTL, so a
 * host that keeps renewing keeps its lease across an outage.
 */
import type { Etcd3 } from 'etcd3';
import { EtcdLeaseInvalidError } from 'etcd3';
import type { StoreLease } from './cluster-store.js';
import { bounded } from './etcd-client.js';

export class EtcdLease implements StoreLease {
  private timer: NodeJS.Timeout | undefined;
  private lostCbs: ((reason: string) => void)[] = [];
  private lost = false;
  private renewed = Date.now();
  private inFlight = false;

  private constructor(
    private readonly client: Etcd3,
    readonly id: string,
    readonly ttlMs: number,
    private readonly opTimeoutMs: number,
    private readonly count: () => void,
  ) {}

  /** Grant a lease of ttlMs (rounded up to whole seconds, as etcd counts) and start renewing it. */
  static async grant(client: Etcd3, ttlMs: number, opTimeoutMs: number, count: () => void): Promise<EtcdLease> {
    const ttl = Math.max(1, Math.ceil(ttlMs / 1000));
    count();
    const res = await bounded('lease grant', opTimeoutMs, () => client.leaseClient.leaseGrant({ TTL: ttl }));
    const lease = new EtcdLease(client, res.ID, ttl * 1000, opTimeoutMs, count);
    lease.timer = setInterval(() => void lease.renew(), Math.max(200, Math.floor((ttl * 1000) / 3)));
    lease.timer.unref();
    return lease;
  }

  /** Still renewed (not revoked, abandoned or lost). */
  get active(): boolean {
    return !this.lost;
  }

  onLost(cb: (reason: string) => void): void {
    this.lostCbs.push(cb);
  }

  lastRenewed(): number {
    return this.renewed;
  }

  /** One keepalive round trip; failures while etcd is away are retried on the next tick. */
  private async renew(): Promise<void> {
    if (this.inFlight || this.lost || this.timer === undefined) return;
    this.inFlight = true;
    try {
      this.count();
      const ttl = await bounded('lease keepalive', this.opTimeoutMs, () => this.keepaliveOnce());
      if (ttl <= 0) this.markLost('etcd reports the lease expired');
      else this.renewed = Date.now();
    } catch (err) {
      if ((err as { cause?: unknown }).cause instanceof EtcdLeaseInvalidError) this.markLost('etcd no longer knows the lease');
      // Otherwise etcd is unreachable: keep trying; the agent sees the outage through its own calls.
    } finally {
      this.inFlight = false;
    }
  }

  private async keepaliveOnce(): Promise<number> {
    const stream = await this.client.leaseClient.leaseKeepAlive();
    try {
      return await new Promise<number>((resolve, reject) => {
        stream.on('data', (res: { TTL: string }) => resolve(Number(res.TTL)));
        stream.on('error', reject);
        stream.on('end', () => reject(new Error('keepalive stream ended without a reply')));
        stream.write({ ID: this.id });
      });
    } finally {
      stream.end();
    }
  }

  private markLost(reason: string): void {
    if (this.lost) return;
    this.lost = true;
    this.stopTimer();
    for (const cb of this.lostCbs) cb(reason);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async revoke(): Promise<void> {
    this.stopTimer();
    this.lost = true;
    this.count();
    try {
      await bounded('lease revoke', this.opTimeoutMs, () => this.client.leaseClient.leaseRevoke({ ID: this.id }));
    } catch (err) {
      // Already expired or revoked: the goal (lease gone) holds.
      if (!((err as { cause?: unknown }).cause instanceof EtcdLeaseInvalidError)) throw err;
    }
  }

  abandon(): void {
    this.stopTimer();
    this.lost = true;
  }
}
