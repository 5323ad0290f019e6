/**
 * `-o parent=…` as Docker reads it (macvlan and ipvlan alike). Pure.
 *  - absent: weft makes a private parent for the network (Docker makes a dummy `dm-…`);
 *  - "eth0": that interface, which must exist and be up;
 *  - "eth0.10": that interface if it exists; otherwise an 802.1q sub-interface of eth0 with
 *    VLAN id 10, created (and later removed) by weft.
 * One network per parent: a second network on the same parent string is refused, as Docker
 * does ("network … is already using parent interface …"); eth0.10 and eth0.20 are different
 * parents.
 */
import { ConflictError, InvalidArgumentError } from '../../errors.js';
import { validateIfname } from '../../config/validate.js';
import type { NetworkRecord } from '../../model/types.js';

export interface ParentSpec {
  /** Interface name of the parent (e.g. "eth0" or "eth0.10"). */
  name: string;
  /** When the name reads as BASE.VID: what weft creates if the interface does not exist. */
  vlan?: { base: string; id: number };
}

/** Drivers whose networks own their parent exclusively. */
export const UNDERLAY_DRIVERS = new Set(['macvlan', 'ipvlan']);

/** Parse and check a parent option value. */
export function parseParent(field: string, value: string, driver: string): ParentSpec {
  const name = validateIfname(field, value);
  if (name === 'lo') throw new InvalidArgumentError(field, `the loopback interface is not a valid ${driver} parent`);
  const m = /^(.+)\.(\d+)$/.exec(name);
  if (!m) return { name };
  const id = Number(m[2]);
  if (id < 1 || id > 4094) throw new InvalidArgumentError(field, `"${name}": VLAN id ${id} is outside 1-4094`);
  return { name, vlan: { base: m[1]!, id } };
}

/** Refuse a parent another macvlan/ipvlan network already uses. */
export function assertParentFree(net: NetworkRecord, parent: string, others: readonly NetworkRecord[]): void {
  const clash = others.find((n) => n.id !== net.id && UNDERLAY_DRIVERS.has(n.driver) && n.driverState.parent === parent);
  if (clash)
    throw new ConflictError(
      'parent',
      `network "${clash.name}" (${clash.driver}) is already using parent interface ${parent}: one network per parent (or per parent and VLAN)`,
    );
}

/** Driver state describing the parent (flat strings, kept with the network record). */
export function parentStateOf(p: ParentSpec | undefined, privateName: string): Record<string, string> {
  if (!p) return { parent: privateName, parentKind: 'private' };
  const s: Record<string, string> = { parent: p.name, parentKind: 'given' };
  if (p.vlan) {
    s.vlanBase = p.vlan.base;
    s.vlanId = String(p.vlan.id);
  }
  return s;
}
