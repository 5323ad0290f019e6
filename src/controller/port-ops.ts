/**
 * Published ports of sandboxes: parse `-p` / `-P --expose`, choose host ports with the one
 * allocator (refusing a host port any surface already published or a host program holds), and
 * turn publications into firewall mappings.
 */
import type { ControllerContext } from './context.js';
import type { EndpointRecord, NetworkRecord, PublishedPort, SandboxRecord } from '../model/types.js';
import { parsePortSpec, type PortBinding } from '../firewall/port-spec.js';
import type { FwNetwork, FwPortMapping } from '../firewall/types.js';
import type { PublishTarget } from '../drivers/driver.js';
import { endpointCtx } from './context.js';
import { InvalidArgumentError } from '../errors.js';
import { allocateHostPorts, type HostPortClaim } from '../firewall/host-port-allocator.js';
import { runtimePortMappings } from './runtime-records.js';
import { HostPortGuard } from './host-port-guard.js';

/**
 * A sandbox's mappings on one endpoint, as the firewall should hold them, and the firewall
 * network they go through when that is not the endpoint's own (a driver's publish target). A
 * network the firewall does not see and no target: nothing to publish (macvlan: the endpoint has
 * its own LAN address, and Docker ignores -p there too).
 */
export function sandboxMappings(
  ctx: ControllerContext,
  sb: SandboxRecord,
  net: NetworkRecord,
  ep: EndpointRecord,
): { mappings: FwPortMapping[]; via?: FwNetwork } {
  const d = ctx.drivers.get(net.driver);
  if (d.publishTarget) {
    if (!sb.ports?.length) return { mappings: [] };
    const t = d.publishTarget(endpointCtx(ctx, net, ep, sb));
    return t ? { mappings: mappingsFor(sb, net, ep, t), via: t.network } : { mappings: [] };
  }
  return { mappings: d.firewallView?.(net) === undefined ? [] : mappingsFor(sb, net, ep) };
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
  // Ports a host program holds are not weft's to publish (read in weftd's namespace).
  const ports = allocateHostPorts(bindings, await publishedClaims(ctx), 'publish', Math.random, new HostPortGuard(ctx.kernel));
  return bindings.map((b, i) => ({
    protocol: b.protocol,
    containerPort: b.containerPort,
    ...(b.hostIp ? { hostIp: b.hostIp } : {}),
    hostPort: ports[i]!,
  }));
}

/** Every host port published on this host, whichever surface published it. */
export async function publishedClaims(ctx: ControllerContext): Promise<HostPortClaim[]> {
  const sandboxPorts = (await ctx.records.sandboxes()).flatMap((s) => s.ports ?? []);
  return [...sandboxPorts, ...(await runtimePortMappings(ctx))];
}

/**
 * Firewall mappings of a sandbox's publications on one endpoint (one per address family): to
 * its addresses on the network, or to those of the driver's publish target (overlay: its leg).
 */
export function mappingsFor(sb: SandboxRecord, net: NetworkRecord, ep: EndpointRecord, target?: PublishTarget): FwPortMapping[] {
  if (!sb.ports?.length || !ep.defaultRoute || net.internal) return [];
  const out: FwPortMapping[] = [];
  const networkId = target?.network.id ?? net.id;
  for (const cidr of target ? [target.ipv4, target.ipv6] : [ep.ipv4, ep.ipv6]) {
    if (!cidr) continue;
    const containerIp = cidr.split('/')[0]!;
    const v6 = containerIp.includes(':');
    for (const p of sb.ports) {
      // A host address of the other family cannot reach this container address.
      if (p.hostIp !== undefined && p.hostIp.includes(':') !== v6) continue;
      out.push({
        networkId,
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
