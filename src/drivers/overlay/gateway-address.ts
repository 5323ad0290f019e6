/**
 * The gateway bridge (Docker's docker_gwbridge): a local bridge in the host namespace that
 * gives sandboxes on non-internal overlay networks their way out, masqueraded. Each such
 * sandbox gets one leg on it with an address from a host-local subnet. Which addresses are
 * taken is kept in the kernel itself — a permanent neighbour entry on the bridge per leg (its
 * address → the leg's MAC, derived from the endpoint id) — so no other store is needed and a
 * restart finds the same allocation. A leg of an IPv6-enabled overlay network also gets an
 * IPv6 address, derived 1:1 from its IPv4 one, so that claim stays the only allocation. Pure:
 * choosing an address.
 */
import { InvalidArgumentError } from '../../errors.js';
import { formatAddress, hostRange, parseAddress, parseCidr } from '../../ipam/cidr.js';
import { createHash } from 'node:crypto';

export const GATEWAY_BRIDGE = 'weft_gwbridge';
/**
 * Host-local subnet of the gateway bridge. Outside weft's default pools (172.17-31, 192.168),
 * so an overlay sandbox's leg never shadows a bridge network's subnet.
 */
export const GATEWAY_SUBNET = '10.255.0.0/16';
/**
 * Host-local IPv6 subnet of the gateway bridge (a ULA, "weftg"), for legs of IPv6-enabled
 * overlay networks: their IPv6 egress is masqueraded and their published ports are DNATed
 * (ip6) to it, as Docker does on an IPv6 docker_gwbridge.
 */
export const GATEWAY_SUBNET6 = 'fd77:6566:7467::/64';
/** The firewall's id for the gateway bridge (not a network record: it is per host). */
export const GATEWAY_FW_ID = 'overlay-gateway-bridge';

/** The bridge's own address (first host address), with prefix. */
export function gatewayCidr(subnet = GATEWAY_SUBNET): string {
  const c = parseCidr(subnet, 'gateway subnet');
  return `${formatAddress({ family: c.family, value: hostRange(c).first })}/${c.prefix}`;
}

/** The bridge's own IPv6 address (::1 of the subnet), with prefix; never a leg's (those embed 10.255.x.y). */
export function gatewayCidr6(subnet = GATEWAY_SUBNET6): string {
  return gatewayCidr(subnet);
}

/**
 * A leg's IPv6 address: its IPv4 leg address in the low 32 bits of the IPv6 subnet. Unique
 * because the IPv4 claims are, and found again after a restart from the IPv4 claim alone.
 */
export function legAddress6(ipv4: string, subnet = GATEWAY_SUBNET6): string {
  const c = parseCidr(subnet, 'gateway subnet');
  const a = parseAddress(ipv4, 'leg address');
  if (c.family !== 6 || a.family !== 4) throw new InvalidArgumentError('gateway subnet', `cannot embed ${ipv4} in ${subnet}`);
  return formatAddress({ family: 6, value: c.network | a.value });
}

/**
 * An address for an endpoint's leg: from a start derived from its id (so concurrent joins
 * rarely probe the same addresses), the first one not in `used`, never the gateway.
 */
export function pickLegAddress(endpointId: string, used: ReadonlySet<string>, subnet = GATEWAY_SUBNET): string {
  const c = parseCidr(subnet, 'gateway subnet');
  const { first, last } = hostRange(c);
  // The first host address is the gateway's.
  const lo = first + 1n;
  const span = last - lo + 1n;
  if (span <= 0n) throw new InvalidArgumentError('gateway subnet', `${subnet} has no room for legs`);
  const start = BigInt(`0x${createHash('sha256').update(endpointId).digest('hex').slice(0, 12)}`) % span;
  for (let i = 0n; i < span; i++) {
    const a = formatAddress({ family: c.family, value: lo + ((start + i) % span) });
    if (!used.has(a)) return a;
  }
  throw new InvalidArgumentError('gateway subnet', `no free address left in ${subnet} for the gateway bridge`);
}
