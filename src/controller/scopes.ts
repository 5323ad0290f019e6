/**
 * Records resolved per scope — the seam for a cluster store. A network's scope is its
 * driver's: `local` networks, their endpoints and address allocations live in this host's
 * store (SQLite); `global` ones will live in the cluster store (etcd, src/store/etcd-*), while
 * sandboxes, the sandbox→endpoint index, names of local objects and the engine lock stay
 * local. Reads look in every configured scope; every write names the scope it goes to. Until a
 * cluster store is configured, a global-scope driver is refused with a clear error.
 */
import type { Store, KvCommit } from '../store/store.js';
import { Records, keys, type Versioned } from '../store/records.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { DriverScope } from '../drivers/driver.js';
import { InvalidArgumentError, StoreConflictError, WeftError } from '../errors.js';
import type { ClusterPort } from './cluster-port.js';
import { ClusterRecords, FailFastStore, globalKeys } from './global-records.js';

export class RecordScopes {
  readonly local: Records;
  readonly global: ClusterRecords | undefined;

  /** A global store comes with the cluster agent's port (host identity, cluster IPAM). */
  constructor(local: Store, global?: Store, cluster?: ClusterPort) {
    this.local = new Records(local);
    if (global !== undefined && cluster === undefined) throw new WeftError('WEFT_INTERNAL', 'a cluster store needs the cluster agent');
    this.global =
      global === undefined || cluster === undefined ? undefined : new ClusterRecords(new FailFastStore(global, cluster), cluster);
  }

  /** The records of one scope; global without a cluster store is a clear refusal. */
  of(scope: DriverScope): Records {
    if (scope === 'local') return this.local;
    if (!this.global)
      throw new InvalidArgumentError('scope', 'global-scope networks need a cluster store, and this weftd has none configured');
    return this.global;
  }

  /** The global scope's records, or the same clear refusal. */
  cluster(): ClusterRecords {
    return this.of('global') as ClusterRecords;
  }

  /** Every scope with a store, local first. */
  all(): Records[] {
    return this.global ? [this.local, this.global] : [this.local];
  }
}

/**
 * The controller's view of the records: reads across scopes, writes to the scope named. The
 * method names are Records' own, so ops read the same whichever scope a record lives in.
 */
export class ModelRecords {
  constructor(readonly scopes: RecordScopes) {}

  /** The local store: sandboxes, indexes, locks. */
  get store(): Store {
    return this.scopes.local.store;
  }

  /** The store that holds a network's records (the network itself, its endpoints and allocations). */
  storeOf(scope: DriverScope): Store {
    return this.scopes.of(scope).store;
  }

  private async first<T>(read: (r: Records) => Promise<T | undefined>): Promise<T | undefined> {
    for (const r of this.scopes.all()) {
      const v = await read(r);
      if (v !== undefined) return v;
    }
    return undefined;
  }

