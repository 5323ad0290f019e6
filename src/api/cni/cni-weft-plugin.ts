/**
 * The `weft` CNI plugin's verbs as controller calls. ADD ensures the network, the container's
 * sandbox and its endpoint (ADD again returns what exists); DEL removes the endpoint and, with
 * the last one, the sandbox, treating anything already gone as done; CHECK compares the
 * prevResult and the store with the kernel; GC drops CNI attachments the runtime no longer
 * knows. Reads as: load → resolve → change → report.
 */
import { existsSync } from 'node:fs';
import type { Controller } from '../../controller/controller.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../model/types.js';
import type { EgressInterface } from '../../drivers/driver.js';
import { ConflictError, NotFoundError, combineErrors } from '../../errors.js';
import { CNI_CODES, CniError } from './cni-errors.js';
import type { CniRequest } from './cni-request.js';
import { LABELS, legacySandboxNameOf, publishSpecsOf, sandboxLabelsOf, sandboxNameOf, wantedOf, type Wanted } from './cni-identity.js';
import { ensureNetwork, findNetwork } from './cni-network.js';
import { mergeResults, parseResult, type CniInterface, type CniResult } from './cni-result.js';
import { atLeast } from './cni-versions.js';

/**
 * The CNI sandbox of a container, if weft has one (and it is really that container's: the
 * label holds the whole id). Sandboxes named before names used the whole id are found too.
 */
async function cniSandbox(c: Controller, containerId: string): Promise<SandboxRecord | undefined> {
  for (const name of [sandboxNameOf(containerId), legacySandboxNameOf(containerId)]) {
    const sb = await c.findSandbox(name);
    if (sb && sb.labels[LABELS.containerId] === containerId) return sb;
  }
  return undefined;
}

/**
 * What ADD reports: [bridge, host veth, container interface] ([container interface] for
 * macvlan/ipvlan/overlay), addresses, default routes, DNS. An overlay endpoint's sandbox also
 * has its leg on the gateway bridge (`egress`): listed after the container interface with its
 * addresses, and the default routes are the leg's, as in the sandbox's routing table.
 */
export function resultOf(
  c: Controller,
  net: NetworkRecord,
  ep: EndpointRecord,
  sb: SandboxRecord,
  w: Wanted,
  egress?: EgressInterface,
): CniResult {
  const bridge = net.driverState.bridgeName;
  const mtu = Number(net.driverState.mtu) || undefined;
  const inner = { name: ep.ifname, mac: ep.macAddress, sandbox: sb.netnsPath, ...(mtu ? { mtu } : {}) };
  // A macvlan/ipvlan endpoint has no host side: the container's interface is the whole story
  // (as the reference macvlan plugin reports it).
  let interfaces: CniInterface[] = [inner];
  if (bridge) {
    const macs = c.linkMacs([bridge, ep.hostIfname!]);
    interfaces = [{ name: bridge, mac: macs.get(bridge) }, { name: ep.hostIfname!, mac: macs.get(ep.hostIfname!) }, inner];
  }
  const at = interfaces.length - 1;
  const r: CniResult = { interfaces, ips: [], routes: [], dns: w.dns };
  if (ep.ipv4) r.ips!.push({ address: ep.ipv4, gateway: ep.gateway4, interface: at });
  if (ep.ipv6) r.ips!.push({ address: ep.ipv6, gateway: ep.gateway6, interface: at });
  if (egress) {
    interfaces.push({ name: egress.ifname, mac: egress.mac, sandbox: sb.netnsPath });
    const leg = interfaces.length - 1;
    if (egress.ipv4) r.ips!.push({ address: egress.ipv4, gateway: egress.gateway4, interface: leg });
    if (egress.ipv6) r.ips!.push({ address: egress.ipv6, gateway: egress.gateway6, interface: leg });
    if (egress.ipv4 && egress.gateway4) r.routes!.push({ dst: '0.0.0.0/0', gw: egress.gateway4 });
    if (egress.ipv6 && egress.gateway6) r.routes!.push({ dst: '::/0', gw: egress.gateway6 });
  } else if (ep.defaultRoute && !net.internal) {
    if (ep.ipv4 && ep.gateway4) r.routes!.push({ dst: '0.0.0.0/0', gw: ep.gateway4 });
    if (ep.ipv6 && ep.gateway6) r.routes!.push({ dst: '::/0', gw: ep.gateway6 });
  }
  return r;
}

