/** What the mesh driver keeps true, for doctor and reconcile alike (repairs are networkUp / join). */
import type { Driver, DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext } from '../driver.js';
import { IFNAMES } from '../ifnames.js';
import { meshPool } from './mesh-options.js';
import { isWeftLink, parseMark } from '../link-ownership.js';

const bridge = (ensure: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'mesh.bridge',
  holds: "each mesh network's bridge exists, is up and carries the mesh gateway as a /32",
  async check(c) {
    const name = c.network.driverState.bridgeName!;
    const br = c.kernel.host().link(name);
    if (!br) return [`bridge ${name} of mesh network ${c.network.name} is missing`];
    const out: string[] = [];
    if (!br.up) out.push(`bridge ${name} is down`);
    const gw = `${meshPool(c.network).gateway}/32`;
    if (
      !c.kernel
        .host()
        .addresses(br.index, 4)
        .some((a) => a.cidr === gw)
    )
      out.push(`bridge ${name} lacks ${gw}`);
    return out;
  },
  repair: ensure,
});

const endpoint = (ensure: (c: EndpointContext) => Promise<void>): Invariant<EndpointContext> => ({
  id: 'mesh.endpoint',
  holds: "each mesh endpoint's host veth is on the bridge and its /32 is routed to the bridge",
  async check(c) {
    const rt = c.kernel.host();
    const br = rt.link(c.network.driverState.bridgeName!);
    const hostIf = c.endpoint.hostIfname ?? IFNAMES.hostVeth.of(c.endpoint.id);
    const veth = rt.link(hostIf);
    const out: string[] = [];
    if (!veth || !br || veth.master !== br.index) out.push(`veth ${hostIf} of ${c.sandbox.name} is not on the mesh bridge`);
    const dst = `${(c.endpoint.ipv4 ?? '').split('/')[0]}/32`;
    if (br && !rt.routes(4, 254).some((r) => r.dst === dst && r.oif === br.index)) out.push(`no route ${dst} to the mesh bridge`);
    return out;
  },
  repair: ensure,
});

/** weft's mesh devices (marked, of a mesh name) whose network no longer exists; never a link without the mark. */
function orphans(c: HostContext): { index: number; name: string }[] {
  const nets = new Set(c.model.networks.map((n) => n.id));
  return c.kernel
    .host()
    .links()
    .filter((l) => {
      if (!isWeftLink(l) || !(IFNAMES.meshBridge.pattern.test(l.name) || IFNAMES.meshVxlan.pattern.test(l.name))) return false;
      const mark = parseMark(l.alias);
      if (mark) return mark.kind === 'network' && !nets.has(mark.id);
      // Made, then weft stopped before naming it: its name is all that says which network wanted it.
      return !c.model.networks.some((n) => n.driverState.bridgeName === l.name || n.driverState.vxlanName === l.name);
    });
}

const noOrphans: Invariant<HostContext> = {
  id: 'mesh.no-orphans',
  holds:
    "every mesh bridge (wm-…) and fast-path device (wmx…) weft made belongs to a mesh network (links without weft's mark are never touched)",
  async check(c) {
    return orphans(c).map((l) => `link ${l.name} looks like a mesh device but has no network`);
  },
  async repair(c) {
    for (const l of orphans(c)) c.kernel.host().deleteLink(l.index, { ignoreMissing: true });
  },
};

export function meshInvariants(driver: Pick<Driver, 'networkUp' | 'join'>): DriverInvariants {
  return {
    network: [bridge((c) => driver.networkUp(c))],
    endpoint: [endpoint((c) => driver.join(c))],
    host: [noOrphans],
  };
}
