/** RTM_*ADDR requests and replies (pure). */
import { attrU32, parseAttrs, type NlBuilder, type NlMsg } from './codec.js';
import * as C from './constants.js';
import { afOf, broadcastOf, bytesToIp, familyOfAf, parseCidr } from './ip-bytes.js';
import type { AddressInfo } from './types.js';

export interface AddAddressOpts {
  /** IPv6: skip duplicate address detection (the address is usable at once). */
  nodad?: boolean;
  /** Replace an existing identical address instead of failing with EEXIST. */
  replace?: boolean;
  /** IFA_PROTO: marks who added the address (kept by Linux ≥ 6.3, ignored before). */
  proto?: number;
}

export function buildAddAddress(b: NlBuilder, index: number, cidr: string, o: AddAddressOpts = {}): void {
  const c = parseCidr(cidr);
  const flags = o.nodad && c.family === 6 ? C.IFA_F_NODAD : 0;
  const excl = o.replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL;
  b.start(C.RTM_NEWADDR, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | excl);
  b.ifaddrmsg({ family: afOf(c.family), prefixlen: c.prefix, flags, index });
  b.attr(C.IFA_LOCAL, c.bytes);
  b.attr(C.IFA_ADDRESS, c.bytes);
  if (c.family === 4 && c.prefix < 31) b.attr(C.IFA_BROADCAST, broadcastOf(c.bytes, c.prefix));
  if (flags) b.u32(C.IFA_FLAGS, flags);
  if (o.proto !== undefined) b.u8(C.IFA_PROTO, o.proto);
}

export function buildDeleteAddress(b: NlBuilder, index: number, cidr: string): void {
  const c = parseCidr(cidr);
  b.start(C.RTM_DELADDR, C.NLM_F_REQUEST | C.NLM_F_ACK);
  b.ifaddrmsg({ family: afOf(c.family), prefixlen: c.prefix, index });
  b.attr(C.IFA_LOCAL, c.bytes);
  b.attr(C.IFA_ADDRESS, c.bytes);
}

/** Dump addresses; with strict checking on, the kernel filters by index itself. */
export function buildDumpAddresses(b: NlBuilder, family?: 4 | 6, index?: number): void {
  b.start(C.RTM_GETADDR, C.NLM_F_REQUEST | C.NLM_F_DUMP);
  b.ifaddrmsg({ family: family ? afOf(family) : C.AF_UNSPEC, index: index ?? 0 });
}

/** Decode an RTM_NEWADDR/RTM_DELADDR message (undefined for families other than v4/v6). */
export function parseAddress(m: NlMsg): AddressInfo | undefined {
  const p = m.payload;
  const family = familyOfAf(p.readUInt8(0));
  if (!family) return undefined;
  const a = parseAttrs(p, 8);
  // On point-to-point links IFA_ADDRESS is the peer; IFA_LOCAL is always our own address.
  const addr = a.get(C.IFA_LOCAL) ?? a.get(C.IFA_ADDRESS);
  if (!addr) return undefined;
  return {
    index: p.readUInt32LE(4),
    family,
    cidr: `${bytesToIp(addr)}/${p.readUInt8(1)}`,
    scope: p.readUInt8(3),
    flags: attrU32(a, C.IFA_FLAGS) ?? p.readUInt8(2),
    ...(a.has(C.IFA_PROTO) ? { proto: a.get(C.IFA_PROTO)!.readUInt8(0) } : {}),
  };
}
