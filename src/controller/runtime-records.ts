/**
 * What the Docker integration keeps in weft's store, under its own prefix `docker/`:
 *   docker/pools/<poolId>                  IPAM pool handed to Docker (refcounted)
 *   docker/endpoints/<dockerEndpointId>    a Docker endpoint and the weft endpoint it became
 *   docker/attachments/<containerId>/<net> a `weft attach CONTAINER` to re-apply on restart
 * Docker network ids are used as weft network ids, so networks need no mapping of their own.
 */
import type { Store } from '../store/store.js';
import { StoreConflictError } from '../errors.js';

import type { FwPortMapping } from '../firewall/types.js';

export const dockerKeys = {
  pool: (id: string) => `docker/pools/${encodeURIComponent(id)}`,
  pools: 'docker/pools/',
  endpoint: (id: string) => `docker/endpoints/${id}`,
  endpoints: 'docker/endpoints/',
  attachment: (containerId: string, networkId: string) => `docker/attachments/${containerId}/${networkId}`,
  attachments: 'docker/attachments/',
};

/** A pool Docker asked for; the weft network it became once CreateNetwork arrived. */
export interface DockerPoolRecord {
  id: string;
  addressSpace: string;
  pool: string;
  subPool?: string;
  v6: boolean;
  refs: number;
  gateway?: string;
  /** Addresses handed out while no weft network backs the pool (aux addresses, other drivers). */
  addresses: string[];
  networkId?: string;
}

export interface DockerEndpointRecord {
  id: string;
  networkId: string;
  /** CIDRs as Docker knows them. */
  address?: string;
  addressV6?: string;
  mac: string;
  /** Owner of addresses weft reserved itself because Docker gave none. */
  owner?: string;
  /** Container-side veth name until Docker renames it. */
  srcName: string;
  /** Set by Join: Docker's sandbox (namespace path) and the host end of the veth. */
  sandboxKey?: string;
  hostIfname?: string;
  weftEndpointId?: string;
  /** Ports published by ProgramExternalConnectivity (kept to re-apply after a restart). */
  ports?: FwPortMapping[];
  weftSandboxId?: string;
}

/** A container attached with `weft attach CONTAINER`, re-applied whenever it starts. */
export interface AttachmentRecord {
  containerId: string;
  containerName: string;
  /** Engine API socket path (Docker or podman). */
  engine: string;
  networkId: string;
  ipv4?: string;
  gateway?: string;
  ipv6?: string;
  mac?: string;
  ifname?: string;
  aliases: string[];
  sandboxId?: string;
  created: string;
}

/** Read a JSON record with its version. */
export async function getRecord<T>(store: Store, key: string): Promise<{ value: T; version: number } | undefined> {
  const e = await store.get(key);
  return e === undefined ? undefined : { value: JSON.parse(e.value) as T, version: e.version };
}

export async function listRecords<T>(store: Store, prefix: string): Promise<T[]> {
  return (await store.list(prefix)).map((e) => JSON.parse(e.value) as T);
}

/** Compare-and-set one record (version 0 = must not exist); throws StoreConflictError. */
export async function putRecord(store: Store, key: string, value: unknown, version: number): Promise<void> {
  if (!(await store.commit({ checks: [{ key, version }], puts: [{ key, value: JSON.stringify(value) }] }))) {
    throw new StoreConflictError(`${key} changed concurrently`);
  }
}

/** Every port a runtime's endpoints published through weft (`docker run -p`). */
export async function runtimePortMappings(ctx: { records: { store: Store } }): Promise<FwPortMapping[]> {
  return (await listRecords<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoints)).flatMap((r) => r.ports ?? []);
}
