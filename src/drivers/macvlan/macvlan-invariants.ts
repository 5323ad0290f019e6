/**
 * What the macvlan driver keeps true, each with a check and a repair (the driver's own
 * networkUp / join, which ensure and never re-make what exists). doctor runs the checks;
 * reconcile runs them and the repairs of those that fail.
 */
import type { Driver, DriverInvariants, EndpointContext, Invariant, ModelView, NetworkContext } from '../driver.js';
import { IFNAMES } from '../ifnames.js';
import { childInvariant, noOrphansInvariant, parentInvariant } from '../underlay/underlay-invariants.js';
import { shimProblems, shimRouteProblems } from './host-shim.js';

const shimOn = (c: NetworkContext): boolean => c.network.driverState.hostShim === 'true';

const hostShim = (repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> => ({
  id: 'macvlan.host-shim',
  holds: 'with weft.macvlan.host_shim, the host shim (wfs…) exists on the parent, up, with its reserved addresses',
  async check(c) {
    return shimOn(c) ? shimProblems(c.kernel.host(), c.network) : [];
  },
  repair,
});

const shimRoutes = (repair: (c: EndpointContext) => Promise<void>): Invariant<EndpointContext> => ({
  id: 'macvlan.shim-routes',
  holds: "with the host shim, the host has a route to each of the endpoint's addresses through it",
  async check(c) {
    return shimOn(c) ? shimRouteProblems(c.kernel.host(), c.network, c.endpoint, `${c.sandbox.name}/${c.network.name}`) : [];
  },
  repair,
});

const macvlanNets = (m: ModelView): ModelView['networks'] => m.networks.filter((n) => n.driver === 'macvlan');

const noOrphans = noOrphansInvariant(
  'macvlan',
  'every private parent (wfm…), host shim (wfs…), ARP probe link (wfp…) and runtime child waiting for its runtime (wfr…) belongs to a record',
  [
    { scheme: IFNAMES.macvlanParent, kind: 'bridge', wanted: (m) => new Set(macvlanNets(m).map((n) => n.driverState.parent ?? '')) },
    {
      scheme: IFNAMES.macvlanShim,
      kind: 'macvlan',
      wanted: (m) =>
        new Set(
          macvlanNets(m)
            .filter((n) => n.driverState.hostShim === 'true')
            .map((n) => IFNAMES.macvlanShim.of(n.id)),
        ),
    },
    // A probe lives only inside one connect, under the engine lock that reconcile's sweep takes too.
    { scheme: IFNAMES.lanProbe, kind: 'macvlan', wanted: () => new Set() },
    { scheme: IFNAMES.macvlanRuntimeChild, kind: 'macvlan', wanted: (m) => new Set(m.runtimePeers.map((p) => p.peerName)) },
  ],
);

export function macvlanInvariants(driver: Pick<Driver, 'networkUp' | 'join'>): DriverInvariants {
  const ensureNetwork = (c: NetworkContext): Promise<void> => driver.networkUp(c);
  const ensureEndpoint = (c: EndpointContext): Promise<void> => driver.join(c);
  return {
    network: [parentInvariant('macvlan', ensureNetwork), hostShim(ensureNetwork)],
    endpoint: [childInvariant('macvlan', {}, ensureEndpoint), shimRoutes(ensureEndpoint)],
    host: [noOrphans],
  };
}
