/**
 * CNI results: one internal shape, printed in the format of the requested spec version, and
 * read back from any supported version (a prevResult handed along a chain). Pure.
 */
import type { CniDns } from './cni-request.js';
import { atLeast, type CniVersion } from './cni-versions.js';
import { CNI_CODES, CniError } from './cni-errors.js';

export interface CniInterface {
  name: string;
  mac?: string;
  /** 1.1.0 and later. */
  mtu?: number;
  /** Namespace path for interfaces inside the container; absent for host interfaces. */
  sandbox?: string;
}
export interface CniIp {
  /** CIDR: address with the subnet's prefix. */
  address: string;
  gateway?: string;
  /** Index into interfaces. */
  interface?: number;
}
export interface CniRoute {
  dst: string;
  gw?: string;
  /** 1.1.0 and later. */
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface CniResult {
  interfaces?: CniInterface[];
  ips?: CniIp[];
  routes?: CniRoute[];
  dns?: CniDns;
}

const familyOf = (cidr: string): '4' | '6' => (cidr.includes(':') ? '6' : '4');

function dnsOut(d: CniDns | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (d?.nameservers?.length) out.nameservers = d.nameservers;
  if (d?.domain) out.domain = d.domain;
  if (d?.search?.length) out.search = d.search;
  if (d?.options?.length) out.options = d.options;
  return out;
}

/** Print a result as the given spec version lays it out. */
export function formatResult(r: CniResult, v: CniVersion): Record<string, unknown> {
  const v11 = atLeast(v, '1.1.0');
  const v10 = atLeast(v, '1.0.0');
  const out: Record<string, unknown> = { cniVersion: v };
  if (r.interfaces) {
    out.interfaces = r.interfaces.map((i) => ({
      name: i.name,
      ...(i.mac ? { mac: i.mac } : {}),
      ...(v11 && i.mtu ? { mtu: i.mtu } : {}),
      ...(i.sandbox ? { sandbox: i.sandbox } : {}),
    }));
  }
  out.ips = (r.ips ?? []).map((ip) => ({
    ...(v10 ? {} : { version: familyOf(ip.address) }),
    ...(ip.interface !== undefined ? { interface: ip.interface } : {}),
    address: ip.address,
    ...(ip.gateway ? { gateway: ip.gateway } : {}),
  }));
  if (r.routes?.length) {
    out.routes = r.routes.map((rt) => {
      const o: Record<string, unknown> = { dst: rt.dst };
      if (rt.gw) o.gw = rt.gw;
      if (v11) for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) if (rt[k] !== undefined) o[k] = rt[k];
      return o;
    });
  }
  out.dns = dnsOut(r.dns);
  return out;
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const optStr = (x: unknown): string | undefined => (typeof x === 'string' && x !== '' ? x : undefined);
const optNum = (x: unknown): number | undefined => (typeof x === 'number' ? x : undefined);

/** Read a result of any supported version (a prevResult); malformed input is code 7. */
export function parseResult(raw: unknown): CniResult {
  const bad = (what: string): CniError => new CniError(CNI_CODES.invalidConfig, 'invalid prevResult', what);
  if (!isObj(raw)) throw bad('not an object');
  const r: CniResult = {};
  if (raw.interfaces !== undefined) {
    if (!Array.isArray(raw.interfaces)) throw bad('interfaces must be a list');
    r.interfaces = raw.interfaces.map((i, n) => {
      if (!isObj(i) || typeof i.name !== 'string') throw bad(`interfaces[${n}] needs a name`);
      const o: CniInterface = { name: i.name };
      const mac = optStr(i.mac);
      const sandbox = optStr(i.sandbox);
      const mtu = optNum(i.mtu);
      if (mac) o.mac = mac;
      if (sandbox) o.sandbox = sandbox;
      if (mtu) o.mtu = mtu;
      return o;
    });
  }
  if (raw.ips !== undefined) {
    if (!Array.isArray(raw.ips)) throw bad('ips must be a list');
    r.ips = raw.ips.map((ip, n) => {
      if (!isObj(ip) || typeof ip.address !== 'string') throw bad(`ips[${n}] needs an address`);
      const o: CniIp = { address: ip.address };
      const gw = optStr(ip.gateway);
      if (gw) o.gateway = gw;
      if (typeof ip.interface === 'number') o.interface = ip.interface;
      return o;
    });
  }
  if (raw.routes !== undefined) {
    if (!Array.isArray(raw.routes)) throw bad('routes must be a list');
    r.routes = raw.routes.map((rt, n) => {
      if (!isObj(rt) || typeof rt.dst !== 'string') throw bad(`routes[${n}] needs a dst`);
      const o: CniRoute = { dst: rt.dst };
      const gw = optStr(rt.gw);
      if (gw) o.gw = gw;
      for (const k of ['mtu', 'advmss', 'priority', 'table', 'scope'] as const) {
        const x = optNum(rt[k]);
        if (x !== undefined) o[k] = x;
      }
      return o;
    });
  }
  if (isObj(raw.dns)) r.dns = raw.dns;
  return r;
}

/** Append what this plugin made to what earlier plugins in the chain reported. */
export function mergeResults(prev: CniResult | undefined, mine: CniResult): CniResult {
  if (!prev) return mine;
  const base = prev.interfaces?.length ?? 0;
  return {
    interfaces: [...(prev.interfaces ?? []), ...(mine.interfaces ?? [])],
    ips: [
      ...(prev.ips ?? []),
      ...(mine.ips ?? []).map((ip) => (ip.interface === undefined ? ip : { ...ip, interface: ip.interface + base })),
    ],
    routes: [...(prev.routes ?? []), ...(mine.routes ?? [])],
    dns: {
      ...prev.dns,
      ...mine.dns,
      ...(prev.dns?.nameservers || mine.dns?.nameservers
        ? { nameservers: [...new Set([...(prev.dns?.nameservers ?? []), ...(mine.dns?.nameservers ?? [])])] }
        : {}),
    },
  };
}
