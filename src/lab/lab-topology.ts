/**
 * The shape of a multi-host lab, computed before anything is created (pure): namespaces,
 * links and addresses in 198.18.0.0/15.
 *   l2: one switch namespace `sw` with bridge br0 on 198.18.0.0/24 (gateway .1); hosts .11…,
 *       etcd members .201…; with `--bgp` hosts also get 2001:2::<10+i>/64 (RFC 5180's IPv6
 *       benchmarking prefix, 198.18.0.0/15's counterpart) for IPv6 BGP sessions and next hops
 *   l3: a spine namespace `sp` (bridge on 198.19.255.0/24) joining top-of-rack router
 *       namespaces r0 (etcd's segment 198.18.0.0/24), r1, r2 (hosts alternate between
 *       198.18.1.0/24 and 198.18.2.0/24); each ToR is its segment's switch and gateway and has
 *       static routes to the other segments' underlay addresses. With `--bgp` the host
 *       segments' ToRs also run BIRD as top-of-rack routers (`tors`): eBGP with each host
 *       behind them (one AS per host, Calico's "AS per compute server") and with each other
 *       over the spine, so workload blocks cross segments by BGP alone.
 */
import { InvalidArgumentError } from '../errors.js';
import type { BgpModel } from '../bgp/model.js';
import { torRouterModel } from '../bgp/tor-model.js';

/**
 * What the lab's ToRs accept from hosts: the workload space a lab network takes its pools
 * from (a real ToR is configured with the cluster's pod CIDR the same way).
 */
export const LAB_WORKLOAD_SPACE = ['10.0.0.0/8', 'fd00::/8'];
/** ToR rN's AS; host hN's AS (weftd --bgp-as). */
export const torAs = (segment: number): number => 65000 + segment;
export const hostAs = (n: number): number => 64600 + n;

export interface LabTor {
  /** Router node name (r1…). */
  name: string;
  ns: string;
  /** The router's address on its host segment: the hosts' BGP peer and gateway. */
  address: string;
  asNumber: number;
  /** Names of the hosts that peer with it. */
  hosts: string[];
  model: BgpModel;
}

export type Underlay = 'l2' | 'l3';

export interface LabOptions {
  name: string;
  hosts: number;
  underlay: Underlay;
  /** etcd members: 0 with --mesh (store-less), else 1 or 3. */
  etcd: 0 | 1 | 3;
  mesh: boolean;
  routing: 'static' | 'bgp';
}

export interface LabNode {
  /** Lab-local name: h1…, e1…, r0…, sw, sp. */
  name: string;
  ns: string;
  kind: 'host' | 'etcd' | 'router' | 'switch';
  /** Underlay address (hosts, etcd) with prefix length. */
  cidr?: string;
  /** A second, IPv6 underlay address on the same link (l2 hosts with --bgp: dual-stack routed networks). */
  cidr6?: string;
  gateway?: string;
  /** Switch (or router) namespace whose br0 this node's eth0 plugs into. */
  attach?: string;
  segment: number;
}

export interface LabRoute {
  ns: string;
  dst: string;
  via: string;
}

export interface LabTopology {
  options: LabOptions;
  nodes: LabNode[];
  /** Router uplinks into the spine: router ns → its spine address. */
  uplinks: { router: string; cidr: string }[];
  routes: LabRoute[];
  etcdUrl?: string;
  /** --underlay l3 --bgp: the ToRs that run BIRD. */
  tors: LabTor[];
}

const NAME_RE = /^[a-z][a-z0-9]{0,7}$/;

export function validateLabOptions(o: Partial<LabOptions> & { hosts: number }): LabOptions {
  const name = o.name ?? 'lab';
  if (!NAME_RE.test(name))
    throw new InvalidArgumentError('name', `lab name "${name}" must be 1-8 lower-case letters or digits, starting with a letter`);
  if (!Number.isInteger(o.hosts) || o.hosts < 1 || o.hosts > 60)
    throw new InvalidArgumentError('hosts', 'must be an integer between 1 and 60');
  const underlay = o.underlay ?? 'l2';
  if (underlay !== 'l2' && underlay !== 'l3') throw new InvalidArgumentError('underlay', 'must be l2 or l3');
  const mesh = o.mesh ?? false;
  const etcd = mesh ? 0 : (o.etcd ?? 1);
  if (mesh && o.etcd !== undefined && o.etcd !== 0) throw new InvalidArgumentError('etcd', '--mesh runs without a store: drop --etcd');
  if (etcd !== 0 && etcd !== 1 && etcd !== 3) throw new InvalidArgumentError('etcd', 'must be 1 or 3');
  const routing = o.routing ?? 'static';
  if (routing === 'bgp' && mesh) throw new InvalidArgumentError('bgp', '--bgp announces cluster IPAM blocks from etcd: drop --mesh');
  return { name, hosts: o.hosts, underlay, etcd, mesh, routing };
}

