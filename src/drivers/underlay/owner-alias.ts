/**
 * Ownership marks on the links the macvlan and ipvlan drivers create in the host's namespace.
 * Their names come from ifnames.ts; each also carries an alias (IFLA_IFALIAS) naming its role
 * and network, so weft deletes or changes a link only when the kernel object itself says it is
 * weft's — never a parent the user gave, even one whose name looks like weft's.
 */

export type OwnedRole = 'private-parent' | 'vlan-parent' | 'shim' | 'probe' | 'runtime-child';

/** The alias weft puts on a link it created for a network. */
export const ownerAlias = (role: OwnedRole, networkId: string): string => `weft:${role}:${networkId}`;

/** Whether a link's alias says weft created it for this role and network. */
export const isOwned = (alias: string | undefined, role: OwnedRole, networkId: string): boolean => alias === ownerAlias(role, networkId);

/** Whether a link's alias says weft created it in this role (for any network). */
export const hasRole = (alias: string | undefined, role: OwnedRole): boolean => alias?.startsWith(`weft:${role}:`) === true;
