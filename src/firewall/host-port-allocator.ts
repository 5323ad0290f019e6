/**
 * The one host-port allocator, for every surface that publishes ports (`weft run -p`, CNI
 * portMappings, `docker run -p` through the plugin). Two claims collide when they share
 * protocol and host port and their host addresses overlap: an unspecified address covers every
 * address, so 127.0.0.1:8080 and 10.0.0.1:8080 can both be published, but neither next to
 * :8080. A port a host program holds is never taken over: asked for explicitly it is refused,
 * and automatic choices skip it. Pure: what the host holds comes in as `HostHeldPorts`.
 */
import { ConflictError } from '../errors.js';

/** Docker's ephemeral range for -P / -p PORT (the kernel's ip_local_port_range default). */
export const EPHEMERAL_FIRST = 32768;
export const EPHEMERAL_LAST = 60999;

/** A host port in use (or chosen): protocol, host address (undefined = all), port. */
export interface HostPortClaim {
  protocol: string;
  hostIp?: string;
  hostPort: number;
}

/** What a publication asks for: a fixed port, a range (hostPortEnd), or any (hostPort 0). */
export interface HostPortRequest {
  protocol: string;
  hostIp?: string;
  hostPort: number;
  hostPortEnd?: number;
}

/** Ports host programs hold (read by the caller from weftd's namespace). */
export interface HostHeldPorts {
  /** Whether publishing this claim would divert traffic from a host program's socket. */
  held(c: HostPortClaim): boolean;
  /** The refusal for a held claim, naming the port and, when known, the program. */
  refusal(c: HostPortClaim): string;
}

export const claimsOverlap = (a: HostPortClaim, b: HostPortClaim): boolean =>
  a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === undefined || b.hostIp === undefined || a.hostIp === b.hostIp);

export function describeClaim(p: HostPortClaim): string {
  return `${p.hostIp ? (p.hostIp.includes(':') ? `[${p.hostIp}]:` : `${p.hostIp}:`) : ''}${p.hostPort}/${p.protocol}`;
}

/**
 * Choose a host port for each request, in order (each choice is taken for the requests after
 * it). A fixed port that is taken — published already, or held by a host program — is refused
 * (ConflictError naming `field` and the clash); a range is searched from its start, "any" from
 * a random point of the ephemeral range, both skipping held ports.
 */
export function allocateHostPorts(
  requests: readonly HostPortRequest[],
  taken: readonly HostPortClaim[],
  field = 'publish',
  random: () => number = Math.random,
  host?: HostHeldPorts,
): number[] {
  const claims: HostPortClaim[] = [...taken];
  const isFree = (c: HostPortClaim): boolean => !claims.some((t) => claimsOverlap(t, c)) && !host?.held(c);
  return requests.map((r) => {
    const base = { protocol: r.protocol, ...(r.hostIp === undefined ? {} : { hostIp: r.hostIp }) };
    let chosen: HostPortClaim | undefined;
    if (r.hostPort !== 0 && (r.hostPortEnd === undefined || r.hostPortEnd === r.hostPort)) {
      const want = { ...base, hostPort: r.hostPort };
      const clash = claims.find((t) => claimsOverlap(t, want));
      if (clash) throw new ConflictError(field, `host port ${describeClaim(want)} is already published (as ${describeClaim(clash)})`);
      if (host?.held(want)) throw new ConflictError(field, host.refusal(want));
      chosen = want;
    } else {
      const first = r.hostPort === 0 ? EPHEMERAL_FIRST : r.hostPort;
      const last = r.hostPort === 0 ? EPHEMERAL_LAST : (r.hostPortEnd ?? r.hostPort);
      const span = last - first + 1;
      const start = r.hostPort === 0 ? Math.floor(random() * span) : 0;
      for (let i = 0; i < span && !chosen; i++) {
        const candidate = { ...base, hostPort: first + ((start + i) % span) };
        if (isFree(candidate)) chosen = candidate;
      }
      if (!chosen) throw new ConflictError(field, `no free host port in ${first}-${last}/${r.protocol}`);
    }
    claims.push(chosen);
    return chosen.hostPort;
  });
}
