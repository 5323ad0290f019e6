/** RTM_*LINK requests and replies (pure). */
import { InvalidArgumentError } from '../../errors.js';
import { attrNested, attrS32, attrStr, attrU16, attrU32, attrU8, parseAttrs, type NlBuilder, type NlMsg } from './codec.js';
import * as C from './constants.js';
import { bytesToMac, ipToBytes, macToBytes } from './ip-bytes.js';
import type {
  CreateBridgeOpts,
  CreateIpvlanOpts,
  CreateMacvlanOpts,
  CreateVethOpts,
  CreateVlanOpts,
  CreateVxlanOpts,
  LinkChange,
  LinkInfo,
} from './types.js';

const NEW_FLAGS = C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL;

/** Interface names reach the kernel: ≤ 15 bytes, no '/', ':' or whitespace, not "." or "..". */
export function validateIfname(name: string, field = 'ifname'): string {
  if (!name || Buffer.byteLength(name) > 15 || /[/:\s]/.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError(field, `"${name}" is not a valid interface name (1-15 bytes, no "/", ":" or spaces)`);
  }
  return name;
}

/** ifinfomsg flags/change that bring a link up (or leave its state alone). */
const upBits = (up: boolean | undefined): { flags: number; change: number } =>
  up === undefined ? { flags: 0, change: 0 } : { flags: up ? C.IFF_UP : 0, change: C.IFF_UP };

function common(b: NlBuilder, o: { mtu?: number; mac?: string; master?: number; linkGroup?: number }, field: string): void {
  if (o.linkGroup !== undefined) b.u32(C.IFLA_GROUP, o.linkGroup);
  if (o.mtu !== undefined) b.u32(C.IFLA_MTU, o.mtu);
  if (o.mac !== undefined) b.attr(C.IFLA_ADDRESS, macToBytes(o.mac, `${field}.mac`));
  if (o.master !== undefined) b.u32(C.IFLA_MASTER, o.master);
}

export function buildCreateBridge(b: NlBuilder, o: CreateBridgeOpts): void {
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  common(b, o, 'bridge');
  b.nest(C.IFLA_LINKINFO, (n) => n.str(C.IFLA_INFO_KIND, 'bridge'));
}

/**
 * One request creates both ends: the peer directly in its target namespace under its final
 * name and MAC, the local end enslaved and up.
 */
export function buildCreateVeth(b: NlBuilder, o: CreateVethOpts): void {
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  common(b, o, 'veth');
  b.nest(C.IFLA_LINKINFO, (li) => {
    li.str(C.IFLA_INFO_KIND, 'veth');
    li.nest(C.IFLA_INFO_DATA, (d) => {
      // VETH_INFO_PEER holds a whole ifinfomsg followed by the peer's attributes.
      d.nest(C.VETH_INFO_PEER, (p) => {
        // The peer cannot be brought up here: veth_open fails (ENOTCONN) until both ends exist.
        p.ifinfomsg({});
        p.str(C.IFLA_IFNAME, validateIfname(o.peerName, 'peerName'));
        if (o.mtu !== undefined) p.u32(C.IFLA_MTU, o.mtu);
        if (o.peerMac !== undefined) p.attr(C.IFLA_ADDRESS, macToBytes(o.peerMac, 'peerMac'));
        if (o.peerNetnsFd !== undefined) p.u32(C.IFLA_NET_NS_FD, o.peerNetnsFd);
      });
    });
  });
}

export function buildCreateVxlan(b: NlBuilder, o: CreateVxlanOpts): void {
  if (!Number.isInteger(o.vni) || o.vni < 0 || o.vni > 0xffffff) throw new InvalidArgumentError('vni', `${o.vni} is not a 24-bit VNI`);
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  common(b, o, 'vxlan');
  if (o.netnsFd !== undefined) b.u32(C.IFLA_NET_NS_FD, o.netnsFd);
  b.nest(C.IFLA_LINKINFO, (li) => {
    li.str(C.IFLA_INFO_KIND, 'vxlan');
    li.nest(C.IFLA_INFO_DATA, (d) => {
      d.u32(C.IFLA_VXLAN_ID, o.vni);
      if (o.local !== undefined) {
        const ip = ipToBytes(o.local, 'local');
        d.attr(ip.length === 4 ? C.IFLA_VXLAN_LOCAL : C.IFLA_VXLAN_LOCAL6, ip);
      }
      if (o.group !== undefined) {
        const ip = ipToBytes(o.group, 'group');
        d.attr(ip.length === 4 ? C.IFLA_VXLAN_GROUP : C.IFLA_VXLAN_GROUP6, ip);
      }
      if (o.dev !== undefined) d.u32(C.IFLA_VXLAN_LINK, o.dev);
      if (o.ttl !== undefined) d.u8(C.IFLA_VXLAN_TTL, o.ttl);
      d.u8(C.IFLA_VXLAN_LEARNING, o.learning ? 1 : 0);
      if (o.proxy) d.u8(C.IFLA_VXLAN_PROXY, 1);
      d.be16(C.IFLA_VXLAN_PORT, o.port ?? 4789);
    });
  });
}

