/**
 * Records of the global scope, in the cluster store's layout (design-multihost.md):
 *   networks/<id>, names/network/<name>     as in the local scope
 *   endpoints/<network>/<id>                EndpointRecord with the owning host and its address
 *   ipam/<pool>/…                           cluster IPAM blocks (src/cluster/block-ipam.ts)
 *   claims/subnets                          guard of global subnet claims: every global network
 *                                           create checks and rewrites it in its transaction
 * Every host sees every host's endpoints here; the controller's own view (`endpoints()`,
 * `endpoint()`) is this host's, so reconcile and doctor never act on another host's sandbox.
 * Remote endpoints reach drivers as events (src/cluster/cluster-sync.ts), not as records.
 */
import type { Store, KvEntry } from '../store/store.js';
import { Records, type Versioned } from '../store/records.js';
import type { EndpointRecord } from '../model/types.js';
import type { ClusterPort } from './cluster-port.js';
import { clusterPoolId } from './cluster-port.js';

export const globalKeys = {
  endpoints: 'endpoints/',
  networkEndpoints: (networkId: string) => `endpoints/${networkId}/`,
  endpoint: (networkId: string, id: string) => `endpoints/${networkId}/${id}`,
};

const parseEp = (e: KvEntry): Versioned<EndpointRecord> => ({ value: JSON.parse(e.value) as EndpointRecord, version: e.version });

export class ClusterRecords extends Records {
  constructor(
    store: Store,
    readonly cluster: ClusterPort,
  ) {
    super(store);
  }

  private mine(ep: EndpointRecord): boolean {
    return ep.host === this.cluster.hostId;
  }

  /** One of this host's endpoints; with the network id it is one read, without it a listing. */
  override async endpoint(id: string, networkId?: string): Promise<Versioned<EndpointRecord> | undefined> {
    if (networkId !== undefined) {
      const e = await this.store.get(globalKeys.endpoint(networkId, id));
      const v = e === undefined ? undefined : parseEp(e);
      return v && this.mine(v.value) ? v : undefined;
    }
    for (const e of await this.store.list(globalKeys.endpoints)) {
      if (!e.key.endsWith(`/${id}`)) continue;
      const v = parseEp(e);
      if (this.mine(v.value)) return v;
    }
    return undefined;
  }

  /** This host's global endpoints (one range read). */
  override async endpoints(): Promise<EndpointRecord[]> {
    return (await this.clusterEndpoints()).filter((e) => this.mine(e));
  }

  /** Every host's endpoints, of one network or of all. */
  async clusterEndpoints(networkId?: string): Promise<EndpointRecord[]> {
    const prefix = networkId === undefined ? globalKeys.endpoints : globalKeys.networkEndpoints(networkId);
    return (await this.store.list(prefix)).map((e) => parseEp(e).value);
  }

  /** Addresses come from cluster IPAM blocks: address → endpoint id. */
  override async allocations(networkId: string, family: 4 | 6): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [addr, a] of await this.cluster.allocations(clusterPoolId(networkId, family))) out.set(addr, a.handle);
    return out;
  }

  /** Blocks have no round-robin cursor. */
  override async lastAllocated(): Promise<string | undefined> {
    return undefined;
  }
}

/**
 * The cluster store as the controller uses it: every call first asks the agent whether the
 * store is reachable, so while it is away a cluster operation fails at once with
 * WEFT_STORE_UNAVAILABLE instead of waiting out a request timeout per read.
 */
export class FailFastStore implements Store {
  constructor(
    private readonly inner: Store,
    private readonly cluster: ClusterPort,
  ) {}
  get backend(): string {
    return this.inner.backend;
  }
  get(key: string): ReturnType<Store['get']> {
    this.cluster.assertAvailable();
    return this.inner.get(key);
  }
  list(prefix: string): ReturnType<Store['list']> {
    this.cluster.assertAvailable();
    return this.inner.list(prefix);
  }
  commit(c: Parameters<Store['commit']>[0]): ReturnType<Store['commit']> {
    this.cluster.assertAvailable();
    return this.inner.commit(c);
  }
  watch(prefix: string, onEvent: Parameters<Store['watch']>[1]): () => void {
    return this.inner.watch(prefix, onEvent);
  }
  withLock<T>(name: string, fn: () => Promise<T>, opts?: { timeoutMs?: number; ttlMs?: number }): Promise<T> {
    this.cluster.assertAvailable();
    return this.inner.withLock(name, fn, opts);
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}
