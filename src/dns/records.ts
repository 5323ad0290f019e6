/**
 * The names the embedded DNS answers for, per network. Pure: no sockets, no clock.
 *
 * Docker scopes container names per network: a sandbox on network X resolves only the names of
 * endpoints on X, so the table is keyed by network first and every query names its network.
 */
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../errors.js';

/** What one endpoint publishes: its sandbox name, its aliases and its addresses. */
export interface DnsEntry {
  name: string;
  aliases: string[];
  /** Address, with or without a /prefix (endpoint records keep the CIDR). */
  ipv4?: string;
  ipv6?: string;
}

export type AddressType = 'A' | 'AAAA';

interface StoredEntry {
  name: string;
  names: string[];
  ipv4?: string;
  ipv6?: string;
}

interface NameSlot {
  endpoints: Set<string>;
  /** Round-robin position per type, advanced on every lookup that answers. */
  turnA: number;
  turnAAAA: number;
}

interface NetworkTable {
  endpoints: Map<string, StoredEntry>;
  names: Map<string, NameSlot>;
  /** Canonical address → endpoints holding it (two may briefly share one during a move). */
  addrs: Map<string, Set<string>>;
  subnets: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]>;
  generation: number;
}

const MAX_NAME = 253;

/** Lower-case, without the trailing dot: the form names are indexed under. */
export function normalizeName(qname: string): string {
  const n = qname.endsWith('.') ? qname.slice(0, -1) : qname;
  return n.toLowerCase();
}

function checkName(field: string, name: string): string {
  const n = normalizeName(name);
  if (n.length === 0 || n.length > MAX_NAME || n.startsWith('.') || n.includes('..') || /[\s\\]/.test(n)) {
    throw new InvalidArgumentError(field, `"${name}" is not a usable DNS name`);
  }
  return n;
}

/** Canonical text of an address (CIDR suffix dropped), or undefined when it is not one. */
export function canonicalAddress(addr: string): string | undefined {
  const bare = addr.includes('/') ? addr.slice(0, addr.indexOf('/')) : addr;
  if (!ipaddr.IPv4.isValidFourPartDecimal(bare) && !ipaddr.IPv6.isValid(bare)) return undefined;
  const a = ipaddr.parse(bare);
  if (a.kind() === 'ipv6' && (a as ipaddr.IPv6).isIPv4MappedAddress()) return (a as ipaddr.IPv6).toIPv4Address().toString();
  return a.toString();
}

function checkAddress(field: string, addr: string, kind: 'ipv4' | 'ipv6'): string {
  const c = canonicalAddress(addr);
  if (c === undefined || ipaddr.parse(c).kind() !== kind) throw new InvalidArgumentError(field, `"${addr}" is not an ${kind} address`);
  return c;
}

/**
 * The address a reverse name stands for: "4.3.2.10.in-addr.arpa" → "10.2.3.4", a full 32-nibble
 * ip6.arpa name → the IPv6 address. Undefined for anything else (partial zones, junk).
 */
export function addressFromReverseName(qname: string): string | undefined {
  const n = normalizeName(qname);
  if (n.endsWith('.in-addr.arpa')) {
    const parts = n.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || !parts.every((p) => /^(0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255)) return undefined;
    return parts.reverse().join('.');
  }
  if (n.endsWith('.ip6.arpa')) {
    const nibbles = n.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || !nibbles.every((x) => /^[0-9a-f]$/.test(x))) return undefined;
    const hex = nibbles.reverse().join('');
    const groups = hex.match(/.{4}/g)!;
    return ipaddr.parse(groups.join(':')).toString();
  }
  return undefined;
}

/** The reverse-lookup name of an address (the inverse of addressFromReverseName). */
export function reverseName(addr: string): string {
  const c = canonicalAddress(addr);
  if (c === undefined) throw new InvalidArgumentError('address', `"${addr}" is not an IP address`);
  const a = ipaddr.parse(c);
  if (a.kind() === 'ipv4') return `${c.split('.').reverse().join('.')}.in-addr.arpa`;
  const hex = (a as ipaddr.IPv6)
    .toByteArray()
    .map((b) => b.toString(16).padStart(2, '0'))
    .join('');
  return `${hex.split('').reverse().join('.')}.ip6.arpa`;
}

function rotate<T>(list: T[], turn: number): T[] {
  if (list.length < 2) return list;
  const k = turn % list.length;
  return k === 0 ? list : [...list.slice(k), ...list.slice(0, k)];
}

/** Per-network name → address records, with round-robin among endpoints sharing a name. */
export class DnsRecordTable {
  private readonly nets = new Map<string, NetworkTable>();

  private net(networkId: string): NetworkTable {
    let t = this.nets.get(networkId);
    if (!t) {
      t = { endpoints: new Map(), names: new Map(), addrs: new Map(), subnets: [], generation: 0 };
      this.nets.set(networkId, t);
    }
    return t;
  }

