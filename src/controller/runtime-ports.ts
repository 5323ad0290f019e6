/**
 * Ports a runtime publishes for one of its endpoints (`docker run -p`, handed over in
 * ProgramExternalConnectivity): host ports chosen by the one allocator against every port any
 * surface published and every port a host program holds, checked for conflicts with the
 * networks' default host addresses, kept on the endpoint's record (so weftd re-applies them
 * after a restart) and handed to the firewall through the portsUp/portsDown hooks.
 */
import type { ControllerContext } from './context.js';
import { runHooks } from './context.js';
import type { FwNetwork, FwPortMapping, FwProtocol } from '../firewall/types.js';
import { allocateHostPorts } from '../firewall/host-port-allocator.js';
import { assertNoConflicts } from '../firewall/port-conflicts.js';
import { dockerKeys, getRecord, putRecord, type DockerEndpointRecord } from './runtime-records.js';
import { ErrorList } from '../errors.js';
import { runtimeEndpoint } from './runtime-endpoint-ops.js';
import { sandboxMappings } from './port-ops.js';
import { HostPortGuard } from './host-port-guard.js';

/** One port binding as the runtime asks for it; hostPort 0 or a range lets weft choose. */
export interface RuntimePortRequest {
  protocol: FwProtocol;
  containerPort: number;
  hostIp?: string;
  hostPort: number;
  hostPortEnd: number;
}

const samePort = (a: FwPortMapping, b: FwPortMapping): boolean =>
  a.protocol === b.protocol &&
  a.hostPort === b.hostPort &&
  a.hostIp === b.hostIp &&
  a.containerIp === b.containerIp &&
  a.containerPort === b.containerPort;

/** How the firewall sees every network (for each one's default host address). */
export async function firewallNetworks(ctx: ControllerContext): Promise<FwNetwork[]> {
  return (await ctx.records.networks()).flatMap((n) => ctx.drivers.get(n.driver).firewallView?.(n) ?? []);
}

/**
 * Every mapping published on this host (sandboxes' and runtime endpoints'), and the firewall
 * networks that are no network record but carry some of them (overlay's gateway bridge).
 */
export async function publishedMappings(ctx: ControllerContext): Promise<{ ports: FwPortMapping[]; via: FwNetwork[] }> {
  const nets = new Map((await ctx.records.networks()).map((n) => [n.id, n]));
  const sbs = new Map((await ctx.records.sandboxes()).map((s) => [s.id, s]));
  const ports: FwPortMapping[] = [];
  const via = new Map<string, FwNetwork>();
  for (const ep of await ctx.records.endpoints()) {
    const sb = sbs.get(ep.sandboxId);
    const net = nets.get(ep.networkId);
    if (!sb || !net) continue;
    const m = sandboxMappings(ctx, sb, net, ep);
    ports.push(...m.mappings);
    if (m.via && m.mappings.length > 0) via.set(m.via.id, m.via);
  }
  for (const r of await ctx.records.store.list(dockerKeys.endpoints))
    ports.push(...((JSON.parse(r.value) as DockerEndpointRecord).ports ?? []));
  return { ports, via: [...via.values()] };
}

/** Firewall mappings for one runtime endpoint: one per container address of the binding's family. */
function mappingsOf(ep: DockerEndpointRecord, wanted: RuntimePortRequest[], hostPorts: number[]): FwPortMapping[] {
  const out: FwPortMapping[] = [];
  wanted.forEach((w, i) => {
    for (const cidr of [ep.address, ep.addressV6]) {
      if (!cidr) continue;
      const containerIp = cidr.split('/')[0]!;
      if (w.hostIp !== undefined && w.hostIp.includes(':') !== containerIp.includes(':')) continue;
      out.push({
        networkId: ep.networkId,
        protocol: w.protocol,
        hostPort: hostPorts[i]!,
        containerIp,
        containerPort: w.containerPort,
        ...(w.hostIp ? { hostIp: w.hostIp } : {}),
      });
    }
  });
  return out;
}

/** Publish a runtime endpoint's ports (replacing what it published before). */
export async function publishRuntimePorts(ctx: ControllerContext, id: string, wanted: RuntimePortRequest[]): Promise<void> {
  const r = await runtimeEndpoint(ctx, id);
  if (wanted.length === 0) return;
  const mine = r.value.ports ?? [];
  const existing = (await publishedMappings(ctx)).ports.filter((p) => !mine.some((q) => samePort(p, q)));
  const hostPorts = allocateHostPorts(wanted, existing, 'HostPort', Math.random, new HostPortGuard(ctx.kernel));
  const mappings = mappingsOf(r.value, wanted, hostPorts);
  assertNoConflicts(existing, mappings, await firewallNetworks(ctx));
  await putRecord(ctx.records.store, dockerKeys.endpoint(id), { ...r.value, ports: mappings }, r.version);
  try {
    await runHooks(ctx, 'portsUp', mappings);
  } catch (err) {
    const undo = new ErrorList(`publishing ports of runtime endpoint ${id.slice(0, 12)} failed and undoing it failed too`);
    undo.add(err);
    await undo.run(() => runHooks(ctx, 'portsDown', mappings));
    await undo.run(async () => {
      const cur = await runtimeEndpoint(ctx, id);
      await putRecord(ctx.records.store, dockerKeys.endpoint(id), r.value, cur.version);
    });
    throw undo.combined();
  }
}

/** Unpublish a runtime endpoint's ports (an endpoint already gone has none: success). */
export async function unpublishRuntimePorts(ctx: ControllerContext, id: string): Promise<void> {
  const r = await getRecord<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoint(id));
  if (!r?.value.ports?.length) return;
  await runHooks(ctx, 'portsDown', r.value.ports);
  const { ports: _gone, ...rest } = r.value;
  await putRecord(ctx.records.store, dockerKeys.endpoint(id), rest, r.version);
}