async function endpointsOf(c: Controller, sb: SandboxRecord): Promise<EndpointRecord[]> {
  return c.endpointsOf(sb.id);
}

export async function weftAdd(c: Controller, req: CniRequest): Promise<CniResult> {
  if (!existsSync(req.netns)) throw new CniError(CNI_CODES.unknownContainer, 'container network namespace does not exist', req.netns);
  const w = wantedOf(req);
  const net = await ensureNetwork(c, req.conf, 'weft');
  const prev = req.conf.prevResult ? parseResult(req.conf.prevResult) : undefined;
  const endpointReq = {
    ifname: req.ifname,
    aliases: w.aliases,
    ...(w.ipv4 ? { ipv4: w.ipv4 } : {}),
    ...(w.ipv6 ? { ipv6: w.ipv6 } : {}),
    ...(w.mac ? { mac: w.mac } : {}),
  };

  let sb = await cniSandbox(c, req.containerId);
  if (sb && sb.netnsPath !== req.netns) {
    // Same container id, new namespace: the old record is from a previous life of the container.
    await c.removeSandbox(sb.id).catch((e: unknown) => {
      if (!(e instanceof NotFoundError)) throw e;
    });
    sb = undefined;
  }
  let ep: EndpointRecord | undefined;
  if (sb) {
    const eps = await endpointsOf(c, sb);
    const onNet = eps.find((e) => e.networkId === net.id);
    if (onNet && onNet.ifname === req.ifname)
      ep = onNet; // ADD again: report what exists.
    else if (onNet)
      throw new CniError(
        100,
        `container is already attached to network "${net.name}"`,
        `as ${onNet.ifname}; weft attaches a container once per network`,
      );
    else if (eps.some((e) => e.ifname === req.ifname))
      throw new CniError(100, `interface ${req.ifname} already exists in the container`, 'attached to another network');
    else ep = await c.connect(net.id, { sandbox: sb.id, ...endpointReq });
  } else {
    try {
      const made = await c.createSandbox({
        name: sandboxNameOf(req.containerId),
        kind: 'external',
        netnsPath: req.netns,
        hostname: sandboxNameOf(req.containerId),
        dns: (w.dns.nameservers ?? []).slice(0, 8),
        labels: sandboxLabelsOf(req, w),
        publish: publishSpecsOf(w.portMappings),
        networks: [{ network: net.id, ...endpointReq }],
      });
      sb = made.sandbox;
      ep = made.endpoints[0]!;
    } catch (err) {
      // Verbs on one container run one at a time (cni-handler), so this is not a race: a
      // sandbox that is not this container's holds the name. Retrying would not help.
      if (err instanceof ConflictError && err.field === 'name')
        throw new CniError(100, `sandbox name ${sandboxNameOf(req.containerId)} is taken by a sandbox of another container`, err.message);
      throw err;
    }
  }
  return mergeResults(prev, resultOf(c, net, ep, sb, w, await c.egressInterface(ep)));
}

export async function weftDel(c: Controller, req: CniRequest): Promise<void> {
  const net = await findNetwork(c, req.conf.name);
  const sb = await cniSandbox(c, req.containerId);
  if (!net || !sb) return;
  const gone = (e: unknown): void => {
    if (!(e instanceof NotFoundError)) throw e;
  };
  const eps = await endpointsOf(c, sb);
  const ep = eps.find((e) => e.networkId === net.id && e.ifname === req.ifname);
  if (ep) await c.disconnect(net.id, { sandbox: sb.id }).catch(gone);
  if (eps.every((e) => e === ep)) await c.removeSandbox(sb.id).catch(gone);
}

