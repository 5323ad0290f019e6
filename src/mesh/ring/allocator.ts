/**
 * One peer's address allocations, made only from ranges the ring says it owns — the reason no
 * address is ever handed out twice, partition or not. When its space runs out the peer asks a
 * reachable peer with free space to donate; the donor gives half of its largest free run (never
 * an allocated address) by transferring that range in the ring. Allocations are local state:
 * only the ownership of ranges is gossiped.
 */
import { AddressInUseError, InvalidArgumentError, IpamExhaustedError } from '../../errors.js';
import { ip4ToNum, numToIp4 } from './ipv4.js';
import type { Ring } from './ring.js';

export class MeshAllocator {
  /** address → holder id (a container, an endpoint, the router itself). */
  private readonly used = new Map<number, string>();
  private readonly byId = new Map<string, number>();
  private readonly network: number;
  private readonly broadcast: number;

  private readonly reserved: ReadonlySet<number>;

  /** `reserved`: addresses never handed out (the mesh gateway every host's bridge carries). */
  constructor(
    readonly ring: Ring,
    reserved: readonly string[] = [],
  ) {
    this.network = ring.start;
    this.broadcast = ring.end - 1;
    this.reserved = new Set(reserved.map((r) => ip4ToNum(r, 'reserved')));
  }

  private usable(a: number): boolean {
    return a !== this.network && a !== this.broadcast && !this.reserved.has(a);
  }

  /** An address for `id` (the same one again if it already has one). */
  allocate(id: string): string {
    const have = this.byId.get(id);
    if (have !== undefined) return numToIp4(have);
    for (const [a, b] of this.ring.rangesOf(this.ring.self)) {
      for (let x = a; x < b; x++) {
        if (this.usable(x) && !this.used.has(x)) return this.hold(id, x);
      }
    }
    throw new IpamExhaustedError(`${this.ring.universe} (space owned by ${this.ring.self})`);
  }

  /** A specific address for `id`; only from our own space (a claim cannot take another peer's). */
  claim(id: string, addr: string): string {
    const x = ip4ToNum(addr, 'ip');
    if (this.ring.ownerOf(x) !== this.ring.self || !this.usable(x)) {
      throw new InvalidArgumentError('ip', `${addr} is not in address space owned by ${this.ring.self}`);
    }
    const holder = this.used.get(x);
    if (holder === id) return addr;
    if (holder !== undefined) throw new AddressInUseError(addr);
    return this.hold(id, x);
  }

  private hold(id: string, x: number): string {
    this.used.set(x, id);
    this.byId.set(id, x);
    this.ring.setFreeHint(this.freeCount());
    return numToIp4(x);
  }

  /** Give back `id`'s address; releasing an unknown id is a no-op (delete what was never added). */
  release(id: string): boolean {
    const x = this.byId.get(id);
    if (x === undefined) return false;
    this.byId.delete(id);
    this.used.delete(x);
    this.ring.setFreeHint(this.freeCount());
    return true;
  }

  addressOf(id: string): string | undefined {
    const x = this.byId.get(id);
    return x === undefined ? undefined : numToIp4(x);
  }

  allocations(): { id: string; address: string }[] {
    return [...this.byId].map(([id, x]) => ({ id, address: numToIp4(x) }));
  }

  /** Allocated addresses that the ring no longer gives us (only after a misuse of forget). */
  orphans(): string[] {
    return [...this.used.keys()].filter((x) => this.ring.ownerOf(x) !== this.ring.self).map(numToIp4);
  }

  /**
   * Free addresses in our space, in O(ranges + allocations): it runs on every allocation and
   * every gossip round, on weftd's event loop, which also carries the sleeve's packets. Walking
   * every address instead (half a million for a /12 of two peers) blocked that loop for tens of
   * milliseconds each time.
   */
  freeCount(): number {
    const ranges = this.ring.rangesOf(this.ring.self);
    const mine = (x: number): boolean => ranges.some(([a, b]) => x >= a && x < b);
    let n = 0;
    for (const [a, b] of ranges) n += b - a;
    for (const x of new Set([this.network, this.broadcast, ...this.reserved])) if (mine(x)) n--;
    for (const x of this.used.keys()) if (this.usable(x) && mine(x)) n--;
    return n;
  }

  /** Largest run of free addresses inside one owned entry, as [a, b). */
  private largestFreeRun(): [number, number] | undefined {
    let best: [number, number] | undefined;
    for (const [a, b] of this.ring.rangesOf(this.ring.self)) {
      let runStart = -1;
      for (let x = a; x <= b; x++) {
        const free = x < b && !this.used.has(x);
        if (free && runStart < 0) runStart = x;
        if (!free && runStart >= 0) {
          if (!best || x - runStart > best[1] - best[0]) best = [runStart, x];
          runStart = -1;
        }
      }
    }
    return best;
  }

  /**
   * Donate space to `to`: the upper half of our largest free run (all of it if it is one
   * address). Returns the donated range as text, or undefined when we have nothing to give.
   */
  donate(to: string): string | undefined {
    if (to === this.ring.self) throw new InvalidArgumentError('peer', 'a peer cannot donate to itself');
    const run = this.largestFreeRun();
    if (!run) return undefined;
    const [a, b] = run;
    // Keep at least one usable address for ourselves unless the run is all we could give.
    const from = b - a >= 2 ? a + Math.floor((b - a) / 2) : a;
    if (b - from === 1 && !this.usable(from)) return undefined;
    this.ring.transfer(from, b, to);
    this.ring.setFreeHint(this.freeCount());
    return `${numToIp4(from)}-${numToIp4(b - 1)}`;
  }

  /** Whom to ask for space: the reachable peer advertising the most free addresses. */
  chooseDonor(reachable: Iterable<string>): string | undefined {
    let best: string | undefined;
    let bestFree = 0;
    const owners = this.ring.ownership();
    for (const p of [...reachable].sort()) {
      if (p === this.ring.self || !owners.has(p)) continue;
      const free = this.ring.hint(p)?.free ?? owners.get(p)!;
      if (free > bestFree) {
        best = p;
        bestFree = free;
      }
    }
    return best;
  }

  /** Re-advertise our free space (after a merge changed what we own). */
  refreshHint(): boolean {
    return this.ring.setFreeHint(this.freeCount());
  }
}
