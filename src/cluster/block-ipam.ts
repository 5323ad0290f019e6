/**
 * Cluster IPAM on the store, Calico-style: a host hands out addresses from blocks it owns with
 * one compare-and-set on the block key (usually one request: it caches its own blocks with
 * their versions, and only it writes them), claims a new block with a create-only transaction
 * when its blocks are full, and borrows single addresses from other hosts' blocks when every
 * block is taken. Blocks are deleted when their last address is released, and a gone host's
 * blocks and addresses are reclaimed. Every change is one transaction on one block key, so two
 * hosts can never hand out the same address.
 *
 * A journal in the state directory remembers this host's blocks and addresses, so after an
 * outage (or a partition longer than the grace) it re-claims what is still its own before it
 * allocates anything new, and reports what it lost.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { IpamExhaustedError, InvalidArgumentError, NotFoundError, StoreConflictError } from '../errors.js';
import {
  blockAddress,
  blockOf,
  claimOrder,
  freeOffset,
  resolveClusterPool,
  withoutHost,
  type BlockRecord,
  type ClusterPool,
} from '../ipam/cluster-blocks.js';
import type { ClusterStore } from '../store/cluster-store.js';
import type { KvEntry } from '../store/store.js';
import { clusterKeys } from './cluster-keys.js';
import { LockQueue } from '../store/lock-queue.js';

export interface ClusterAllocation {
  pool: string;
  address: string;
  block: string;
  handle: string;
  /** Taken from another host's block because no block was free. */
  borrowed: boolean;
}

interface Cached {
  rec: BlockRecord;
  version: number;
}

interface Journal {
  allocations: ClusterAllocation[];
}

const MAX_ATTEMPTS = 32;

export class BlockIpam {
  private readonly pools = new Map<string, ClusterPool>();
  /** Blocks this host owns, per pool, with the version it last wrote or read. */
  private readonly mine = new Map<string, Map<string, Cached>>();
  private journal: Journal;
  /** One change at a time per pool on this host: its own requests never race each other. */
  private readonly local = new LockQueue();

  constructor(
    private readonly store: ClusterStore,
    readonly hostId: string,
    private readonly journalFile?: string,
  ) {
    this.journal = this.readJournal();
  }

  /** Create a pool, or check that an existing one has the same shape. */
  async definePool(input: { id: string; cidr: string; blockPrefix?: number; reserved?: string[] }): Promise<ClusterPool> {
    const pool = resolveClusterPool(input);
    const key = clusterKeys.poolConfig(pool.id);
    const ok = await this.store.commit({ checks: [{ key, version: 0 }], puts: [{ key, value: JSON.stringify(pool) }] });
    if (!ok) {
      const existing = await this.pool(pool.id);
      if (existing.cidr !== pool.cidr || existing.blockPrefix !== pool.blockPrefix || existing.reserved.join() !== pool.reserved.join()) {
        throw new InvalidArgumentError('pool', `pool "${pool.id}" exists as ${existing.cidr} with /${existing.blockPrefix} blocks`);
      }
      return existing;
    }
    this.pools.set(pool.id, pool);
    return pool;
  }

  /** A pool's definition (cached: pools never change shape). */
  async pool(id: string): Promise<ClusterPool> {
    const cached = this.pools.get(id);
    if (cached) return cached;
    const e = await this.store.get(clusterKeys.poolConfig(id));
    if (!e) throw new NotFoundError('pool', id);
    const pool = JSON.parse(e.value) as ClusterPool;
    this.pools.set(id, pool);
    return pool;
  }

  /** Drop a pool definition (and blocks) once nothing is allocated in it. */
  async deletePool(id: string): Promise<void> {
    const blocks = await this.store.snapshot(clusterKeys.blocks(id));
    const used = blocks.entries.filter((e) => Object.keys((JSON.parse(e.value) as BlockRecord).allocations).length > 0);
    if (used.length > 0) throw new StoreConflictError(`pool "${id}" still has addresses in ${used.length} block(s)`);
    const ok = await this.store.commit({
      checks: blocks.entries.map((e) => ({ key: e.key, version: e.version })),
      deletes: [clusterKeys.poolConfig(id), ...blocks.entries.map((e) => e.key)],
    });
    if (!ok) throw new StoreConflictError(`pool "${id}" changed while being deleted`);
    this.pools.delete(id);
    this.mine.delete(id);
  }

