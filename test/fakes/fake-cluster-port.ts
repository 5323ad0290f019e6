/**
 * An in-memory ClusterPort for controller unit tests: pools and allocations in maps, the
 * store's availability switchable (to drive "cluster store away" paths without etcd).
 */
import type { ClusterPort } from '../../src/controller/cluster-port.js';
import { nextFreeAddress } from '../../src/ipam/allocator.js';
import { resolvePoolConfig } from '../../src/ipam/pool-config.js';
import { InvalidArgumentError, NotFoundError, StoreConflictError, StoreUnavailableError } from '../../src/errors.js';

export class FakeClusterPort implements ClusterPort {
  readonly pools = new Map<string, { cidr: string; reserved: string[]; used: Map<string, { handle: string; host: string }> }>();
  available = true;
  constructor(
    readonly hostId = 'host-a',
    readonly hostAddress = '198.18.0.1',
  ) {}
  assertAvailable(): void {
    if (!this.available) throw new StoreUnavailableError('cluster store unavailable (fake)');
  }
  async definePool(p: { id: string; cidr: string; reserved: string[] }): Promise<void> {
    this.assertAvailable();
    const cur = this.pools.get(p.id);
    if (cur && cur.cidr !== p.cidr) throw new InvalidArgumentError('pool', `pool ${p.id} exists as ${cur.cidr}`);
    if (!cur) this.pools.set(p.id, { cidr: p.cidr, reserved: p.reserved, used: new Map() });
  }
  async deletePool(id: string): Promise<void> {
    this.assertAvailable();
    const p = this.pools.get(id);
    if (p && p.used.size > 0) throw new StoreConflictError(`pool "${id}" still has ${p.used.size} address(es)`);
    this.pools.delete(id);
  }
  async allocate(pool: string, handle: string): Promise<string> {
    this.assertAvailable();
    const p = this.pools.get(pool);
    if (!p) throw new NotFoundError('pool', pool);
    const taken = new Set([...p.used.keys(), ...p.reserved]);
    const addr = nextFreeAddress(resolvePoolConfig({ subnet: p.cidr }), taken, undefined);
    p.used.set(addr, { handle, host: this.hostId });
    return addr;
  }
  async release(pool: string, address: string, handle: string): Promise<boolean> {
    this.assertAvailable();
    const p = this.pools.get(pool);
    if (p?.used.get(address)?.handle !== handle) return false;
    p.used.delete(address);
    return true;
  }
  async allocations(pool: string): Promise<Map<string, { handle: string; host: string }>> {
    this.assertAvailable();
    return new Map(this.pools.get(pool)?.used ?? []);
  }
}
