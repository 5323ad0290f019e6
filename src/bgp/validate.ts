/**
 * Checking a BGP model before anything is rendered: every problem is an InvalidArgumentError
 * whose field names the offending input ("externalPeers[1].address"), so a bad model never
 * reaches BIRD. Returns the model in canonical form with defaults applied. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import {
  type Cidr,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  formatAddress,
  formatCidr,
  parseAddress,
  parseCidr,
} from '../ipam/cidr.js';
import {
  type BgpExternalPeer,
  type BgpHostPeer,
  type BgpModel,
  type BgpTimers,
  DEFAULT_KERNEL,
  DEFAULT_TIMERS,
  type NormalizedBgpModel,
} from './model.js';

const AS_MAX = 4294967295;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/;
// BIRD interface patterns: shell-style wildcards, optionally negated with a leading "-".
const IFACE_RE = /^-?[A-Za-z0-9_.:*?[\]-]{1,64}$/;
// TCP MD5 keys are at most 80 bytes; quotes and backslashes would need BIRD string escapes.
const PASSWORD_RE = /^[\x21\x23-\x5b\x5d-\x7e ]{1,80}$/;

function fail(field: string, message: string): never {
  throw new InvalidArgumentError(field, message);
}

function listOf<T>(field: string, v: T[] | undefined): T[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) fail(field, 'must be a list');
  return v;
}

function checkAs(field: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > AS_MAX) {
    fail(field, `${JSON.stringify(v)} is not an AS number (an integer from 1 to ${AS_MAX})`);
  }
  return v;
}

function checkInt(field: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    fail(field, `${JSON.stringify(v)} must be an integer from ${min} to ${max}`);
  return v;
}

function checkName(field: string, v: unknown): string {
  if (typeof v !== 'string' || !NAME_RE.test(v)) fail(field, `${JSON.stringify(v)} must be letters, digits, ".", "_" or "-" (at most 253)`);
  return v;
}

/** Canonical address of the given family (link-local IPv6 cannot source a session on its own). */
function checkAddress(field: string, v: unknown, family?: 4 | 6): string {
  const a = parseAddress(v as string, field);
  if (family !== undefined && a.family !== family) fail(field, `${JSON.stringify(v)} is not an IPv${family} address`);
  if (a.family === 6 && a.value >> 118n === 0x3fan) fail(field, `${JSON.stringify(v)} is link-local; use a global or unique-local address`);
  return formatAddress(a);
}

/** A cluster id as BIRD wants it: a dotted quad (a plain number is converted). */
function checkClusterId(field: string, v: unknown): string {
  if (typeof v === 'string' && /^\d+$/.test(v)) {
    const n = Number(v);
    if (n > AS_MAX) fail(field, `${v} is larger than 32 bits`);
    return formatAddress({ family: 4, value: BigInt(n) });
  }
  return checkAddress(field, v, 4);
}

function checkTimers(t: Partial<BgpTimers> | undefined): BgpTimers {
  const r = { ...DEFAULT_TIMERS, ...t };
  if (r.holdSeconds !== 0) checkInt('timers.holdSeconds', r.holdSeconds, 3, 65535);
  checkInt('timers.keepaliveSeconds', r.keepaliveSeconds, 1, 65535);
  if (r.holdSeconds !== 0 && r.keepaliveSeconds * 3 > r.holdSeconds) {
    fail('timers.keepaliveSeconds', `${r.keepaliveSeconds} s is more than a third of the hold time (${r.holdSeconds} s)`);
  }
  checkInt('timers.connectDelaySeconds', r.connectDelaySeconds, 0, 65535);
  checkInt('timers.connectRetrySeconds', r.connectRetrySeconds, 1, 65535);
  return r;
}

/** Prefixes of `list` split by family, canonical, checked against each other. */
function checkPools(list: unknown): { pools: Cidr[] } {
  if (!Array.isArray(list)) fail('pools', 'must be a list of CIDRs');
  const pools: Cidr[] = [];
  list.forEach((p, i) => {
    const c = parseCidr(p as string, `pools[${i}]`, { strict: true });
    if (c.prefix === 0) fail(`pools[${i}]`, `${String(p)} is a default route; a pool must be a real prefix`);
    const clash = pools.findIndex((o) => cidrOverlaps(o, c));
    if (clash >= 0) fail(`pools[${i}]`, `${String(p)} overlaps pools[${clash}] ${formatCidr(pools[clash]!)}`);
    pools.push(c);
  });
  return { pools };
}

function inPool(field: string, c: Cidr, pools: Cidr[]): void {
  if (!pools.some((p) => cidrContainsCidr(p, c))) fail(field, `${formatCidr(c)} is not inside any of weft's pools`);
}

