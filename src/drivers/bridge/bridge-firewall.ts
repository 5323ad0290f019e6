/** How the firewall sees a bridge network (backend-neutral model, firewall/types.ts). Pure. */
import type { NetworkRecord } from '../../model/types.js';
import type { FwNetwork } from '../../firewall/types.js';

export function fwNetworkOf(net: NetworkRecord): FwNetwork | undefined {
  if (net.driver !== 'bridge' || !net.driverState.bridgeName) return undefined;
  const fw: FwNetwork = {
    id: net.id,
    bridge: net.driverState.bridgeName,
    subnets4: net.ipam.config.filter((p) => !p.subnet.includes(':')).map((p) => p.subnet),
    subnets6: net.ipam.config.filter((p) => p.subnet.includes(':')).map((p) => p.subnet),
    internal: net.internal,
    icc: net.driverState.icc !== 'false',
    masquerade: net.driverState.masquerade !== 'false',
  };
  if (net.driverState.hostBindingIpv4) fw.hostBindingIpv4 = net.driverState.hostBindingIpv4;
  if (net.driverState.adopt === 'true') fw.adopted = true;
  return fw;
}
