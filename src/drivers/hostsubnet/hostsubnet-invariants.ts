/**
 * What the hostsubnet driver keeps true, for doctor and reconcile alike. Repairs are the
 * driver's own ensure (networkUp: re-claims the lease, fixes the devices, re-reads every lease
 * and re-programs the peers) and the bridge driver's join for endpoints.
 */
import type { DriverInvariants, EndpointContext, HostContext, Invariant, NetworkContext } from '../driver.js';
import { IFNAMES } from '../ifnames.js';
import { configOfState, deviceNamesOf } from './hostsubnet-options.js';

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
        return !l ? [`${c.network.name}: device ${n} is missing`] : !l.up ? [`${c.network.name}: device ${n} is down`] : [];
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

const SCHEMES = [IFNAMES.hostsubnetBridge, IFNAMES.hostsubnetVtep, IFNAMES.hostsubnetTun];

function orphans(c: HostContext): string[] {
  const wanted = new Set(c.model.networks.filter((n) => n.driver === 'hostsubnet').flatMap((n) => Object.values(deviceNamesOf(n.id))));
  return c.kernel
    .host()
    .links()
    .filter((l) => SCHEMES.some((s) => s.pattern.test(l.name)) && !wanted.has(l.name))
    .map((l) => l.name);
}

const noOrphans: Invariant<HostContext> = {
  id: 'hostsubnet.no-orphans',
  holds: 'every hostsubnet device (whb…, whv…, wht…) belongs to a network',
  async check(c) {
    return orphans(c).map((n) => `link ${n} looks like a hostsubnet device but has no network`);
  },
  async repair(c) {
    for (const n of orphans(c)) c.kernel.host().deleteLink(n, { ignoreMissing: true });
  },
};

/** Endpoints are the bridge driver's veths on this network's bridge: its endpoint invariants apply as they are. */
export function hostsubnetInvariants(d: DriverView, endpoint: readonly Invariant<EndpointContext>[]): DriverInvariants {
  return { network: [devices(d), peers(d)], endpoint, host: [noOrphans] };
}
