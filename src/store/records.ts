/**
 * Typed access to weft's records on top of the key-value Store. Key layout:
 *   networks/<id>                    NetworkRecord
 *   names/network/<name>             network id (name uniqueness)
 *   sandboxes/<id>                   SandboxRecord
 *   names/sandbox/<name>             sandbox id
 *   endpoints/<id>                   EndpointRecord
 *   index/sandbox-endpoints/<sb>/<ep> (index) endpoint ids of a sandbox
 *   ipam/<networkId>/<4|6>/a/<addr>  endpoint id owning that address
 *   ipam/<networkId>/<4|6>/last      last address handed out (round-robin)
 */
import type { Store, KvEntry, KvCommit } from './store.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { StoreConflictError } from '../errors.js';

export const keys = {
  network: (id: string) => `networks/${id}`,
  networkName: (name: string) => `names/network/${name}`,
  sandbox: (id: string) => `sandboxes/${id}`,
  sandboxName: (name: string) => `names/sandbox/${name}`,
  endpoint: (id: string) => `endpoints/${id}`,
  /** Index: endpoints of one sandbox, so a join does not read every endpoint. */
  sandboxEndpoint: (sandboxId: string, endpointId: string) => `index/sandbox-endpoints/${sandboxId}/${endpointId}`,
  sandboxEndpoints: (sandboxId: string) => `index/sandbox-endpoints/${sandboxId}/`,
  ipamPrefix: (networkId: string, family: 4 | 6) => `ipam/${networkId}/${family}/a/`,
  ipamAddr: (networkId: string, family: 4 | 6, addr: string) => `ipam/${networkId}/${family}/a/${addr}`,
  ipamLast: (networkId: string, family: 4 | 6) => `ipam/${networkId}/${family}/last`,
  ipamNetwork: (networkId: string) => `ipam/${networkId}/`,
};

export interface Versioned<T> {
  value: T;
  version: number;
}

function parse<T>(e: KvEntry | undefined): Versioned<T> | undefined {
  return e === undefined ? undefined : { value: JSON.parse(e.value) as T, version: e.version };
}

/** Records repository: thin, typed, no caching (other processes may write the store too). */
export class Records {
  constructor(readonly store: Store) {}

  async network(id: string): Promise<Versioned<NetworkRecord> | undefined> {
    return parse<NetworkRecord>(await this.store.get(keys.network(id)));
  }
  async networks(): Promise<NetworkRecord[]> {
    return (await this.store.list('networks/')).map((e) => JSON.parse(e.value) as NetworkRecord);
  }
  async networkIdByName(name: string): Promise<string | undefined> {
    const e = await this.store.get(keys.networkName(name));
    return e?.value === undefined ? undefined : (JSON.parse(e.value) as string);
  }
  async sandbox(id: string): Promise<Versioned<SandboxRecord> | undefined> {
    return parse<SandboxRecord>(await this.store.get(keys.sandbox(id)));
  }
  async sandboxes(): Promise<SandboxRecord[]> {
    return (await this.store.list('sandboxes/')).map((e) => JSON.parse(e.value) as SandboxRecord);
  }
  async sandboxIdByName(name: string): Promise<string | undefined> {
    const e = await this.store.get(keys.sandboxName(name));
    return e?.value === undefined ? undefined : (JSON.parse(e.value) as string);
  }
  async endpoint(id: string): Promise<Versioned<EndpointRecord> | undefined> {
    return parse<EndpointRecord>(await this.store.get(keys.endpoint(id)));
  }
  async endpoints(): Promise<EndpointRecord[]> {
    return (await this.store.list('endpoints/')).map((e) => JSON.parse(e.value) as EndpointRecord);
  }
  /** Endpoints of one sandbox, through the index. */
  async endpointsOfSandbox(sandboxId: string): Promise<EndpointRecord[]> {
    const prefix = keys.sandboxEndpoints(sandboxId);
    const ids = (await this.store.list(prefix)).map((e) => e.key.slice(prefix.length));
    const out: EndpointRecord[] = [];
    for (const id of ids) {
      const e = await this.endpoint(id);
      if (e) out.push(e.value);
    }
    return out;
  }
  /** Addresses allocated in one family of a network, with their owners. */
  async allocations(networkId: string, family: 4 | 6): Promise<Map<string, string>> {
    const prefix = keys.ipamPrefix(networkId, family);
    const out = new Map<string, string>();
    for (const e of await this.store.list(prefix)) out.set(e.key.slice(prefix.length), JSON.parse(e.value) as string);
    return out;
  }
  async lastAllocated(networkId: string, family: 4 | 6): Promise<string | undefined> {
    const e = await this.store.get(keys.ipamLast(networkId, family));
    return e === undefined ? undefined : (JSON.parse(e.value) as string);
  }

  /** Commit or throw StoreConflictError (callers retry). */
  async commitOrConflict(c: KvCommit, what: string): Promise<void> {
    if (!(await this.store.commit(c))) throw new StoreConflictError(`${what}: store changed concurrently`);
  }
}

export const json = (v: unknown): string => JSON.stringify(v);

/** Retry fn on StoreConflictError a bounded number of times. */
export async function withRetry<T>(fn: () => Promise<T>, attempts = 50): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!(err instanceof StoreConflictError) || i >= attempts - 1) throw err;
      await new Promise((r) => setTimeout(r, Math.min(50, 1 + Math.random() * (i + 1) * 2)));
    }
  }
}