export async function weftCheck(c: Controller, req: CniRequest): Promise<void> {
  if (!atLeast(req.conf.cniVersion, '0.4.0'))
    throw new CniError(CNI_CODES.incompatibleVersion, 'config version does not allow CHECK', `cniVersion ${req.conf.cniVersion}`);
  if (!req.conf.prevResult) throw new CniError(CNI_CODES.invalidConfig, 'required prevResult missing');
  const prev = parseResult(req.conf.prevResult);
  const net = await findNetwork(c, req.conf.name);
  if (!net) throw new CniError(CNI_CODES.unknownContainer, `network "${req.conf.name}" does not exist`);
  const sb = await cniSandbox(c, req.containerId);
  if (!sb) throw new CniError(CNI_CODES.unknownContainer, `container ${req.containerId} is not known to weft`);
  if (sb.netnsPath !== req.netns)
    throw new CniError(
      CNI_CODES.unknownContainer,
      'container is attached in another network namespace',
      `${sb.netnsPath}, not ${req.netns}`,
    );
  const ep = (await endpointsOf(c, sb)).find((e) => e.networkId === net.id && e.ifname === req.ifname);
  if (!ep) throw new CniError(CNI_CODES.unknownContainer, `container has no interface ${req.ifname} on network "${net.name}"`);
  const problems = await c.checkEndpoint(ep);
  // Addresses the previous result gave to this interface must be the ones weft holds for it.
  const idx = (prev.interfaces ?? []).findIndex((i) => i.name === req.ifname && i.sandbox === req.netns);
  for (const ip of prev.ips ?? []) {
    if (idx < 0 || ip.interface !== idx) continue;
    if (ip.address !== ep.ipv4 && ip.address !== ep.ipv6)
      problems.push(
        `prevResult address ${ip.address} is not held by ${req.ifname} (weft has ${[ep.ipv4, ep.ipv6].filter(Boolean).join(', ')})`,
      );
  }
  if (idx < 0) problems.push(`prevResult lists no interface ${req.ifname} in ${req.netns}`);
  if (problems.length > 0) throw new CniError(110, 'CHECK failed', problems.join('; '));
}

export async function weftGc(c: Controller, req: CniRequest): Promise<void> {
  if (!atLeast(req.conf.cniVersion, '1.1.0'))
    throw new CniError(CNI_CODES.incompatibleVersion, 'config version does not allow GC', `cniVersion ${req.conf.cniVersion}`);
  const valid = new Set((req.conf['cni.dev/valid-attachments'] ?? []).map((a) => `${a.containerID}\0${a.ifname}`));
  const net = await findNetwork(c, req.conf.name);
  if (!net) return;
  const errors: unknown[] = [];
  for (const sb of await c.sandboxes()) {
    const cid = sb.labels[LABELS.containerId];
    // Only attachments CNI made: its label (which API users cannot set) on the sandbox CNI
    // names after that container. Anything else is not GC's to collect.
    if (cid === undefined || sb.kind !== 'external' || (sb.name !== sandboxNameOf(cid) && sb.name !== legacySandboxNameOf(cid))) continue;
    const eps = await endpointsOf(c, sb);
    const stale = eps.filter((e) => e.networkId === net.id && !valid.has(`${cid}\0${e.ifname}`));
    if (stale.length === 0) continue;
    try {
      if (stale.length === eps.length) await c.removeSandbox(sb.id);
      else await c.disconnect(net.id, { sandbox: sb.id });
    } catch (err) {
      if (!(err instanceof NotFoundError)) errors.push(err);
    }
  }
  if (errors.length > 0) throw combineErrors(`GC of network ${net.name}`, errors);
}
