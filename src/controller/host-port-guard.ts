/**
 * Published ports must not take over a host service: a host port some process of the host
 * listens on (TCP) or is bound to (UDP, SCTP) is refused, naming the port and the process.
 * Used by every path that publishes (weft run -p/-P, the REST API, CNI portMappings, Docker's
 * ProgramExternalConnectivity); automatic choices (-P, ranges, host port 0) skip such ports.
 */
import { ConflictError } from '../errors.js';
import { describeSocket, hostSocketFor, type HostSocket, type WantedHostPort } from '../firewall/host-listeners.js';
import { readHostSockets, socketOwner } from '../kernel/port-owners.js';

export class HostPortGuard {
  /** A snapshot of the host's sockets, taken once per request. */
  constructor(private readonly sockets: readonly HostSocket[] = readHostSockets()) {}

  /** The host socket this mapping would divert traffic from, if any. */
  holder(want: WantedHostPort): HostSocket | undefined {
    return hostSocketFor(this.sockets, want);
  }

  isFree(want: WantedHostPort): boolean {
    return this.holder(want) === undefined;
  }

  /** Throws a ConflictError naming the port and, when it can be found, the owning process. */
  assertFree(want: WantedHostPort, field: string): void {
    const s = this.holder(want);
    if (!s) return;
    const owner = socketOwner(s.inode);
    const host = want.hostIp === undefined ? '' : want.hostIp.includes(':') ? `[${want.hostIp}]:` : `${want.hostIp}:`;
    throw new ConflictError(
      field,
      `host port ${host}${want.hostPort}/${want.protocol} is in use on the host${owner ? ` by ${owner}` : ''} ` +
        `(${s.protocol === 'tcp' ? 'listening on' : 'bound to'} ${describeSocket(s)}); weft will not take it over: choose another host port`,
    );
  }
}
