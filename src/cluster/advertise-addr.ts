/**
 * The address other hosts reach this one at (`--advertise-addr IP|IFACE`), chosen from the
 * underlay as the kernel reports it. Pure: the kernel read is passed in.
 */
import { InvalidArgumentError } from '../errors.js';
import { normalizeAddress, tryParseAddress } from '../ipam/address.js';
import type { UnderlayInfo } from '../kernel/underlay.js';

const IFNAME_RE = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Resolve the flag (or its absence) to one address this host owns. */
export function resolveAdvertiseAddr(flag: string | undefined, u: UnderlayInfo): string {
  const owned = new Set([...u.addresses.values()].flat().map((a) => normalizeAddress(a, 'advertise-addr')));
  if (flag !== undefined && flag !== '') {
    const ip = tryParseAddress(flag);
    if (ip !== undefined) {
      const a = normalizeAddress(flag, 'advertise-addr');
      if (a === '0.0.0.0' || a === '::' || a.startsWith('127.') || a === '::1') {
        throw new InvalidArgumentError('advertise-addr', `${flag} cannot be reached from other hosts`);
      }
      if (!owned.has(a)) throw new InvalidArgumentError('advertise-addr', `${flag} is not an address of this host`);
      return a;
    }
    if (!IFNAME_RE.test(flag)) throw new InvalidArgumentError('advertise-addr', `"${flag}" is neither an IP address nor an interface name`);
    const list = u.addresses.get(flag);
    if (list === undefined) throw new InvalidArgumentError('advertise-addr', `interface ${flag} does not exist or has no global address`);
    return normalizeAddress(list[0]!, 'advertise-addr');
  }
  if (u.defaultSource !== undefined && owned.has(normalizeAddress(u.defaultSource, 'advertise-addr'))) {
    return normalizeAddress(u.defaultSource, 'advertise-addr');
  }
  const viaDefault = u.defaultInterface === undefined ? undefined : u.addresses.get(u.defaultInterface)?.[0];
  if (viaDefault === undefined) {
    throw new InvalidArgumentError('advertise-addr', 'no default route with an address to advertise: give --advertise-addr IP|IFACE');
  }
  return normalizeAddress(viaDefault, 'advertise-addr');
}

/**
 * The IPv6 address beside an IPv4 advertise address: the first global IPv6 address of the
 * interface that carries it (dual-stack routed networks announce IPv6 blocks over IPv6 BGP
 * sessions between these). None when the advertise address is IPv6 or the interface has none.
 */
export function secondFamilyAddress(advertised: string, u: UnderlayInfo): string | undefined {
  if (advertised.includes(':')) return undefined;
  for (const list of u.addresses.values()) {
    if (!list.some((a) => normalizeAddress(a, 'advertise-addr') === advertised)) continue;
    const v6 = list.find((a) => a.includes(':'));
    return v6 === undefined ? undefined : normalizeAddress(v6, 'advertise-addr');
  }
  return undefined;
}