/** The name of a mode number in one of the kernel's mode tables, or the number if it has none. */
function nameOf<K extends string>(table: Readonly<Record<K, number>>, value: number): K | number {
  return (Object.keys(table) as K[]).find((k) => table[k] === value) ?? value;
}

export function buildCreateMacvlan(b: NlBuilder, o: CreateMacvlanOpts): void {
  const mode = C.MACVLAN_MODE[o.mode ?? 'bridge'];
  if (mode === undefined) throw new InvalidArgumentError('mode', `unknown macvlan mode "${o.mode}"`);
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  b.u32(C.IFLA_LINK, o.parent);
  common(b, o, 'macvlan');
  if (o.netnsFd !== undefined) b.u32(C.IFLA_NET_NS_FD, o.netnsFd);
  b.nest(C.IFLA_LINKINFO, (li) => {
    li.str(C.IFLA_INFO_KIND, 'macvlan');
    li.nest(C.IFLA_INFO_DATA, (d) => d.u32(C.IFLA_MACVLAN_MODE, mode));
  });
}

/** An ipvlan child of `parent` (L2/L3/L3S, with its bridge/private/vepa flag). */
export function buildCreateIpvlan(b: NlBuilder, o: CreateIpvlanOpts): void {
  const mode = C.IPVLAN_MODE[o.mode ?? 'l2'];
  const flag = C.IPVLAN_FLAG[o.flag ?? 'bridge'];
  if (mode === undefined) throw new InvalidArgumentError('mode', `unknown ipvlan mode "${o.mode}"`);
  if (flag === undefined) throw new InvalidArgumentError('flag', `unknown ipvlan flag "${o.flag}"`);
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  b.u32(C.IFLA_LINK, o.parent);
  common(b, o, 'ipvlan');
  if (o.netnsFd !== undefined) b.u32(C.IFLA_NET_NS_FD, o.netnsFd);
  b.nest(C.IFLA_LINKINFO, (li) => {
    li.str(C.IFLA_INFO_KIND, 'ipvlan');
    li.nest(C.IFLA_INFO_DATA, (d) => {
      d.u16(C.IFLA_IPVLAN_MODE, mode);
      d.u16(C.IFLA_IPVLAN_FLAGS, flag);
    });
  });
}

/** An 802.1q sub-interface of `parent` tagging with `vlanId`. */
export function buildCreateVlan(b: NlBuilder, o: CreateVlanOpts): void {
  if (!Number.isInteger(o.vlanId) || o.vlanId < 1 || o.vlanId > 4094)
    throw new InvalidArgumentError('vlan', `${o.vlanId} is not a VLAN id (1-4094)`);
  b.start(C.RTM_NEWLINK, NEW_FLAGS).ifinfomsg(upBits(o.up));
  b.str(C.IFLA_IFNAME, validateIfname(o.name, 'name'));
  b.u32(C.IFLA_LINK, o.parent);
  common(b, o, 'vlan');
  b.nest(C.IFLA_LINKINFO, (li) => {
    li.str(C.IFLA_INFO_KIND, 'vlan');
    li.nest(C.IFLA_INFO_DATA, (d) => {
      d.u16(C.IFLA_VLAN_ID, o.vlanId);
      d.be16(C.IFLA_VLAN_PROTOCOL, C.ETH_P_8021Q);
    });
  });
}