function checkHosts(m: BgpModel, own: Set<string>): BgpHostPeer[] {
  const hosts = listOf('hosts', m.hosts);
  const names = new Set<string>();
  const out: BgpHostPeer[] = [];
  hosts.forEach((h, i) => {
    const f = `hosts[${i}]`;
    const name = checkName(`${f}.name`, h.name);
    if (names.has(name)) fail(`${f}.name`, `host "${name}" is listed twice`);
    names.add(name);
    if (name === m.hostName) return; // the local host, as a caller listing every host includes it
    const peer: BgpHostPeer = { name, asNumber: checkAs(`${f}.asNumber`, h.asNumber) };
    if (h.address4 !== undefined) peer.address4 = checkAddress(`${f}.address4`, h.address4, 4);
    if (h.address6 !== undefined) peer.address6 = checkAddress(`${f}.address6`, h.address6, 6);
    if (peer.address4 === undefined && peer.address6 === undefined) fail(f, `host "${name}" has no underlay address`);
    for (const [k, a] of [
      ['address4', peer.address4],
      ['address6', peer.address6],
    ] as const) {
      if (a === undefined) continue;
      if (own.has(a)) fail(`${f}.${k}`, `${a} is this host's own address (duplicate peer)`);
      own.add(a);
    }
    if (h.reflectorClusterId !== undefined) peer.reflectorClusterId = checkClusterId(`${f}.reflectorClusterId`, h.reflectorClusterId);
    out.push(peer);
  });
  return out;
}

function checkExternal(m: BgpModel, taken: Set<string>): BgpExternalPeer[] {
  const peers = listOf('externalPeers', m.externalPeers);
  const names = new Set<string>();
  return peers.map((p, i) => {
    const f = `externalPeers[${i}]`;
    const name = checkName(`${f}.name`, p.name);
    if (names.has(name)) fail(`${f}.name`, `peer "${name}" is listed twice`);
    names.add(name);
    const address = checkAddress(`${f}.address`, p.address);
    const key = `${address}#${p.port ?? 179}`;
    if (taken.has(address) || taken.has(key))
      fail(`${f}.address`, `${address} is already a peer or this host's own address (duplicate peer)`);
    taken.add(key);
    const out: BgpExternalPeer = { name, asNumber: checkAs(`${f}.asNumber`, p.asNumber), address };
    if (p.password !== undefined) {
      if (typeof p.password !== 'string' || !PASSWORD_RE.test(p.password)) {
        fail(`${f}.password`, 'must be 1–80 printable ASCII characters without quotes or backslashes');
      }
      out.password = p.password;
    }
    if (p.multihop !== undefined) out.multihop = checkInt(`${f}.multihop`, p.multihop, 1, 255);
    if (p.port !== undefined) out.port = checkInt(`${f}.port`, p.port, 1, 65535);
    if (p.passive !== undefined) out.passive = p.passive === true;
    if (p.localAddress !== undefined) {
      out.localAddress = checkAddress(`${f}.localAddress`, p.localAddress, address.includes(':') ? 6 : 4);
      if (out.localAddress === address) fail(`${f}.localAddress`, `${address} is the peer's own address`);
    }
    return out;
  });
}

