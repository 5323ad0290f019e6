/** RTM_*ROUTE requests and replies (pure). */
import { InvalidArgumentError } from '../../errors.js';
import { attrU32, parseAttrs, type NlBuilder, type NlMsg } from './codec.js';
import * as C from './constants.js';
import { afOf, bytesToIp, familyOfAf, ipToBytes, parseCidr } from './ip-bytes.js';
import type { RouteInfo, RouteSpec } from './types.js';

function writeRoute(b: NlBuilder, r: RouteSpec, forDelete: boolean): void {
  const d = parseCidr(r.dst, 'dst');
  const type = r.type ?? C.RTN_UNICAST;
  const table = r.table ?? C.RT_TABLE_MAIN;
  let scope = r.scope;
  if (scope === undefined) {
    // Deleting with scope NOWHERE matches a route of any scope (as `ip route del` does).
    if (forDelete) scope = C.RT_SCOPE_NOWHERE;
    else if (type === C.RTN_LOCAL) scope = C.RT_SCOPE_HOST;
    else if (r.gateway === undefined && r.oif !== undefined && type === C.RTN_UNICAST) scope = C.RT_SCOPE_LINK;
    else scope = C.RT_SCOPE_UNIVERSE;
  }
  b.rtmsg({
    family: afOf(d.family),
    dstLen: d.prefix,
    table: table < 256 ? table : 0,
    protocol: r.protocol ?? (forDelete ? 0 : C.RTPROT_BOOT),
    scope,
    type,
    flags: r.onlink ? C.RTNH_F_ONLINK : 0,
  });
  if (d.prefix > 0) b.attr(C.RTA_DST, d.bytes);
  b.u32(C.RTA_TABLE, table);
  if (r.gateway !== undefined) {
    const gw = ipToBytes(r.gateway, 'gateway');
    if (gw.length !== d.bytes.length) throw new InvalidArgumentError('gateway', `gateway ${r.gateway} is not of the family of ${r.dst}`);
    b.attr(C.RTA_GATEWAY, gw);
  }
  if (r.oif !== undefined) b.u32(C.RTA_OIF, r.oif);
  if (r.metric !== undefined) b.u32(C.RTA_PRIORITY, r.metric);
  if (r.prefsrc !== undefined) b.attr(C.RTA_PREFSRC, ipToBytes(r.prefsrc, 'prefsrc'));
}

export function buildAddRoute(b: NlBuilder, r: RouteSpec, replace = false): void {
  b.start(C.RTM_NEWROUTE, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | (replace ? C.NLM_F_REPLACE : C.NLM_F_EXCL));
  writeRoute(b, r, false);
}

export function buildDeleteRoute(b: NlBuilder, r: RouteSpec): void {
  b.start(C.RTM_DELROUTE, C.NLM_F_REQUEST | C.NLM_F_ACK);
  writeRoute(b, r, true);
}

export function buildDumpRoutes(b: NlBuilder, family?: 4 | 6, table?: number): void {
  b.start(C.RTM_GETROUTE, C.NLM_F_REQUEST | C.NLM_F_DUMP);
  b.rtmsg({ family: family ? afOf(family) : C.AF_UNSPEC, table: table !== undefined && table < 256 ? table : 0 });
  if (table !== undefined && table >= 256) b.u32(C.RTA_TABLE, table);
}

/** Decode an RTM_NEWROUTE/RTM_DELROUTE message (undefined for families other than v4/v6). */
export function parseRoute(m: NlMsg): RouteInfo | undefined {
  const p = m.payload;
  const family = familyOfAf(p.readUInt8(0));
  if (!family) return undefined;
  const a = parseAttrs(p, 12);
  const dst = a.get(C.RTA_DST);
  const dstLen = p.readUInt8(1);
  const r: RouteInfo = {
    family,
    dst: dst ? `${bytesToIp(dst)}/${dstLen}` : family === 4 ? '0.0.0.0/0' : '::/0',
    table: attrU32(a, C.RTA_TABLE) ?? p.readUInt8(4),
    protocol: p.readUInt8(5),
    scope: p.readUInt8(6),
    type: p.readUInt8(7),
  };
  const gw = a.get(C.RTA_GATEWAY);
  if (gw) r.gateway = bytesToIp(gw);
  const oif = attrU32(a, C.RTA_OIF);
  if (oif !== undefined) r.oif = oif;
  const metric = attrU32(a, C.RTA_PRIORITY);
  if (metric !== undefined) r.metric = metric;
  const src = a.get(C.RTA_PREFSRC);
  if (src) r.prefsrc = bytesToIp(src);
  return r;
}
