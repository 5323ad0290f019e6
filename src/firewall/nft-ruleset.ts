/**
 * The nftables ruleset weft owns, as pure data: table/set/chain definitions, the per-network and
 * per-port set elements, and the text scripts that create them. Rules never mention a network
 * or a port: they look things up in named sets and maps, so publishing the 1000th port or adding
 * the 10th network only adds elements (see nft-ops.ts).
 *
 * Tables: `inet weft` (NAT + forward filter), `bridge weft` (icc=false for bridged frames when
 * br_netfilter is off), and `inet weft-user` (the user's chain; created when missing, never
 * touched again).
 */
import type { FwNetwork, FwPortMapping, FirewallState } from './types.js';
import { resolveBinding } from './validate.js';

export const TABLE = 'weft';
export const USER_TABLE = 'weft-user';
export const USER_CHAIN = 'weft-user';
/** Before weft's forward chain (priority 0): a user's drop there is final. */
export const USER_CHAIN_PRIORITY = -10;

export type NftFamily = 'inet' | 'bridge';
type FieldType = 'ifname' | 'ipv4_addr' | 'ipv6_addr' | 'inet_proto' | 'inet_service';

export interface SetDef {
  family: NftFamily;
  name: string;
  key: FieldType[];
  /** Map data type; 'verdict' for verdict maps; absent for plain sets. */
  value?: FieldType[] | 'verdict';
  interval?: boolean;
}

export const SETS: readonly SetDef[] = [
  // Every weft bridge; isolation, inbound filtering and masquerade exclusions key on it.
  { family: 'inet', name: 'bridges', key: ['ifname'] },
  { family: 'inet', name: 'internal', key: ['ifname'] },
  // bridge . subnet of non-internal networks: hairpin (sandbox → host address → same bridge).
  // Keyed on the source subnet because postrouting has no input interface.
  { family: 'inet', name: 'hairpin4', key: ['ifname', 'ipv4_addr'], interval: true },
  { family: 'inet', name: 'hairpin6', key: ['ifname', 'ipv6_addr'], interval: true },
  // "br" . "br" : accept | drop — traffic staying on one bridge, decided by icc.
  { family: 'inet', name: 'intra', key: ['ifname', 'ifname'], value: 'verdict' },
  { family: 'inet', name: 'masq4', key: ['ipv4_addr'], interval: true },
  // source . destination inside one cluster network (hostsubnet): crosses hosts without NAT.
  { family: 'inet', name: 'cluster4', key: ['ipv4_addr', 'ipv4_addr'], interval: true },
  { family: 'inet', name: 'masq6', key: ['ipv6_addr'], interval: true },
  { family: 'inet', name: 'ports4_any', key: ['inet_proto', 'inet_service'], value: ['ipv4_addr', 'inet_service'] },
  { family: 'inet', name: 'ports4_bound', key: ['ipv4_addr', 'inet_proto', 'inet_service'], value: ['ipv4_addr', 'inet_service'] },
  { family: 'inet', name: 'ports6_any', key: ['inet_proto', 'inet_service'], value: ['ipv6_addr', 'inet_service'] },
  { family: 'inet', name: 'ports6_bound', key: ['ipv6_addr', 'inet_proto', 'inet_service'], value: ['ipv6_addr', 'inet_service'] },
  { family: 'bridge', name: 'noicc4', key: ['ipv4_addr'], interval: true },
  { family: 'bridge', name: 'noicc6', key: ['ipv6_addr'], interval: true },
];

export const SET_BY_NAME: ReadonlyMap<string, SetDef> = new Map(SETS.map((s) => [s.name, s]));

export interface RuleDef {
  /** Unique tag stored as the rule's comment; check() finds rules by it. */
  comment: string;
  text: string;
}