  /**
   * Listings across scopes. While the cluster store is away a listing shows the local scope
   * only (`weft network ls`, reconcile and local operations keep working); operations that
   * need a global record read it directly and fail with WEFT_STORE_UNAVAILABLE.
   */
  private async every<T>(read: (r: Records) => Promise<T[]>, complete = false): Promise<T[]> {
    const out: T[] = [];
    for (const r of this.scopes.all()) {
      try {
        out.push(...(await read(r)));
      } catch (err) {
        if (complete || r === this.scopes.local || !(err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE')) throw err;
      }
    }
    return out;
  }

  /**
   * Every scope or an error: for sweeps that delete what the model does not name (stale index
   * entries, leftover kernel objects), which must never act on a view missing the global scope.
   */
  networksComplete(): Promise<NetworkRecord[]> {
    return this.every((r) => r.networks(), true);
  }
  endpointsComplete(): Promise<EndpointRecord[]> {
    return this.every((r) => r.endpoints(), true);
  }

  /** The cluster agent's port, when this engine is part of a cluster. */
  get cluster(): ClusterPort | undefined {
    return this.scopes.global?.cluster;
  }

  /** Key of an endpoint record in its network's scope. */
  endpointKey(net: Pick<NetworkRecord, 'id' | 'scope'>, id: string): string {
    return net.scope === 'global' ? globalKeys.endpoint(net.id, id) : keys.endpoint(id);
  }

  /** Every host's endpoints on a network (global scope), or this host's (local scope). */
  async networkEndpoints(net: Pick<NetworkRecord, 'id' | 'scope'>): Promise<EndpointRecord[]> {
    if (net.scope === 'global') return this.scopes.cluster().clusterEndpoints(net.id);
    return (await this.scopes.local.endpoints()).filter((e) => e.networkId === net.id);
  }

  /** Every host's endpoints on global networks (empty without a cluster). */
  async clusterEndpoints(): Promise<EndpointRecord[]> {
    return this.scopes.global ? this.scopes.global.clusterEndpoints() : [];
  }

  network(id: string): Promise<Versioned<NetworkRecord> | undefined> {
    return this.first((r) => r.network(id));
  }
  networks(): Promise<NetworkRecord[]> {
    return this.every((r) => r.networks());
  }
  networkIdByName(name: string): Promise<string | undefined> {
    return this.first((r) => r.networkIdByName(name));
  }
  /**
   * The network a new network of `scope` would clash with by name. A local network must be
   * creatable while the cluster store is away (local operations keep working): then only the
   * local names are known, and a later global network of the same name stays reachable by id
   * (Docker, too, lets networks of different scopes share a name; lookups by name prefer local).
   */
  async networkIdByNameFor(scope: DriverScope, name: string): Promise<string | undefined> {
    if (scope === 'global') return this.networkIdByName(name);
    const local = await this.scopes.local.networkIdByName(name);
    if (local !== undefined || !this.scopes.global) return local;
    try {
      return await this.scopes.global.networkIdByName(name);
    } catch (err) {
      if (err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE') return undefined;
      throw err;
    }
  }
  sandbox(id: string): Promise<Versioned<SandboxRecord> | undefined> {
    return this.scopes.local.sandbox(id);
  }
  sandboxes(): Promise<SandboxRecord[]> {
    return this.scopes.local.sandboxes();
  }
  sandboxIdByName(name: string): Promise<string | undefined> {
    return this.scopes.local.sandboxIdByName(name);
  }
  /** One of this host's endpoints; the network id (when known) makes a global lookup one read. */
  endpoint(id: string, networkId?: string): Promise<Versioned<EndpointRecord> | undefined> {
    return this.first((r) => (r instanceof ClusterRecords ? r.endpoint(id, networkId) : r.endpoint(id)));
  }
  endpoints(): Promise<EndpointRecord[]> {
    return this.every((r) => r.endpoints());
  }
  /** Endpoints of one sandbox: the index is local, each endpoint is in its network's scope. */
  async endpointsOfSandbox(sandboxId: string): Promise<EndpointRecord[]> {
    if (!this.scopes.global) return this.scopes.local.endpointsOfSandbox(sandboxId);
    const prefix = keys.sandboxEndpoints(sandboxId);
    const out: EndpointRecord[] = [];
    for (const e of await this.store.list(prefix)) {
      const ep = await this.endpoint(e.key.slice(prefix.length), JSON.parse(e.value) as string);
      if (ep) out.push(ep.value);
    }
    return out;
  }
  allocations(net: NetworkRecord, family: 4 | 6): Promise<Map<string, string>> {
    return this.scopes.of(net.scope).allocations(net.id, family);
  }
  lastAllocated(net: NetworkRecord, family: 4 | 6): Promise<string | undefined> {
    return this.scopes.of(net.scope).lastAllocated(net.id, family);
  }

  /** Commit in one scope's store or throw StoreConflictError (callers retry). */
  async commitOrConflict(c: KvCommit, what: string, scope: DriverScope = 'local'): Promise<void> {
    if (!(await this.storeOf(scope).commit(c))) throw new StoreConflictError(`${what}: store changed concurrently`);
  }
}
