/**
 * The routed driver's options and fixed addresses (Calico's scheme, seed 004). Pure.
 *
 * Every workload sees the same on-link gateway: 169.254.1.1 (IPv4) and the link-local address
 * the host side derives from its fixed MAC (IPv6). Nothing owns 169.254.1.1: the host side
 * answers ARP for it by proxy ARP, and the workload also gets a permanent neighbour entry for
 * it, so no address per network or per host is spent on gateways and a workload can move
 * between hosts without renumbering its gateway.
 */
import { InvalidArgumentError } from '../../errors.js';
import type { NetworkRecord } from '../../model/types.js';
import { parseMtu } from '../../config/validate.js';

export const ROUTED_OPTIONS = {
  mtu: 'com.docker.network.driver.mtu',
} as const;

const KNOWN = new Set<string>(Object.values(ROUTED_OPTIONS));

/** MAC of every host-side veth end (Calico's ee:ee:ee:ee:ee:ee): the workload's gateway MAC. */
export const HOST_SIDE_MAC = 'ee:ee:ee:ee:ee:ee';
/** The workload's IPv4 gateway: on-link, answered by proxy ARP on the host side. */
export const GATEWAY4 = '169.254.1.1';
/** The workload's IPv6 gateway: the host side's EUI-64 link-local address from HOST_SIDE_MAC. */
export const GATEWAY6 = 'fe80::ecee:eeff:feee:eeee';

export interface RoutedOptions {
  mtu: number;
}

export function parseRoutedOptions(options: Record<string, string>, ipv6: boolean): RoutedOptions {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw new InvalidArgumentError(`opt ${k}`, `unknown option for the routed driver (known: ${[...KNOWN].join(', ')})`);
  }
  const mtu = options[ROUTED_OPTIONS.mtu];
  return { mtu: mtu === undefined ? 1500 : parseMtu(ROUTED_OPTIONS.mtu, mtu, ipv6) };
}

/** The address without its prefix: "10.65.0.7/26" → "10.65.0.7". */
export const bareAddress = (cidr: string): string => cidr.split('/')[0]!;

/** The workload's address as a host route: a /32 (IPv4) or /128 (IPv6), whatever its pool's prefix. */
export function hostRouteOf(cidr: string): string {
  const a = bareAddress(cidr);
  return a.includes(':') ? `${a}/128` : `${a}/32`;
}

export const mtuOf = (net: NetworkRecord): number => Number(net.driverState.mtu ?? '1500');
