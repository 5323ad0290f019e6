/**
 * Names and ownership marks of the kernel objects the macvlan and ipvlan drivers create in the
 * host's namespace. Every such link also carries an alias (IFLA_IFALIAS) naming its role and
 * network, so weft deletes a link only when the kernel object itself says it is weft's — never
 * a parent the user gave, even one whose name looks like ours.
 */
import { randomBytes } from 'node:crypto';

/** Private parent of a network without `-o parent` (Docker makes a dummy `dm-<id>` instead). */
export const privateParentName = (networkId: string): string => `wfm${networkId.slice(0, 12)}`;
/** The host shim: a macvlan in the host's namespace through which the host reaches its children. */
export const shimName = (networkId: string): string => `wfs${networkId.slice(0, 12)}`;
/** A short-lived macvlan that sends ARP probes (removed right after; leftovers swept). */
export const probeName = (): string => `wfp${randomBytes(6).toString('hex')}`;

export type OwnedRole = 'private-parent' | 'vlan-parent' | 'shim' | 'probe';

/** The alias weft puts on a link it created for a network. */
export const ownerAlias = (role: OwnedRole, networkId: string): string => `weft:${role}:${networkId}`;

/** Whether a link's alias says weft created it for this role and network. */
export const isOwned = (alias: string | undefined, role: OwnedRole, networkId: string): boolean => alias === ownerAlias(role, networkId);

/** Locally administered unicast MAC derived from the network id, for the shim (stable across restarts). */
export function shimMacOf(networkId: string): string {
  return ['06', ...(networkId.slice(0, 10).match(/../g) ?? [])].join(':');
}
