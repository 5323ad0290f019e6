/**
 * Published ports must not take over a host service: a host port some process of the host
 * listens on (TCP) or is bound to (UDP, SCTP) is refused, naming the port and the process.
 * The one host-port allocator asks this guard on every path that publishes (weft run -p/-P,
 * the REST API, CNI portMappings, Docker's ProgramExternalConnectivity); automatic choices
 * (-P, ranges, host port 0) skip such ports.
 */
import { describeSocket, hostSocketFor, type HostSocket, type WantedHostPort } from '../firewall/host-listeners.js';
import type { HostHeldPorts } from '../firewall/host-port-allocator.js';
import type { KernelPort } from '../kernel/kernel-port.js';

export class HostPortGuard implements HostHeldPorts {
  private readonly sockets: readonly HostSocket[];

  /** A snapshot of the host's sockets (weftd's namespace), taken once per request. */
  constructor(private readonly kernel: Pick<KernelPort, 'hostSockets' | 'socketOwner'>) {
    this.sockets = kernel.hostSockets();
  }

  /** The host socket this mapping would divert traffic from, if any. */
  holder(want: WantedHostPort): HostSocket | undefined {
    return hostSocketFor(this.sockets, want);
  }

  held(want: WantedHostPort): boolean {
    return this.holder(want) !== undefined;
  }

  /** Why a held port is refused: the port, the owning process when it can be found, the socket. */
  refusal(want: WantedHostPort): string {
    const s = this.holder(want);
    const owner = s && this.kernel.socketOwner(s.inode);
    const host = want.hostIp === undefined ? '' : want.hostIp.includes(':') ? `[${want.hostIp}]:` : `${want.hostIp}:`;
    const how = s ? ` (${s.protocol === 'tcp' ? 'listening on' : 'bound to'} ${describeSocket(s)})` : '';
    return `host port ${host}${want.hostPort}/${want.protocol} is in use on the host${owner ? ` by ${owner}` : ''}${how}; weft will not take it over: choose another host port`;
  }
}
