/**
 * wireguard-go for an OverlayLab host (the encrypted overlay's service, as weftd gives it): its
 * own Supervisor, run and key directories under `dir`, and a cluster port that hands what the
 * driver publishes to `publish`, which plays the cluster agent (the overlay test and bench).
 */
import { Supervisor } from '../kernel/supervisor.js';
import { WireguardGo } from '../kernel/wireguard.js';
import type { LabHost } from './overlay-lab.js';

/** Give `h` its WireGuard service; the returned Supervisor is the caller's to stop. */
export function giveWireguard(h: LabHost, dir: string, publish: (driver: string, data: Record<string, string>) => void): Supervisor {
  const supervisor = new Supervisor();
  h.services.wireguard = new WireguardGo({
    supervisor,
    runDir: `${dir}/${h.name}`,
    keyDir: `${dir}/${h.name}/keys`,
    netns: h.path,
  });
  h.services.cluster = {
    hostId: h.hostId,
    hostAddress: h.address,
    publishHostData: (driver, data) => {
      publish(driver, data);
      return Promise.resolve();
    },
  };
  return supervisor;
}