  /** Add or replace what one endpoint publishes on a network (idempotent). */
  setEndpoint(networkId: string, endpointId: string, entry: DnsEntry): void {
    const name = checkName('name', entry.name);
    const names = [name];
    entry.aliases.forEach((a, i) => {
      const n = checkName(`aliases[${i}]`, a);
      if (!names.includes(n)) names.push(n);
    });
    const stored: StoredEntry = { name: entry.name.endsWith('.') ? entry.name.slice(0, -1) : entry.name, names };
    if (entry.ipv4 !== undefined) stored.ipv4 = checkAddress('ipv4', entry.ipv4, 'ipv4');
    if (entry.ipv6 !== undefined) stored.ipv6 = checkAddress('ipv6', entry.ipv6, 'ipv6');
    const t = this.net(networkId);
    this.unindex(t, endpointId);
    t.endpoints.set(endpointId, stored);
    for (const n of names) {
      let slot = t.names.get(n);
      if (!slot) t.names.set(n, (slot = { endpoints: new Set(), turnA: 0, turnAAAA: 0 }));
      slot.endpoints.add(endpointId);
    }
    for (const a of [stored.ipv4, stored.ipv6]) {
      if (a === undefined) continue;
      let set = t.addrs.get(a);
      if (!set) t.addrs.set(a, (set = new Set()));
      set.add(endpointId);
    }
    t.generation++;
  }

  /** Forget an endpoint; true if it was there (removing twice is not an error). */
  removeEndpoint(networkId: string, endpointId: string): boolean {
    const t = this.nets.get(networkId);
    if (!t || !t.endpoints.has(endpointId)) return false;
    this.unindex(t, endpointId);
    t.endpoints.delete(endpointId);
    t.generation++;
    return true;
  }

  /** Drop a whole network's records. */
  removeNetwork(networkId: string): void {
    const t = this.nets.get(networkId);
    if (!t) return;
    // Bump rather than forget so a cache holding the old generation still sees a change.
    this.nets.set(networkId, { endpoints: new Map(), names: new Map(), addrs: new Map(), subnets: [], generation: t.generation + 1 });
  }

  /** The network's subnets (CIDRs): reverse queries inside them are answered locally. */
  setSubnets(networkId: string, subnets: string[]): void {
    const t = this.net(networkId);
    t.subnets = subnets.map((s, i) => {
      try {
        return ipaddr.parseCIDR(s);
      } catch (e) {
        throw new InvalidArgumentError(`subnets[${i}]`, `"${s}" is not a CIDR`, e);
      }
    });
    t.generation++;
  }

  /** Changes whenever the network's records change; lets a server drop cached answers. */
  generation(networkId: string): number {
    return this.nets.get(networkId)?.generation ?? 0;
  }

  /** Whether the network has any endpoint publishing this name (any address family). */
  has(networkId: string, qname: string): boolean {
    return this.nets.get(networkId)?.names.has(normalizeName(qname)) ?? false;
  }

  /**
   * Addresses for a name on a network, rotated one step per call so clients taking the first
   * answer spread over the endpoints. Undefined when the name is unknown there (the caller
   * forwards); an empty list when the name exists but has no address of that type (NODATA).
   */
  lookup(networkId: string, qname: string, type: AddressType): string[] | undefined {
    const t = this.nets.get(networkId);
    const slot = t?.names.get(normalizeName(qname));
    if (!t || !slot) return undefined;
    const field = type === 'A' ? 'ipv4' : 'ipv6';
    const out: string[] = [];
    for (const id of slot.endpoints) {
      const a = t.endpoints.get(id)?.[field];
      if (a !== undefined && !out.includes(a)) out.push(a);
    }
    if (out.length < 2) return out;
    const turn = type === 'A' ? slot.turnA++ : slot.turnAAAA++;
    return rotate(out, turn);
  }

  /**
   * The sandbox name for an address or a reverse name (in-addr.arpa / ip6.arpa) on a network,
   * undefined when no endpoint there holds it.
   */
  reverse(networkId: string, addrOrPtr: string): string | undefined {
    const t = this.nets.get(networkId);
    if (!t) return undefined;
    const addr =
      canonicalAddress(addrOrPtr) ??
      (() => {
        const a = addressFromReverseName(addrOrPtr);
        return a === undefined ? undefined : canonicalAddress(a);
      })();
    if (addr === undefined) return undefined;
    const holders = t.addrs.get(addr);
    if (!holders) return undefined;
    for (const id of holders) {
      const e = t.endpoints.get(id);
      if (e) return e.name;
    }
    return undefined;
  }

  /** Whether a reverse name falls inside one of the network's subnets (answered locally). */
  isLocalReverse(networkId: string, ptrName: string): boolean {
    const t = this.nets.get(networkId);
    const a = addressFromReverseName(ptrName);
    if (!t || a === undefined) return false;
    const addr = ipaddr.parse(a);
    return t.subnets.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  }

  /**
   * Whether a client address may ask this network's server: inside one of its subnets, or
   * anything when no subnets are known. Keeps a sandbox of network Y from reading network X's
   * names by sending to X's gateway address.
   */
  acceptsClient(networkId: string, clientAddr: string): boolean {
    const t = this.nets.get(networkId);
    if (!t || t.subnets.length === 0) return true;
    const c = canonicalAddress(clientAddr);
    if (c === undefined) return false;
    const addr = ipaddr.parse(c);
    return t.subnets.some(([net, bits]) => net.kind() === addr.kind() && addr.match(net, bits));
  }

  /** Networks that have records (for diagnostics). */
  networks(): string[] {
    return [...this.nets.keys()];
  }

  private unindex(t: NetworkTable, endpointId: string): void {
    const old = t.endpoints.get(endpointId);
    if (!old) return;
    for (const n of old.names) {
      const slot = t.names.get(n);
      slot?.endpoints.delete(endpointId);
      if (slot && slot.endpoints.size === 0) t.names.delete(n);
    }
    for (const a of [old.ipv4, old.ipv6]) {
      if (a === undefined) continue;
      const set = t.addrs.get(a);
      set?.delete(endpointId);
      if (set && set.size === 0) t.addrs.delete(a);
    }
  }
}