  private async myBlocks(pool: ClusterPool): Promise<Map<string, Cached>> {
    let m = this.mine.get(pool.id);
    if (m) return m;
    m = new Map();
    for (const e of (await this.store.snapshot(clusterKeys.blocks(pool.id))).entries) {
      const rec = JSON.parse(e.value) as BlockRecord;
      if (rec.owner === this.hostId) m.set(rec.cidr, { rec, version: e.version });
    }
    this.mine.set(pool.id, m);
    return m;
  }

  /** Hand out one address of the pool to `handle`. */
  async allocate(poolId: string, handle: string): Promise<ClusterAllocation> {
    if (handle === '') throw new InvalidArgumentError('handle', 'must not be empty');
    const unlock = await this.local.acquire(`pool/${poolId}`, 30_000);
    try {
      return await this.allocateLocked(poolId, handle);
    } finally {
      unlock();
    }
  }

  private async allocateLocked(poolId: string, handle: string): Promise<ClusterAllocation> {
    const pool = await this.pool(poolId);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const mine = await this.myBlocks(pool);
      // 1. An owned block with room: one CAS on its key.
      let raced = false;
      for (const [cidr, c] of [...mine].sort((a, b) => a[0].localeCompare(b[0]))) {
        const off = freeOffset(pool, c.rec);
        if (off === undefined) continue;
        const got = await this.take(pool, c, off, handle, false);
        if (got) return got;
        raced = true;
        await this.refresh(pool, cidr);
        break;
      }
      if (raced) continue;
      // 2. Claim a free block, with the first address in the same transaction.
      const all = await this.store.snapshot(clusterKeys.blocks(pool.id));
      const records = all.entries.map((e) => ({ e, rec: JSON.parse(e.value) as BlockRecord }));
      const claimed = new Set(records.map((r) => r.rec.cidr));
      const candidate = claimOrder(pool, claimed, this.hostId)[0];
      if (candidate !== undefined) {
        const rec: BlockRecord = { cidr: candidate, owner: this.hostId, allocations: {} };
        const got = await this.take(pool, { rec, version: 0 }, freeOffset(pool, rec)!, handle, false);
        if (got) return got;
        continue; // another host claimed it first
      }
      // 3. Every block is taken: borrow one address from a block with room (Calico's fallback).
      const lender = records.find((r) => r.rec.owner !== this.hostId && freeOffset(pool, r.rec) !== undefined);
      if (lender === undefined) {
        // Own blocks may have changed under us (a borrower); one more pass with fresh reads.
        if (records.some((r) => r.rec.owner === this.hostId && freeOffset(pool, r.rec) !== undefined)) {
          this.mine.delete(pool.id);
          continue;
        }
        throw new IpamExhaustedError(`cluster pool ${pool.id} (${pool.cidr})`);
      }
      const got = await this.take(pool, { rec: lender.rec, version: lender.e.version }, freeOffset(pool, lender.rec)!, handle, true);
      if (got) return got;
    }
    throw new StoreConflictError(`allocation in pool ${poolId} kept racing with other hosts`);
  }

  /** One CAS adding an allocation at `off`; undefined when the block changed first. */
  private async take(pool: ClusterPool, c: Cached, off: number, handle: string, borrowed: boolean): Promise<ClusterAllocation | undefined> {
    const rec: BlockRecord = { ...c.rec, allocations: { ...c.rec.allocations, [String(off)]: { handle, host: this.hostId } } };
    const key = clusterKeys.block(pool.id, rec.cidr);
    const r = await this.store.txn({ checks: [{ key, version: c.version }], puts: [{ key, value: JSON.stringify(rec) }] });
    if (!r.ok) return undefined;
    if (rec.owner === this.hostId) (await this.myBlocks(pool)).set(rec.cidr, { rec, version: r.revision });
    const a: ClusterAllocation = { pool: pool.id, address: blockAddress(rec.cidr, off), block: rec.cidr, handle, borrowed };
    this.journal.allocations.push(a);
    this.writeJournal();
    return a;
  }

  private async refresh(pool: ClusterPool, cidr: string): Promise<void> {
    const e = await this.store.get(clusterKeys.block(pool.id, cidr));
    const mine = await this.myBlocks(pool);
    const rec = e ? (JSON.parse(e.value) as BlockRecord) : undefined;
    if (e && rec?.owner === this.hostId) mine.set(cidr, { rec, version: e.version });
    else mine.delete(cidr);
  }

  /**
   * Release an address held by `handle`. False when it is not held by that handle (already
   * released, or reclaimed): release is idempotent. A block left empty is deleted.
   */
  async release(poolId: string, address: string, handle: string): Promise<boolean> {
    const unlock = await this.local.acquire(`pool/${poolId}`, 30_000);
    try {
      return await this.releaseLocked(poolId, address, handle);
    } finally {
      unlock();
    }
  }

  private async releaseLocked(poolId: string, address: string, handle: string): Promise<boolean> {
    const pool = await this.pool(poolId);
    const where = blockOf(pool, address);
    if (!where) throw new InvalidArgumentError('address', `${address} is outside pool ${pool.id} (${pool.cidr})`);
    const key = clusterKeys.block(pool.id, where.cidr);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const cached = (await this.myBlocks(pool)).get(where.cidr);
      let c: Cached | undefined = cached;
      if (!c) {
        const e = await this.store.get(key);
        if (!e) return this.forget(pool.id, address, handle, false);
        c = { rec: JSON.parse(e.value) as BlockRecord, version: e.version };
      }
      const held = c.rec.allocations[String(where.offset)];
      if (!held || held.handle !== handle) {
        if (cached) {
          await this.refresh(pool, where.cidr); // our cache may be stale: look again once
          if ((await this.myBlocks(pool)).get(where.cidr)?.version !== cached.version) continue;
        }
        return this.forget(pool.id, address, handle, false);
      }
      const allocations = { ...c.rec.allocations };
      delete allocations[String(where.offset)];
      const empty = Object.keys(allocations).length === 0;
      // An empty block goes back to the pool, unless it belongs to a live other host (a lender).
      const drop = empty && (c.rec.owner === this.hostId || c.rec.owner === null);
      const rec: BlockRecord = { ...c.rec, allocations };
      const r = await this.store.txn(
        drop
          ? { checks: [{ key, version: c.version }], deletes: [key] }
          : { checks: [{ key, version: c.version }], puts: [{ key, value: JSON.stringify(rec) }] },
      );
      if (!r.ok) {
        if (cached) await this.refresh(pool, where.cidr);
        continue;
      }
      const mine = await this.myBlocks(pool);
      if (drop || rec.owner !== this.hostId) mine.delete(where.cidr);
      else mine.set(where.cidr, { rec, version: r.revision });
      return this.forget(pool.id, address, handle, true);
    }
    throw new StoreConflictError(`release of ${address} kept racing with other hosts`);
  }

  private forget(pool: string, address: string, handle: string, result: boolean): boolean {
    const before = this.journal.allocations.length;
    this.journal.allocations = this.journal.allocations.filter((a) => !(a.pool === pool && a.address === address && a.handle === handle));
    if (this.journal.allocations.length !== before) this.writeJournal();
    return result;
  }

  /**
   * A host is gone: remove its addresses from every block, delete the blocks left empty, and
   * release its ownership of blocks that still hold borrowed addresses of live hosts.
   */
  async reclaimHost(deadId: string): Promise<{ blocks: number; addresses: number }> {
    let blocks = 0;
    let addresses = 0;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const snap = await this.store.snapshot(clusterKeys.ipam);
      const touched = snap.entries
        .filter((e) => e.key.includes('/blocks/'))
        .map((e) => ({ e, rec: JSON.parse(e.value) as BlockRecord }))
        .filter(({ rec }) => rec.owner === deadId || Object.values(rec.allocations).some((a) => a.host === deadId));
      if (touched.length === 0) return { blocks, addresses };
      let raced = false;
      for (const { e, rec } of touched) {
        const next = withoutHost(rec, deadId);
        const r = await this.store.txn(
          next.empty && next.block.owner === null
            ? { checks: [{ key: e.key, version: e.version }], deletes: [e.key] }
            : { checks: [{ key: e.key, version: e.version }], puts: [{ key: e.key, value: JSON.stringify(next.block) }] },
        );
        if (!r.ok) raced = true;
        else {
          if (rec.owner === deadId) blocks++;
          addresses += next.removed;
        }
      }
      if (!raced) return { blocks, addresses };
    }
    throw new StoreConflictError(`reclaiming host ${deadId} kept racing with other hosts`);
  }

  /**
   * After an outage: read every block this host's journal names; keep what is still ours,
   * re-claim blocks and addresses nobody took meanwhile, and report the addresses lost to others.
   */
  async recover(): Promise<{ kept: number; reclaimed: number; lost: ClusterAllocation[] }> {
    this.mine.clear();
    let kept = 0;
    let reclaimed = 0;
    const lost: ClusterAllocation[] = [];
    const byBlock = new Map<string, ClusterAllocation[]>();
    for (const a of this.journal.allocations) {
      const k = `${a.pool}\u0000${a.block}`;
      byBlock.set(k, [...(byBlock.get(k) ?? []), a]);
    }
    for (const list of byBlock.values()) {
      const first = list[0]!;
      const pool = await this.pool(first.pool);
      const key = clusterKeys.block(pool.id, first.block);
      for (let attempt = 0; ; attempt++) {
        const e: KvEntry | undefined = await this.store.get(key);
        const rec: BlockRecord = e ? (JSON.parse(e.value) as BlockRecord) : { cidr: first.block, owner: null, allocations: {} };
        const allocations = { ...rec.allocations };
        const missing: ClusterAllocation[] = [];
        const lostHere: ClusterAllocation[] = [];
        for (const a of list) {
          const off = String(blockOf(pool, a.address)!.offset);
          const cur = allocations[off];
          if (cur?.handle === a.handle && cur.host === this.hostId) continue;
          if (cur) lostHere.push(a);
          else {
            allocations[off] = { handle: a.handle, host: this.hostId };
            missing.push(a);
          }
        }
        // Ownership comes back only if nobody else took the block meanwhile.
        const owner = rec.owner ?? (list.some((a) => !a.borrowed) ? this.hostId : null);
        if (missing.length === 0 && owner === rec.owner) {
          kept += list.length - lostHere.length;
          lost.push(...lostHere);
          break;
        }
        const next: BlockRecord = { cidr: rec.cidr, owner, allocations };
        const r = await this.store.txn({ checks: [{ key, version: e?.version ?? 0 }], puts: [{ key, value: JSON.stringify(next) }] });
        if (r.ok) {
          kept += list.length - lostHere.length - missing.length;
          reclaimed += missing.length;
          lost.push(...lostHere);
          break;
        }
        if (attempt >= MAX_ATTEMPTS) throw new StoreConflictError(`re-claiming block ${first.block} kept racing`);
      }
    }
    if (lost.length > 0) {
      const gone = new Set(lost);
      this.journal.allocations = this.journal.allocations.filter((a) => !gone.has(a));
      this.writeJournal();
    }
    return { kept, reclaimed, lost };
  }

  /** Blocks of every pool (or one), as the store has them now. */
  async blocks(poolId?: string): Promise<{ pool: string; cidr: string; owner: string | null; used: number }[]> {
    const snap = await this.store.snapshot(poolId ? clusterKeys.blocks(poolId) : clusterKeys.ipam);
    return snap.entries
      .filter((e) => e.key.includes('/blocks/'))
      .map((e) => {
        const rec = JSON.parse(e.value) as BlockRecord;
        return { pool: e.key.split('/')[1]!, cidr: rec.cidr, owner: rec.owner, used: Object.keys(rec.allocations).length };
      });
  }

  /** Every allocated address of a pool, with its handle and the host holding it (one range read). */
  async addresses(poolId: string): Promise<Map<string, { handle: string; host: string }>> {
    const out = new Map<string, { handle: string; host: string }>();
    for (const e of (await this.store.snapshot(clusterKeys.blocks(poolId))).entries) {
      const rec = JSON.parse(e.value) as BlockRecord;
      for (const [off, a] of Object.entries(rec.allocations))
        out.set(blockAddress(rec.cidr, Number(off)), { handle: a.handle, host: a.host });
    }
    return out;
  }

  /** What this host believes it holds (its journal). */
  held(): ClusterAllocation[] {
    return this.journal.allocations.map((a) => ({ ...a }));
  }

  private readJournal(): Journal {
    if (!this.journalFile) return { allocations: [] };
    try {
      const j = JSON.parse(readFileSync(this.journalFile, 'utf8')) as Partial<Journal>;
      return { allocations: Array.isArray(j.allocations) ? j.allocations : [] };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { allocations: [] };
      throw new InvalidArgumentError('state-dir', `cluster IPAM journal ${this.journalFile} is unreadable: ${(err as Error).message}`);
    }
  }

  private writeJournal(): void {
    if (!this.journalFile) return;
    writeFileSync(`${this.journalFile}.tmp`, JSON.stringify(this.journal), { mode: 0o600 });
    renameSync(`${this.journalFile}.tmp`, this.journalFile);
  }
}
