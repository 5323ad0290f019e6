/**
 * The cluster's key layout inside the etcd prefix (`/weft/v1/`), one prefix per kind:
 *   hosts/<id>                      host record (name, address; stays while the host is down)
 *   hosts/<id>/alive                liveness, held by the host's lease (short TTL)
 *   ipam/<pool>/config              pool definition (cidr, block size)
 *   ipam/<pool>/blocks/<cidr>       block record (owner host, allocations)
 *   endpoints/<network>/<id>        global endpoints (written by the controller; counted here)
 *   hostdata/<id>/<driver>          per-host data a driver published (VTEP MAC, public key…)
 * The record and the liveness key are apart because a leased key vanishes with its lease,
 * while `weft host ls` must still show a down host, and when it was last seen, until its grace ends.
 */
import { blockKeyName } from '../ipam/cluster-blocks.js';

export const clusterKeys = {
  hosts: 'hosts/',
  host: (id: string) => `hosts/${id}`,
  alive: (id: string) => `hosts/${id}/alive`,
  ipam: 'ipam/',
  poolConfig: (pool: string) => `ipam/${pool}/config`,
  blocks: (pool: string) => `ipam/${pool}/blocks/`,
  block: (pool: string, cidr: string) => `ipam/${pool}/blocks/${blockKeyName(cidr)}`,
  endpoints: 'endpoints/',
  /** Per-host data a driver published (kept apart from hosts/ so the host watch stays small). */
  hostDataOf: (id: string) => `hostdata/${id}/`,
  hostData: (id: string, driver: string) => `hostdata/${id}/${driver}`,
};

/** Parse a key under hosts/: the host id and whether it is the liveness key. */
export function parseHostKey(key: string): { id: string; alive: boolean } | undefined {
  const m = /^hosts\/([^/]+)(\/alive)?$/.exec(key);
  return m ? { id: m[1]!, alive: m[2] !== undefined } : undefined;
}
