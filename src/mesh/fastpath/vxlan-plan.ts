/**
 * The fast path as data: which kernel VXLAN entries a peer should hold so that traffic to
 * *directly connected* peers of an *unencrypted* network bypasses the sleeve (the way the
 * overlay driver programs static VXLAN: per remote VTEP a permanent FDB entry, a permanent
 * neighbour, and onlink routes for the remote peer's ring ranges). Relayed peers and every peer
 * of an encrypted network stay on the sleeve. Pure: the driver applies the diff with Rtnl.
 */
import { createHash } from 'node:crypto';
import { numToIp4 } from '../ring/ipv4.js';
import type { Route } from '../topology/topology.js';

export interface VtepInfo {
  /** Underlay address the peer's VXLAN packets go to. */
  underlay: string;
  /** The peer's mesh (overlay) address on its VXLAN device: its router address from the ring. */
  vtepIp: string;
}

export interface FastPathPlan {
  fdb: { mac: string; dst: string }[];
  neighbours: { ip: string; mac: string }[];
  routes: { cidr: string; via: string }[];
  /** Peers reached through the sleeve instead (relayed, encrypted, or VTEP unknown). */
  sleeve: string[];
}

/** A stable locally administered MAC for a peer's VTEP, from its name. */
export function vtepMac(name: string): string {
  const h = createHash('sha256').update(`weft-mesh-vtep:${name}`).digest();
  h[0] = (h[0]! & 0xfe) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** [a, b) as the fewest CIDR blocks. */
export function rangeToCidrs(a: number, b: number): string[] {
  const out: string[] = [];
  let x = a;
  while (x < b) {
    // The largest block aligned at x (plain arithmetic: 32-bit bit tricks overflow at 2^31).
    let size = 1;
    while (size < 2 ** 32 && x % (size * 2) === 0) size *= 2;
    while (size > b - x) size /= 2;
    out.push(`${numToIp4(x)}/${32 - Math.log2(size)}`);
    x += size;
  }
  return out;
}

export function planFastPath(o: {
  self: string;
  encrypted: boolean;
  routes: ReadonlyMap<string, Route>;
  vteps: ReadonlyMap<string, VtepInfo>;
  rangesOf: (peer: string) => [number, number][];
}): FastPathPlan {
  const plan: FastPathPlan = { fdb: [], neighbours: [], routes: [], sleeve: [] };
  for (const [peer, r] of [...o.routes].sort(([a], [b]) => a.localeCompare(b))) {
    const v = o.vteps.get(peer);
    if (o.encrypted || r.hops !== 1 || !v) {
      plan.sleeve.push(peer);
      continue;
    }
    const mac = vtepMac(peer);
    plan.fdb.push({ mac, dst: v.underlay });
    plan.neighbours.push({ ip: v.vtepIp, mac });
    for (const [a, b] of o.rangesOf(peer)) for (const cidr of rangeToCidrs(a, b)) plan.routes.push({ cidr, via: v.vtepIp });
  }
  return plan;
}

/** What to add and remove to go from `from` to `to` (entries compared by value). */
export function diffPlans(from: FastPathPlan, to: FastPathPlan): { add: FastPathPlan; remove: FastPathPlan } {
  const key = (x: object): string => JSON.stringify(x);
  const minus = <T extends object>(xs: T[], ys: T[]): T[] => {
    const s = new Set(ys.map(key));
    return xs.filter((x) => !s.has(key(x)));
  };
  return {
    add: {
      fdb: minus(to.fdb, from.fdb),
      neighbours: minus(to.neighbours, from.neighbours),
      routes: minus(to.routes, from.routes),
      sleeve: [],
    },
    remove: {
      fdb: minus(from.fdb, to.fdb),
      neighbours: minus(from.neighbours, to.neighbours),
      routes: minus(from.routes, to.routes),
      sleeve: [],
    },
  };
}