export function buildSetLink(b: NlBuilder, index: number, c: LinkChange): void {
  b.start(C.RTM_SETLINK, C.NLM_F_REQUEST | C.NLM_F_ACK).ifinfomsg({ index, ...upBits(c.up) });
  if (c.name !== undefined) b.str(C.IFLA_IFNAME, validateIfname(c.name, 'name'));
  common(b, c, 'link');
  if (c.netnsFd !== undefined) b.u32(C.IFLA_NET_NS_FD, c.netnsFd);
  if (c.alias !== undefined) {
    if (Buffer.byteLength(c.alias) > 255) throw new InvalidArgumentError('alias', 'a link alias is at most 255 bytes');
    b.str(C.IFLA_IFALIAS, c.alias);
  }
  if (c.ipv6AddrGenNone) {
    // IFLA_AF_SPEC { AF_INET6 { IFLA_INET6_ADDR_GEN_MODE = IN6_ADDR_GEN_MODE_NONE } }
    b.nest(IFLA_AF_SPEC, (af) => af.nest(AF_INET6, (v6) => v6.u8(IFLA_INET6_ADDR_GEN_MODE, IN6_ADDR_GEN_MODE_NONE)));
  }
}

const IFLA_AF_SPEC = 26;
const AF_INET6 = 10;
const IFLA_INET6_ADDR_GEN_MODE = 8;
const IN6_ADDR_GEN_MODE_NONE = 1;

/** Request one link by index or name (no NLM_F_ACK: the reply itself answers). */
export function buildGetLink(b: NlBuilder, ref: string | number): void {
  b.start(C.RTM_GETLINK, C.NLM_F_REQUEST).ifinfomsg({ index: typeof ref === 'number' ? ref : 0 });
  if (typeof ref === 'string') b.str(C.IFLA_IFNAME, validateIfname(ref));
  b.u32(C.IFLA_EXT_MASK, C.RTEXT_FILTER_SKIP_STATS);
}

export function buildDumpLinks(b: NlBuilder): void {
  b.start(C.RTM_GETLINK, C.NLM_F_REQUEST | C.NLM_F_DUMP).ifinfomsg({});
  b.u32(C.IFLA_EXT_MASK, C.RTEXT_FILTER_SKIP_STATS);
}

export function buildDeleteLink(b: NlBuilder, ref: string | number): void {
  b.start(C.RTM_DELLINK, C.NLM_F_REQUEST | C.NLM_F_ACK).ifinfomsg({ index: typeof ref === 'number' ? ref : 0 });
  if (typeof ref === 'string') b.str(C.IFLA_IFNAME, validateIfname(ref));
}

/** Decode an RTM_NEWLINK/RTM_DELLINK message. */
export function parseLink(m: NlMsg): LinkInfo {
  const p = m.payload;
  const index = p.readInt32LE(4);
  const flags = p.readUInt32LE(8);
  const a = parseAttrs(p, 16);
  const info: LinkInfo = {
    index,
    name: attrStr(a, C.IFLA_IFNAME) ?? '',
    flags,
    up: (flags & C.IFF_UP) !== 0,
    mtu: attrU32(a, C.IFLA_MTU) ?? 0,
  };
  const mac = a.get(C.IFLA_ADDRESS);
  if (mac) info.mac = bytesToMac(mac);
  const master = attrU32(a, C.IFLA_MASTER);
  if (master) info.master = master;
  const kind = attrNested(a, C.IFLA_LINKINFO);
  const k = kind && attrStr(kind, C.IFLA_INFO_KIND);
  if (k) info.kind = k;
  const data = kind && attrNested(kind, C.IFLA_INFO_DATA);
  if (data && k === 'macvlan') {
    const mode = attrU32(data, C.IFLA_MACVLAN_MODE);
    if (mode !== undefined) info.macvlanMode = nameOf(C.MACVLAN_MODE, mode);
  } else if (data && k === 'ipvlan') {
    const mode = attrU16(data, C.IFLA_IPVLAN_MODE);
    if (mode !== undefined) info.ipvlanMode = nameOf(C.IPVLAN_MODE, mode);
  } else if (data && k === 'vlan') {
    const id = attrU16(data, C.IFLA_VLAN_ID);
    if (id !== undefined) info.vlanId = id;
  }
  const link = attrU32(a, C.IFLA_LINK);
  if (link !== undefined && link !== index) info.link = link;
  const nsid = attrS32(a, C.IFLA_LINK_NETNSID);
  if (nsid !== undefined) info.linkNetnsId = nsid;
  const oper = attrU8(a, C.IFLA_OPERSTATE);
  if (oper !== undefined) info.operState = oper;
  const group = attrU32(a, C.IFLA_GROUP);
  if (group !== undefined) info.group = group;
  const alias = attrStr(a, C.IFLA_IFALIAS);
  if (alias) info.alias = alias;
  return info;
}