/** Lay the lab out. */
export function labTopology(o: LabOptions): LabTopology {
  const ns = (n: string) => `wl-${o.name}-${n}`;
  const nodes: LabNode[] = [];
  const routes: LabRoute[] = [];
  const uplinks: { router: string; cidr: string }[] = [];
  const etcdIps: string[] = [];
  /** The etcd members, on segment 0 (198.18.0.0/24) whichever underlay: attached to `sw` (l2) or r0 (l3). */
  const addEtcd = (attach: string): void => {
    for (let i = 1; i <= o.etcd; i++) {
      etcdIps.push(`198.18.0.${200 + i}`);
      nodes.push({
        name: `e${i}`,
        ns: ns(`e${i}`),
        kind: 'etcd',
        cidr: `198.18.0.${200 + i}/24`,
        gateway: '198.18.0.1',
        attach,
        segment: 0,
      });
    }
  };
  if (o.underlay === 'l2') {
    nodes.push({ name: 'sw', ns: ns('sw'), kind: 'switch', cidr: '198.18.0.1/24', segment: 0 });
    addEtcd(ns('sw'));
    for (let i = 1; i <= o.hosts; i++) {
      nodes.push({
        name: `h${i}`,
        ns: ns(`h${i}`),
        kind: 'host',
        cidr: `198.18.0.${10 + i}/24`,
        ...(o.routing === 'bgp' ? { cidr6: `2001:2::${(10 + i).toString(16)}/64` } : {}),
        gateway: '198.18.0.1',
        attach: ns('sw'),
        segment: 0,
      });
    }
  } else {
    nodes.push({ name: 'sp', ns: ns('sp'), kind: 'switch', segment: -1 });
    const segments = [0, 1, 2];
    for (const s of segments) {
      nodes.push({ name: `r${s}`, ns: ns(`r${s}`), kind: 'router', cidr: `198.18.${s}.1/24`, segment: s });
      uplinks.push({ router: ns(`r${s}`), cidr: `198.19.255.${s + 1}/24` });
      for (const t of segments) if (t !== s) routes.push({ ns: ns(`r${s}`), dst: `198.18.${t}.0/24`, via: `198.19.255.${t + 1}` });
    }
    addEtcd(ns('r0'));
    for (let i = 1; i <= o.hosts; i++) {
      const s = i % 2 === 1 ? 1 : 2;
      const n = Math.ceil(i / 2);
      nodes.push({
        name: `h${i}`,
        ns: ns(`h${i}`),
        kind: 'host',
        cidr: `198.18.${s}.${10 + n}/24`,
        gateway: `198.18.${s}.1`,
        attach: ns(`r${s}`),
        segment: s,
      });
    }
  }
  return {
    options: o,
    nodes,
    uplinks,
    routes,
    tors: o.underlay === 'l3' && o.routing === 'bgp' ? labTors(o, nodes) : [],
    ...(etcdIps.length ? { etcdUrl: `etcd://${etcdIps.map((ip) => `${ip}:2379`).join(',')}` } : {}),
  };
}

/** The ToRs of the host segments, each with its BIRD model: its hosts and the other ToRs over the spine. */
function labTors(o: LabOptions, nodes: LabNode[]): LabTor[] {
  const segments = [...new Set(nodes.filter((n) => n.kind === 'host').map((n) => n.segment))].sort();
  const spine = (s: number): string => `198.19.255.${s + 1}`;
  return segments.map((s) => {
    const router = nodes.find((n) => n.kind === 'router' && n.segment === s)!;
    const hosts = nodes.filter((n) => n.kind === 'host' && n.segment === s);
    const address = router.cidr!.split('/')[0]!;
    const model = torRouterModel({
      name: router.name,
      asNumber: torAs(s),
      pools: LAB_WORKLOAD_SPACE,
      segments: [
        {
          routerAddress: address,
          hosts: hosts.map((h) => ({ name: h.name, asNumber: hostAs(Number(h.name.slice(1))), address: h.cidr!.split('/')[0]! })),
        },
      ],
      routers: segments
        .filter((t) => t !== s)
        .map((t) => ({ name: `r${t}`, asNumber: torAs(t), address: spine(t), localAddress: spine(s) })),
      // A dead host's routes go at once when its BIRD dies (the session closes); the hold timer covers a silent one.
      timers: { holdSeconds: 9, keepaliveSeconds: 3, connectRetrySeconds: 2 },
    });
    return { name: router.name, ns: router.ns, address, asNumber: torAs(s), hosts: hosts.map((h) => h.name), model };
  });
}