export interface ChainDef {
  family: NftFamily;
  name: string;
  base?: { type: 'filter' | 'nat'; hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting'; prio: number };
  rules: RuleDef[];
}

const r = (comment: string, text: string): RuleDef => ({ comment: `weft:${comment}`, text });

export const CHAINS: readonly ChainDef[] = [
  {
    // route_localnet (needed for 127.0.0.1 → published port) would also let sandboxes reach the
    // host's loopback services through the bridge; refuse that before NAT sees the packet.
    family: 'inet',
    name: 'guard',
    base: { type: 'filter', hook: 'prerouting', prio: -300 },
    rules: [r('guard-localnet', 'iifname @bridges ip daddr 127.0.0.0/8 drop')],
  },
  {
    family: 'inet',
    name: 'prerouting',
    base: { type: 'nat', hook: 'prerouting', prio: -100 },
    rules: [r('pre-ports', 'fib daddr type local jump ports')],
  },
  {
    family: 'inet',
    name: 'output',
    base: { type: 'nat', hook: 'output', prio: -100 },
    // ::1 cannot leave the loopback device (IPv6 has no route_localnet), so DNAT would blackhole it.
    rules: [r('out-skip6lo', 'ip6 daddr ::1 return'), r('out-ports', 'fib daddr type local jump ports')],
  },
  {
    family: 'inet',
    name: 'ports',
    rules: [
      r('dnat4-bound', 'dnat ip to ip daddr . meta l4proto . th dport map @ports4_bound'),
      r('dnat4-any', 'meta nfproto ipv4 dnat ip to meta l4proto . th dport map @ports4_any'),
      r('dnat6-bound', 'dnat ip6 to ip6 daddr . meta l4proto . th dport map @ports6_bound'),
      r('dnat6-any', 'meta nfproto ipv6 dnat ip6 to meta l4proto . th dport map @ports6_any'),
    ],
  },
  {
    family: 'inet',
    name: 'postrouting',
    base: { type: 'nat', hook: 'postrouting', prio: 100 },
    rules: [
      // Host → 127.0.0.1:port DNATed onto a bridge: the sandbox must answer the gateway.
      r('masq-localhost', 'oifname @bridges ip saddr 127.0.0.0/8 masquerade'),
      // Hairpin: without it the server would answer the client directly, bypassing the DNAT.
      r('masq-hairpin4', 'ct status dnat oifname . ip saddr @hairpin4 masquerade'),
      r('masq-hairpin6', 'ct status dnat oifname . ip6 saddr @hairpin6 masquerade'),
      // Between two host subnets of one cluster network the source stays (Flannel's rule).
      r('nomasq-cluster4', 'ip saddr . ip daddr @cluster4 return'),
      r('masq4', 'oifname != @bridges ip saddr @masq4 masquerade'),
      r('masq6', 'oifname != @bridges ip6 saddr @masq6 masquerade'),
    ],
  },
  {
    family: 'inet',
    name: 'forward',
    base: { type: 'filter', hook: 'forward', prio: 0 },
    rules: [
      r('fwd-established', 'ct state established,related accept'),
      // Published ports are reachable from anywhere but an internal network, and even with icc=false.
      r('fwd-published', 'ct status dnat iifname != @internal oifname @bridges accept'),
      // Seen for routed hairpin traffic and, when br_netfilter is on, for bridged traffic too.
      r('fwd-intra', 'iifname . oifname vmap @intra'),
      r('fwd-isolation', 'iifname @bridges oifname @bridges drop'),
      r('fwd-internal', 'iifname @internal drop'),
      // A sandbox on another host of the same cluster network (vxlan, host-gw or udp backend).
      r('fwd-cluster4', 'ip saddr . ip daddr @cluster4 oifname @bridges accept'),
      r('fwd-inbound', 'oifname @bridges drop'),
    ],
  },
  {
    // Bridged frames skip the inet hooks when br_netfilter is off, so icc=false is enforced here.
    // The kernel may lack `meta ibrname` (NFT_BRIDGE_META), so the network is recognised by
    // its subnets: a bridged frame from or to a no-icc subnet is between two of its sandboxes.
    family: 'bridge',
    name: 'forward',
    base: { type: 'filter', hook: 'forward', prio: 0 },
    rules: [
      r('noicc4-src', 'ip saddr @noicc4 drop'),
      r('noicc4-dst', 'ip daddr @noicc4 drop'),
      r('noicc6-src', 'ip6 saddr @noicc6 drop'),
      r('noicc6-dst', 'ip6 daddr @noicc6 drop'),
    ],
  },
];

/** One set/map element; atoms are unquoted canonical text (names, addresses, CIDRs, numbers). */
export interface Element {
  set: string;
  key: string[];
  value?: string[];
}

/** The elements one network contributes. */
export function networkElements(n: FwNetwork): Element[] {
  const br = n.bridge;
  const out: Element[] = [
    { set: 'bridges', key: [br] },
    { set: 'intra', key: [br, br], value: [n.icc ? 'accept' : 'drop'] },
  ];
  if (n.internal) {
    out.push({ set: 'internal', key: [br] });
  } else {
    for (const s of n.subnets4) out.push({ set: 'hairpin4', key: [br, s] });
    for (const s of n.subnets6) out.push({ set: 'hairpin6', key: [br, s] });
    for (const c of n.cluster4 ?? []) out.push({ set: 'cluster4', key: [c, c] });
    if (n.masquerade) {
      for (const s of n.subnets4) out.push({ set: 'masq4', key: [s] });
      for (const s of n.subnets6) out.push({ set: 'masq6', key: [s] });
    }
  }
  if (!n.icc) {
    for (const s of n.subnets4) out.push({ set: 'noicc4', key: [s] });
    for (const s of n.subnets6) out.push({ set: 'noicc6', key: [s] });
  }
  return out;
}

/** The element one (normalised) mapping contributes; none when it is not published. */
export function portElements(m: FwPortMapping, net: FwNetwork | undefined): Element[] {
  const b = resolveBinding(m, net);
  if (!net || !b) return [];
  const fam = b.family === 4 ? '4' : '6';
  const value = [m.containerIp, String(m.containerPort)];
  return b.hostIp === undefined
    ? [{ set: `ports${fam}_any`, key: [m.protocol, String(m.hostPort)], value }]
    : [{ set: `ports${fam}_bound`, key: [b.hostIp, m.protocol, String(m.hostPort)], value }];
}

/** Every element of a full state. */
export function stateElements(state: FirewallState): Element[] {
  const nets = new Map(state.networks.map((n) => [n.id, n]));
  return [...state.networks.flatMap(networkElements), ...state.ports.flatMap((p) => portElements(p, nets.get(p.networkId)))];
}

/** Canonical text of an element (also what check() derives from nft's JSON). */
export function canonicalElement(e: Element): string {
  return e.value === undefined ? e.key.join(' . ') : `${e.key.join(' . ')} : ${e.value.join(' . ')}`;
}

function atomText(type: FieldType | 'verdict', atom: string): string {
  // Interface names are validated (no quotes, no backslashes) before they get here.
  return type === 'ifname' ? `"${atom}"` : atom;
}

/** nft text of an element inside `{ … }`. */
export function elementText(e: Element): string {
  const def = SET_BY_NAME.get(e.set);
  if (!def) throw new Error(`unknown set ${e.set}`);
  const key = e.key.map((a, i) => atomText(def.key[i]!, a)).join(' . ');
  if (e.value === undefined) return key;
  const vtypes = def.value === 'verdict' ? ['verdict' as const] : def.value!;
  return `${key} : ${e.value.map((a, i) => atomText(vtypes[i]!, a)).join(' . ')}`;
}

/** `add element` / `delete element` lines, one per set. */
export function elementCommands(verb: 'add' | 'delete', elements: readonly Element[]): string[] {
  const bySet = new Map<string, string[]>();
  for (const e of elements) {
    const list = bySet.get(e.set) ?? [];
    list.push(elementText(e));
    bySet.set(e.set, list);
  }
  return [...bySet].map(([set, els]) => `${verb} element ${SET_BY_NAME.get(set)!.family} ${TABLE} ${set} { ${els.join(', ')} }`);
}

function setDefText(s: SetDef): string {
  const type =
    s.value === undefined ? s.key.join(' . ') : `${s.key.join(' . ')} : ${s.value === 'verdict' ? 'verdict' : s.value.join(' . ')}`;
  return `\t${s.value === undefined ? 'set' : 'map'} ${s.name} { type ${type};${s.interval ? ' flags interval;' : ''} }`;
}

function chainDefText(c: ChainDef): string {
  const head = c.base ? `\t\ttype ${c.base.type} hook ${c.base.hook} priority ${c.base.prio}; policy accept;\n` : '';
  const rules = c.rules.map((x) => `\t\t${x.text} comment "${x.comment}"\n`).join('');
  return `\tchain ${c.name} {\n${head}${rules}\t}`;
}

/** Definition of one of weft's tables (sets and chains, no elements). */
export function tableText(family: NftFamily): string {
  const body = [...SETS.filter((s) => s.family === family).map(setDefText), ...CHAINS.filter((c) => c.family === family).map(chainDefText)];
  return `table ${family} ${TABLE} {\n${body.join('\n')}\n}`;
}

/** The user's table and chain, created only when missing (never flushed or rewritten). */
export function userTableText(): string {
  return `table inet ${USER_TABLE} {\n\tchain ${USER_CHAIN} {\n\t\ttype filter hook forward priority ${USER_CHAIN_PRIORITY}; policy accept;\n\t}\n}`;
}

/**
 * One transaction that replaces weft's tables with the full state: `add` + `delete` makes the
 * delete succeed whether or not the table existed, and the whole file commits or nothing does.
 */
export function fullScript(state: FirewallState, opts: { createUserTable: boolean }): string {
  const lines: string[] = [];
  for (const fam of ['inet', 'bridge'] as const) {
    lines.push(`add table ${fam} ${TABLE}`, `delete table ${fam} ${TABLE}`, tableText(fam));
  }
  lines.push(...elementCommands('add', stateElements(state)));
  if (opts.createUserTable) lines.push(userTableText());
  return lines.join('\n') + '\n';
}
