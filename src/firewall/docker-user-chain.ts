/**
 * Docker's FORWARD policy is DROP and, with br_netfilter, applies to frames bridged inside a
 * weft network too; DOCKER-USER is the chain Docker documents for other tools' rules and never
 * flushes. Weft keeps ACCEPT rules for its bridges there whenever that chain exists — dockerd
 * may start after weftd and re-creates its chains when it restarts, hence `resync`.
 */
import { ensureDockerUserAccept, removeDockerUserAccept } from '../kernel/iptables.js';
import type { HostIntegration } from './host-integration.js';
import type { FwNetwork } from './types.js';

export class DockerUserChain implements HostIntegration {
  readonly name = 'DOCKER-USER rules';
  readonly required = false;

  async networkUp(net: FwNetwork): Promise<void> {
    await ensureDockerUserAccept(net.bridge);
  }

  async networkDown(net: FwNetwork): Promise<void> {
    await removeDockerUserAccept(net.bridge);
  }

  async resync(nets: readonly FwNetwork[]): Promise<void> {
    // No chain (no dockerd) means nothing to do for any bridge.
    for (const n of nets) if (!(await ensureDockerUserAccept(n.bridge))) return;
  }
}
