/**
 * Sysctls the nftables backend's rules need in the daemon's namespace: forwarding once a
 * network can route out (only then — an internal-only host forwards nothing), and
 * route_localnet on the bridge so 127.0.0.1:PORT reaches a published port (the ruleset drops
 * 127/8 arriving from bridges). Sysctls wait for networkUp: after a reboot the bridges do not
 * exist before the driver made them.
 */
import { KernelError } from '../errors.js';
import { writeSysctlIn } from '../kernel/sysctl.js';
import type { HostIntegration } from './host-integration.js';
import type { FwNetwork } from './types.js';

const ENOENT = 2;

export class KernelForwarding implements HostIntegration {
  readonly name = 'kernel forwarding';
  readonly required = true;
  private forwardingOn = false;

  constructor(private readonly write: (key: string, value: string) => Promise<void> = (k, v) => writeSysctlIn(undefined, k, v)) {}

  async networkUp(net: FwNetwork): Promise<void> {
    if (!net.internal && !this.forwardingOn) {
      await this.write('net.ipv4.ip_forward', '1');
      try {
        await this.write('net.ipv6.conf.all.forwarding', '1');
      } catch (err) {
        // A kernel without IPv6 has no such file; anything else is a real failure.
        if (!(err instanceof KernelError && err.errno === ENOENT)) throw err;
      }
      this.forwardingOn = true;
    }
    // An adopted bridge is someone else's: weft changes none of its settings.
    if (!net.adopted) await this.write(`net.ipv4.conf.${net.bridge}.route_localnet`, '1');
  }

  /** Forwarding stays on (other networks, or the host's own use, may need it); the bridge took its setting with it. */
  async networkDown(): Promise<void> {}
}
