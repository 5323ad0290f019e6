/** RTM_*NEIGH requests and replies (pure): ARP/NDP entries and bridge/vxlan FDB entries. */
import { attrU32, parseAttrs, type NlBuilder, type NlMsg } from './codec.js';
import * as C from './constants.js';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes } from './ip-bytes.js';
import type { NeighInfo, NeighSpec } from './types.js';

const afOfNeigh = (f: 4 | 6 | 7): number => (f === 4 ? C.AF_INET : f === 6 ? C.AF_INET6 : C.AF_BRIDGE);
const neighFamily = (af: number): 4 | 6 | 7 | undefined =>
  af === C.AF_INET ? 4 : af === C.AF_INET6 ? 6 : af === C.AF_BRIDGE ? 7 : undefined;

export interface AddNeighbourOpts {
  /** Overwrite an existing entry (default: fail with EEXIST). */
  replace?: boolean;
  /** FDB: add another destination for the same MAC (flooding to several VTEPs). */
  append?: boolean;
}

function writeNeigh(b: NlBuilder, n: NeighSpec): void {
  b.ndmsg({ family: afOfNeigh(n.family), index: n.index, state: n.state ?? C.NUD.PERMANENT, flags: n.flags ?? 0 });
  if (n.dst !== undefined) b.attr(C.NDA_DST, ipToBytes(n.dst, 'dst'));
  if (n.lladdr !== undefined) b.attr(C.NDA_LLADDR, macToBytes(n.lladdr, 'lladdr'));
  if (n.master !== undefined) b.u32(C.NDA_MASTER, n.master);
  if (n.vni !== undefined) b.u32(C.NDA_VNI, n.vni);
}

export function buildAddNeighbour(b: NlBuilder, n: NeighSpec, o: AddNeighbourOpts = {}): void {
  const mode = o.append ? C.NLM_F_APPEND : o.replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL;
  b.start(C.RTM_NEWNEIGH, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | mode);
  writeNeigh(b, n);
}

export function buildDeleteNeighbour(b: NlBuilder, n: NeighSpec): void {
  b.start(C.RTM_DELNEIGH, C.NLM_F_REQUEST | C.NLM_F_ACK);
  writeNeigh(b, { ...n, state: n.state ?? 0 });
}

/**
 * Dump neighbours or FDB entries. Strict checking filters ARP/NDP dumps by NDA_IFINDEX (a
 * non-zero ndm_ifindex is refused) but FDB dumps by ndm_ifindex.
 */
export function buildDumpNeighbours(b: NlBuilder, family: 4 | 6 | 7, index?: number): void {
  b.start(C.RTM_GETNEIGH, C.NLM_F_REQUEST | C.NLM_F_DUMP);
  b.ndmsg({ family: afOfNeigh(family), index: family === 7 ? (index ?? 0) : 0 });
  if (family !== 7 && index !== undefined) b.u32(C.NDA_IFINDEX, index);
}

export function parseNeighbour(m: NlMsg): NeighInfo | undefined {
  const p = m.payload;
  const family = neighFamily(p.readUInt8(0));
  if (!family) return undefined;
  const a = parseAttrs(p, 12);
  const n: NeighInfo = { index: p.readInt32LE(4), family, state: p.readUInt16LE(8), flags: p.readUInt8(10) };
  const dst = a.get(C.NDA_DST);
  if (dst && (dst.length === 4 || dst.length === 16)) n.dst = bytesToIp(dst);
  const ll = a.get(C.NDA_LLADDR);
  if (ll) n.lladdr = bytesToMac(ll);
  const master = attrU32(a, C.NDA_MASTER);
  if (master !== undefined) n.master = master;
  const vni = attrU32(a, C.NDA_VNI);
  if (vni !== undefined) n.vni = vni;
  return n;
}
