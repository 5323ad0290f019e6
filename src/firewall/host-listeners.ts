/**
 * Whether a published port would take over a socket a host program holds. Publishing is
 * kernel DNAT in the host's namespace: once the rule exists, new connections to that port go
 * to the sandbox and the host's own service silently stops receiving them. So a mapping is
 * refused when a host socket listens on (or, for UDP and SCTP, is bound to) the same protocol
 * and port at an address the mapping covers. Pure: the sockets come from src/kernel/port-owners.
 */

export interface HostSocket {
  protocol: 'tcp' | 'udp' | 'sctp';
  family: 4 | 6;
  /** Canonical text: "0.0.0.0" / "::" for wildcards, "::ffff:a.b.c.d" for v4-mapped. */
  address: string;
  port: number;
  /** Socket inode (to find the owning process). */
  inode: number;
}

export interface WantedHostPort {
  protocol: string;
  /** Undefined (or a wildcard) = every host address. */
  hostIp?: string;
  hostPort: number;
}

const V4_ANY = '0.0.0.0';
const V6_ANY = '::';

/** Addresses a mapping's host side covers: 'all', every address of one family, or one address. */
function coverage(hostIp: string | undefined): { all: true } | { family: 4 | 6; any: boolean; ip: string } {
  if (hostIp === undefined) return { all: true };
  if (hostIp === V4_ANY) return { family: 4, any: true, ip: hostIp };
  if (hostIp === V6_ANY) return { family: 6, any: true, ip: hostIp };
  return { family: hostIp.includes(':') ? 6 : 4, any: false, ip: hostIp.toLowerCase() };
}

/** Whether traffic the mapping catches could have been meant for this socket. */
export function socketCovered(s: HostSocket, want: WantedHostPort): boolean {
  if (s.protocol !== want.protocol || s.port !== want.hostPort) return false;
  const c = coverage(want.hostIp);
  if ('all' in c) return true;
  // A v6 wildcard socket is dual-stack unless IPV6_V6ONLY, which /proc does not show: assume it is.
  const v4mapped = s.address.startsWith('::ffff:') ? s.address.slice(7) : undefined;
  if (c.family === 4) {
    if (s.family === 4) return c.any || s.address === V4_ANY || s.address === c.ip;
    return s.address === V6_ANY || (v4mapped !== undefined && (c.any || v4mapped === c.ip));
  }
  if (s.family !== 6) return false;
  return c.any || s.address === V6_ANY || s.address === c.ip;
}

/** The first host socket a wanted mapping would take over, if any. */
export function hostSocketFor(sockets: readonly HostSocket[], want: WantedHostPort): HostSocket | undefined {
  return sockets.find((s) => socketCovered(s, want));
}

/** "0.0.0.0:9090/tcp" */
export function describeSocket(s: HostSocket): string {
  return `${s.family === 6 ? `[${s.address}]` : s.address}:${s.port}/${s.protocol}`;
}