/** Validate and normalize; throws InvalidArgumentError naming the field. */
export function validateBgpModel(m: BgpModel): NormalizedBgpModel {
  if (typeof m !== 'object' || m === null) fail('model', 'must be an object');
  const role = m.role ?? 'host';
  if (role !== 'host' && role !== 'router') fail('role', `${JSON.stringify(role)} must be "host" or "router"`);
  const hostName = checkName('hostName', m.hostName);
  const routerId = checkAddress('routerId', m.routerId, 4);
  const asNumber = checkAs('asNumber', m.asNumber);
  const address4 = m.address4 === undefined ? undefined : checkAddress('address4', m.address4, 4);
  const address6 = m.address6 === undefined ? undefined : checkAddress('address6', m.address6, 6);
  const { pools } = checkPools(m.pools);

  const blocks: Cidr[] = [];
  listOf('blocks', m.blocks).forEach((b, i) => {
    const c = parseCidr(b, `blocks[${i}]`, { strict: true });
    inPool(`blocks[${i}]`, c, pools);
    const clash = blocks.findIndex((o) => cidrOverlaps(o, c));
    if (clash >= 0) fail(`blocks[${i}]`, `${b} overlaps blocks[${clash}] ${formatCidr(blocks[clash]!)}`);
    blocks.push(c);
  });
  const borrowed: Cidr[] = [];
  listOf('borrowed', m.borrowed).forEach((b, i) => {
    const f = `borrowed[${i}]`;
    const a = parseAddress(typeof b === 'string' && b.includes('/') ? b.slice(0, b.indexOf('/')) : b, f);
    const full = a.family === 4 ? 32 : 128;
    if (typeof b === 'string' && b.includes('/') && b.slice(b.indexOf('/') + 1) !== String(full))
      fail(f, `${b} must be a single address (/${full})`);
    const c: Cidr = { family: a.family, network: a.value, prefix: full, host: a.value };
    inPool(f, c, pools);
    const own = blocks.findIndex((o) => cidrContains(o, a));
    if (own >= 0) fail(f, `${formatAddress(a)} lies in this host's own block ${formatCidr(blocks[own]!)}; it is not borrowed`);
    if (borrowed.some((o) => o.network === c.network && o.family === c.family)) fail(f, `${formatAddress(a)} is listed twice`);
    borrowed.push(c);
  });
  // A single-address block is announced like a borrowed address: a blackhole for it would
  // shadow the workload's own route (Calico #2624).
  const aggregates = blocks.filter((c) => c.prefix < (c.family === 4 ? 32 : 128));
  const singles = [...blocks.filter((c) => !aggregates.includes(c)), ...borrowed];
  // Sorted by address, so the rendered text does not depend on the order the store listed them in.
  const byFamily = (cs: Cidr[], fam: 4 | 6): string[] =>
    cs
      .filter((c) => c.family === fam)
      .sort((a, b) => (a.network < b.network ? -1 : a.network > b.network ? 1 : a.prefix - b.prefix))
      .map(formatCidr);

  if (role === 'host') {
    for (const [list, name] of [
      [m.blocks ?? [], 'blocks'],
      [m.borrowed ?? [], 'borrowed'],
    ] as const) {
      list.forEach((x, i) => {
        const v6 = x.includes(':');
        if (v6 && address6 === undefined) fail(`${name}[${i}]`, `${x} is IPv6 but this host has no address6 to announce it from`);
        if (!v6 && address4 === undefined) fail(`${name}[${i}]`, `${x} is IPv4 but this host has no address4 to announce it from`);
      });
    }
  }

  const own = new Set<string>([address4, address6].filter((a): a is string => a !== undefined));
  const hosts = checkHosts(m, own);
  const mesh = m.mesh ?? 'full';
  if (mesh !== 'full' && mesh !== 'reflectors' && mesh !== 'none')
    fail('mesh', `${JSON.stringify(mesh)} must be "full", "reflectors" or "none"`);
  const reflectorClusterId = m.reflectorClusterId === undefined ? undefined : checkClusterId('reflectorClusterId', m.reflectorClusterId);
  if (mesh === 'reflectors') {
    if (reflectorClusterId === undefined && !hosts.some((h) => h.reflectorClusterId !== undefined)) {
      fail('mesh', '"reflectors" needs at least one host with a reflectorClusterId');
    }
    hosts.forEach((h, i) => {
      // Route reflection is an iBGP mechanism: a reflector and its clients share one AS.
      if (h.asNumber !== asNumber)
        fail(`hosts[${i}].asNumber`, `${h.asNumber} differs from this host's AS ${asNumber}; route reflection needs one AS`);
    });
  } else if (reflectorClusterId !== undefined) {
    fail('reflectorClusterId', `is only meaningful with mesh "reflectors" (mesh is "${mesh}")`);
  }
  const externalPeers = checkExternal(m, own);
  for (const p of externalPeers) {
    const fam = p.address.includes(':') ? 6 : 4;
    if (p.localAddress === undefined && (fam === 4 ? address4 : address6) === undefined) {
      fail(
        `externalPeers[${externalPeers.indexOf(p)}].address`,
        `${p.address} is IPv${fam} but this host has no address${fam} (nor a localAddress for this peer)`,
      );
    }
  }

  const kernel = { ...DEFAULT_KERNEL, ...m.kernel };
  checkInt('kernel.table', kernel.table, 1, 0xffffffff);
  if (kernel.table === 253 || kernel.table === 255)
    fail('kernel.table', `${kernel.table} is the kernel's ${kernel.table === 255 ? 'local' : 'default'} table`);
  checkInt('kernel.metric', kernel.metric, 0, 0xffffffff);
  checkInt('kernel.scanSeconds', kernel.scanSeconds, 1, 3600);
  const interfaces = m.interfaces === undefined ? ['*'] : listOf('interfaces', m.interfaces);
  interfaces.forEach((p, i) => {
    if (typeof p !== 'string' || !IFACE_RE.test(p)) fail(`interfaces[${i}]`, `${JSON.stringify(p)} is not an interface pattern`);
  });

  const out: NormalizedBgpModel = {
    role,
    hostName,
    routerId,
    asNumber,
    pools4: byFamily(pools, 4),
    pools6: byFamily(pools, 6),
    blocks4: byFamily(aggregates, 4),
    blocks6: byFamily(aggregates, 6),
    addrs4: byFamily(singles, 4),
    addrs6: byFamily(singles, 6),
    mesh,
    // Sorted so the rendered text does not depend on the order the store listed things in.
    hosts: [...hosts].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    externalPeers: [...externalPeers].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    kernel,
    timers: checkTimers(m.timers),
    interfaces,
  };
  if (address4 !== undefined) out.address4 = address4;
  if (address6 !== undefined) out.address6 = address6;
  if (reflectorClusterId !== undefined) out.reflectorClusterId = reflectorClusterId;
  if (m.gracefulRestartSeconds !== undefined)
    out.gracefulRestartSeconds = checkInt('gracefulRestartSeconds', m.gracefulRestartSeconds, 1, 4095);
  return out;
}
