/**
 * The control plane of an overlay network as data: which FDB entries (remote MAC → the VTEP of
 * its host) and neighbour entries (remote IP → MAC) the network's vxlan device must carry for
 * the remote endpoints this host knows, and what to add and delete to get there from what the
 * kernel holds. Learning is off and there is no all-zeros FDB entry, so these entries are the
 * only way a frame leaves a host: unknown unicast and broadcast are dropped at the vxlan device,
 * and ARP/ND for remote addresses is answered from the neighbour table (proxy). Pure.
 */
import type { RemoteEndpoint } from '../driver.js';
import { InvalidArgumentError } from '../../errors.js';
import { macFromIPv4, parseMac } from '../../ipam/mac.js';

export interface FdbEntry {
  mac: string;
  /** Underlay address of the remote VTEP. */
  dst: string;
}

export interface NeighEntry {
  family: 4 | 6;
  ip: string;
  mac: string;
}

export interface PeerEntries {
  fdb: FdbEntry[];
  neigh: NeighEntry[];
}

export interface PeerDiff {
  add: PeerEntries;
  del: PeerEntries;
}

const bare = (cidr: string): string => cidr.split('/')[0]!;

/** The MAC a remote endpoint's frames carry: given, or Docker's 02:42 + IPv4 (weft's default too). */
export function peerMac(p: RemoteEndpoint): string {
  if (p.mac) return parseMac(p.mac, 'mac');
  if (p.ipv4) return macFromIPv4(bare(p.ipv4));
  throw new InvalidArgumentError('mac', `remote endpoint ${p.endpointId} has neither a MAC nor an IPv4 address`);
}

/** An endpoint's addresses (CIDR or bare) as neighbour entries at `mac`. */
export function neighboursOf(a: { ipv4?: string; ipv6?: string }, mac: string): NeighEntry[] {
  const neigh: NeighEntry[] = [];
  if (a.ipv4) neigh.push({ family: 4, ip: bare(a.ipv4), mac });
  if (a.ipv6) neigh.push({ family: 6, ip: bare(a.ipv6), mac });
  return neigh;
}

/** The entries one remote endpoint needs. */
export function entriesOf(p: RemoteEndpoint): PeerEntries {
  const mac = peerMac(p);
  return { fdb: [{ mac, dst: p.hostAddress }], neigh: neighboursOf(p, mac) };
}

/** The entries a set of remote endpoints needs (a later endpoint with the same MAC or IP wins). */
export function desiredEntries(peers: Iterable<RemoteEndpoint>, localHostAddress?: string): PeerEntries {
  const fdb = new Map<string, FdbEntry>();
  const neigh = new Map<string, NeighEntry>();
  for (const p of peers) {
    // An endpoint reported at this host's own address is local: the bridge reaches it directly.
    if (p.hostAddress === localHostAddress) continue;
    const e = entriesOf(p);
    for (const f of e.fdb) fdb.set(f.mac, f);
    for (const n of e.neigh) neigh.set(n.ip, n);
  }
  return { fdb: [...fdb.values()], neigh: [...neigh.values()] };
}

const fdbKey = (f: FdbEntry): string => `${f.mac}>${f.dst}`;
const neighKey = (n: NeighEntry): string => `${n.ip}>${n.mac}`;

/** What to add and delete so that `live` becomes `want` (entries equal in both are left alone). */
export function diffEntries(want: PeerEntries, live: PeerEntries): PeerDiff {
  const liveFdb = new Set(live.fdb.map(fdbKey));
  const wantFdb = new Set(want.fdb.map(fdbKey));
  const liveNeigh = new Set(live.neigh.map(neighKey));
  const wantNeigh = new Set(want.neigh.map(neighKey));
  return {
    add: { fdb: want.fdb.filter((f) => !liveFdb.has(fdbKey(f))), neigh: want.neigh.filter((n) => !liveNeigh.has(neighKey(n))) },
    del: { fdb: live.fdb.filter((f) => !wantFdb.has(fdbKey(f))), neigh: live.neigh.filter((n) => !wantNeigh.has(neighKey(n))) },
  };
}

/** The live entries that point at one host (what its death removes). */
export function entriesOfHost(live: PeerEntries, hostAddress: string): PeerEntries {
  const fdb = live.fdb.filter((f) => f.dst === hostAddress);
  const macs = new Set(fdb.map((f) => f.mac));
  return { fdb, neigh: live.neigh.filter((n) => macs.has(n.mac)) };
}

/** One sentence per difference, for invariant checks. */
export function describeDiff(d: PeerDiff, where: string): string[] {
  return [
    ...d.add.fdb.map((f) => `${where}: FDB entry ${f.mac} → ${f.dst} missing`),
    ...d.add.neigh.map((n) => `${where}: neighbour ${n.ip} → ${n.mac} missing`),
    ...d.del.fdb.map((f) => `${where}: stale FDB entry ${f.mac} → ${f.dst}`),
    ...d.del.neigh.map((n) => `${where}: stale neighbour ${n.ip} → ${n.mac}`),
  ];
}
