/**
 * Published ports of sandboxes: parse `-p` / `-P --expose`, choose host ports, refuse a host
 * port already published by another sandbox, and turn publications into firewall mappings.
 */
import type { ControllerContext } from './context.js';
import type { EndpointRecord, NetworkRecord, PublishedPort, SandboxRecord } from '../model/types.js';
import { parsePortSpec, type PortBinding } from '../firewall/port-spec.js';
import type { FwPortMapping } from '../firewall/types.js';
import { ConflictError, InvalidArgumentError } from '../errors.js';
import { HostPortGuard } from './host-port-guard.js';

/** Docker's ephemeral range for -P / -p PORT (the kernel's ip_local_port_range default). */
const EPHEMERAL_FIRST = 32768;
const EPHEMERAL_LAST = 60999;

const overlaps = (a: PublishedPort, b: { protocol: string; hostIp?: string; hostPort: number }): boolean =>
  a.protocol === b.protocol && a.hostPort === b.hostPort && (a.hostIp === undefined || b.hostIp === undefined || a.hostIp === b.hostIp);

function describe(p: { protocol: string; hostIp?: string; hostPort: number }): string {
  return `${p.hostIp ? (p.hostIp.includes(':') ? `[${p.hostIp}]:` : `${p.hostIp}:`) : ''}${p.hostPort}/${p.protocol}`;
}

/** Parse and allocate publications for a new sandbox; throws before anything is created. */
export async function resolvePublications(
  ctx: ControllerContext,
  publish: string[],
  publishAll: boolean,
  expose: string[],
): Promise<PublishedPort[]> {
  const bindings: PortBinding[] = publish.flatMap((spec, i) => parsePortSpec(spec, publish.length > 1 ? `publish[${i}]` : 'publish'));
  if (publishAll) {
    for (const [i, e] of expose.entries()) {
      const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp|sctp))?$/.exec(e);
      if (!m) throw new InvalidArgumentError(`expose[${i}]`, `"${e}" is not PORT[-END][/PROTO]`);
      bindings.push(...parsePortSpec(`${m[1]}${m[2] ? `-${m[2]}` : ''}/${m[3] ?? 'tcp'}`, `expose[${i}]`));
    }
  } else if (expose.length > 0) {
    // --expose without -P only documents ports, as in Docker.
  }
  if (bindings.length === 0) return [];
  const taken: PublishedPort[] = (await ctx.records.sandboxes()).flatMap((s) => s.ports ?? []);
  const out: PublishedPort[] = [];
  // Ports a host program holds are not weft's to publish (checked in weftd's namespace).
  const host = new HostPortGuard();
  const isFree = (p: PublishedPort): boolean => !taken.some((t) => overlaps(t, p)) && !out.some((t) => overlaps(t, p)) && host.isFree(p);
  for (const b of bindings) {
    const base = { protocol: b.protocol, containerPort: b.containerPort, ...(b.hostIp ? { hostIp: b.hostIp } : {}) };
    let chosen: PublishedPort | undefined;
    if (b.hostPort !== 0 && b.hostPortEnd === undefined) {
      chosen = { ...base, hostPort: b.hostPort };
      const clash = [...taken, ...out].find((t) => overlaps(t, chosen!));
      if (clash) throw new ConflictError('publish', `host port ${describe(chosen)} is already published (as ${describe(clash)})`);
      host.assertFree(chosen, 'publish');
    } else {
      const first = b.hostPort === 0 ? EPHEMERAL_FIRST : b.hostPort;
      const last = b.hostPort === 0 ? EPHEMERAL_LAST : b.hostPortEnd!;
      const span = last - first + 1;
      const start = b.hostPort === 0 ? Math.floor(Math.random() * span) : 0;
      for (let i = 0; i < span && !chosen; i++) {
        const candidate = { ...base, hostPort: first + ((start + i) % span) };
        if (isFree(candidate)) chosen = candidate;
      }
      if (!chosen) throw new ConflictError('publish', `no free host port in ${first}-${last}/${b.protocol}`);
    }
    out.push(chosen);
  }
  return out;
}

/** Firewall mappings of a sandbox's publications on one endpoint (one per address family). */
export function mappingsFor(sb: SandboxRecord, net: NetworkRecord, ep: EndpointRecord): FwPortMapping[] {
  if (!sb.ports?.length || !ep.defaultRoute || net.internal) return [];
  const out: FwPortMapping[] = [];
  for (const cidr of [ep.ipv4, ep.ipv6]) {
    if (!cidr) continue;
    const containerIp = cidr.split('/')[0]!;
    const v6 = containerIp.includes(':');
    for (const p of sb.ports) {
      // A host address of the other family cannot reach this container address.
      if (p.hostIp !== undefined && p.hostIp.includes(':') !== v6) continue;
      out.push({
        networkId: net.id,
        protocol: p.protocol,
        hostPort: p.hostPort,
        containerIp,
        containerPort: p.containerPort,
        ...(p.hostIp ? { hostIp: p.hostIp } : {}),
      });
    }
  }
  return out;
}
