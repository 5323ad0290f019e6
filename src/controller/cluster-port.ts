/**
 * What the controller needs from the cluster agent (src/cluster) for global-scope networks:
 * this host's identity, a fail-fast check of the cluster store, and cluster IPAM — per-host
 * blocks claimed with store transactions, so an attach takes no cluster-wide lock. The agent
 * satisfies it through a small adapter (src/cluster/cluster-port-adapter.ts); unit tests use
 * an in-memory one.
 */
export interface ClusterPort {
  /** This host's id in the cluster registry (written into its global endpoints). */
  readonly hostId: string;
  /** This host's underlay address. */
  readonly hostAddress: string;
  /** Throw StoreUnavailableError at once while the cluster store is away (before touching the kernel). */
  assertAvailable(): void;
  /** Create an address pool (a global network's subnet), or accept an identical existing one. */
  definePool(p: { id: string; cidr: string; reserved: string[]; blockPrefix?: number }): Promise<void>;
  /** Remove a pool with nothing allocated in it (missing = success). */
  deletePool(id: string): Promise<void>;
  /** One address for `handle` (an endpoint id) from this host's blocks. */
  allocate(pool: string, handle: string): Promise<string>;
  /** Give it back; false when `handle` no longer holds it (idempotent). */
  release(pool: string, address: string, handle: string): Promise<boolean>;
  /** Every allocated address of a pool, with its handle and the host holding it. */
  allocations(pool: string): Promise<Map<string, { handle: string; host: string }>>;
}

/** Cluster IPAM pool of one family of a global network (the v4 pool is named after the network). */
export const clusterPoolId = (networkId: string, family: 4 | 6): string => (family === 4 ? networkId : `${networkId}.v6`);
