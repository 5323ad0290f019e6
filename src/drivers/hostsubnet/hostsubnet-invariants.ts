/**
 * What the hostsubnet driver keeps true, for doctor and reconcile alike. Repairs are the
 * driver's own ensure (networkUp: re-claims the lease, fixes the devices, re-reads every lease
 * and re-programs the peers) and the bridge driver's join for endpoints.
 */
import type { DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext } from '../driver.js';
import { configOfState, deviceNamesOf } from './hostsubnet-options.js';
import { orphanHostsubnetLinks, ownHostsubnetLink } from './hostsubnet-ownership.js';

interface DriverView {
  networkUp(c: NetworkContext): Promise<void>;
  checkPeers(c: NetworkContext): string[];
}

function devices(d: DriverView): Invariant<NetworkContext> {
  return {
    id: 'hostsubnet.devices',
    holds: "the network's bridge (and its VXLAN VTEP or TUN device) exist and are up",
    async check(c) {
      const rt = c.kernel.host();
      const names = deviceNamesOf(c.network.id);
      const type = configOfState(c.network).backend.type;
      const want = [names.bridge, ...(type === 'vxlan' ? [names.vxlan] : type === 'udp' ? [names.tun] : [])];
      return want.flatMap((n) => {
        const l = rt.link(n);
        if (!l) return [`${c.network.name}: device ${n} is missing`];
        if (!ownHostsubnetLink(c.network, l)) return [`${c.network.name}: device ${n} exists but is not weft's (repair refuses it)`];
        return !l.up ? [`${c.network.name}: device ${n} is down`] : [];
      });
    },
    repair: (c) => d.networkUp(c),
  };
}

function peers(d: DriverView): Invariant<NetworkContext> {
  return {
    id: 'hostsubnet.peers',
    holds: "every other host's subnet is reachable through the backend (routes, neighbour and FDB entries), and nothing else of ours is",
    async check(c) {
      return d.checkPeers(c).map((m) => `${c.network.name}: ${m}`);
    },
    repair: (c) => d.networkUp(c),
  };
}

const noOrphans: Invariant<HostContext> = {
  id: 'hostsubnet.no-orphans',
  holds: "every hostsubnet device weft made (whb…, whv…, wht… in weft's link group) belongs to a network",
  async check(c) {
    return orphanHostsubnetLinks(c.kernel.host(), c.model).map((l) => `link ${l.name} is a hostsubnet device of no network`);
  },
  async repair(c) {
    // By index, and only links carrying weft's group: a look-alike name is never a leftover.
    for (const l of orphanHostsubnetLinks(c.kernel.host(), c.model)) c.kernel.host().deleteLink(l.index, { ignoreMissing: true });
  },
};

/** Endpoints are the bridge driver's veths on this network's bridge: its endpoint invariants apply as they are. */
export function hostsubnetInvariants(d: DriverView, endpoint: readonly Invariant<EndpointContext>[]): DriverInvariants {
  return { network: [devices(d), peers(d)], endpoint, host: [noOrphans] };
}
