/**
 * The daemon's own namespace as an underlay: its interfaces with their global addresses and
 * the interface of the default route. Read-only; the cluster agent picks its advertise
 * address from this (src/cluster/advertise-addr.ts).
 */
import { Rtnl } from './netlink/rtnl.js';

export interface UnderlayInfo {
  /** Interface name → global-scope addresses (without prefix), IPv4 first. */
  addresses: Map<string, string[]>;
  /** Interface of the IPv4 default route (lowest metric), else of the IPv6 one. */
  defaultInterface?: string;
  /** The default route's preferred source address, when the route names one. */
  defaultSource?: string;
}

const RT_SCOPE_UNIVERSE = 0;

/** Read the underlay of the namespace this process runs in. */
export function readUnderlay(): UnderlayInfo {
  // The shared handle of this namespace: not closed here.
  const rtnl = Rtnl.current();
  {
    const names = new Map(rtnl.links().map((l) => [l.index, l.name]));
    const addresses = new Map<string, string[]>();
    for (const a of [...rtnl.addresses(undefined, 4), ...rtnl.addresses(undefined, 6)]) {
      if (a.scope !== RT_SCOPE_UNIVERSE) continue;
      const name = names.get(a.index);
      if (name === undefined) continue;
      const list = addresses.get(name) ?? [];
      list.push(a.cidr.split('/')[0]!);
      addresses.set(name, list);
    }
    const info: UnderlayInfo = { addresses };
    for (const family of [4, 6] as const) {
      const defaults = rtnl
        .routes(family)
        .filter((r) => r.table === 254 && (r.dst === '0.0.0.0/0' || r.dst === '::/0') && r.oif !== undefined)
        .sort((a, b) => (a.metric ?? 0) - (b.metric ?? 0));
      const d = defaults[0];
      if (d) {
        const name = names.get(d.oif!);
        if (name !== undefined) info.defaultInterface = name;
        if (d.prefsrc) info.defaultSource = d.prefsrc;
        break;
      }
    }
    return info;
  }
}
