/**
 * Endpoints a container runtime creates before their sandbox exists (Docker's remote driver:
 * CreateEndpoint → Join → the container starts → Leave → DeleteEndpoint). Each is a record
 * under `docker/endpoints/`; Join has the network's driver prepare a runtime-placed pair
 * (drivers/bridge/runtime-peer.ts), and once the runtime moved the pair into its namespace the
 * endpoint is "adopted": recorded as a weft sandbox + endpoint with `placement: 'runtime'`.
 * Every function here runs under the engine lock (Controller.runtime), except the read-only
 * pre-check of an adoption.
 */
import path from 'node:path';
import type { ControllerContext } from './context.js';
import { driverCtx, networkCtx, runHooks } from './context.js';
import type { EndpointRecord, NetworkRecord } from '../model/types.js';
import type { RuntimePeer, RuntimePlacement } from '../drivers/driver.js';
import { ErrorList, InvalidArgumentError, NotFoundError, WeftError } from '../errors.js';
import { macFromIPv4, parseMac, randomMac } from '../ipam/mac.js';
import { normalizeAddress } from '../ipam/address.js';
import { parseCidr } from '../ipam/cidr.js';
import { IFNAMES } from '../drivers/ifnames.js';
import { releaseOwner, reserveAddress } from './ipam-ops.js';
import { DOCKER_OWNER_PREFIX, dockerOwnerOf } from './pool-ops.js';
import { dockerKeys, getRecord, listRecords, putRecord, type DockerEndpointRecord } from './runtime-records.js';
import { connectEndpoint, disconnectEndpoint } from './endpoint-ops.js';
import { createSandbox, removeSandbox } from './sandbox-ops.js';

/** Label on weft sandboxes that stand for a runtime's sandbox (Docker's SandboxKey). */
export const RUNTIME_SANDBOX_LABEL = 'weft.docker.sandbox';

export interface RuntimeEndpointRequest {
  networkId: string;
  endpointId: string;
  /** CIDRs the runtime's IPAM gave, if any. */
  address?: string;
  addressV6?: string;
  mac?: string;
}

/** What Join tells the runtime: which interface to move, and the gateways. */
export interface RuntimeJoin {
  peerName: string;
  ifacePrefix: string;
  gateway?: string;
  gatewayV6?: string;
}

const ipOf = (cidr: string): string => cidr.split('/')[0]!;

async function networkOf(ctx: ControllerContext, id: string): Promise<NetworkRecord> {
  const n = await ctx.records.network(id);
  if (!n) throw new NotFoundError('network', id);
  return n.value;
}

function placementOf(ctx: ControllerContext, net: NetworkRecord): RuntimePlacement {
  const p = ctx.drivers.get(net.driver).runtimePlacement;
  if (!p) throw new InvalidArgumentError('network', `driver "${net.driver}" of network "${net.name}" cannot take runtime-placed endpoints`);
  return p;
}

const peerOf = (r: DockerEndpointRecord): RuntimePeer | undefined =>
  r.hostIfname ? { networkId: r.networkId, hostIfname: r.hostIfname, peerName: r.srcName, mac: r.mac } : undefined;

export async function runtimeEndpoint(ctx: ControllerContext, id: string): Promise<{ value: DockerEndpointRecord; version: number }> {
  const r = await getRecord<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoint(id));
  if (!r) throw new NotFoundError('endpoint', id);
  return r;
}

/**
 * Record a runtime endpoint (idempotent: a known id changes nothing). Without an address from
 * the runtime's IPAM, weft reserves one; without a MAC, weft picks one. Returns what weft chose.
 */
export async function createRuntimeEndpoint(
  ctx: ControllerContext,
  req: RuntimeEndpointRequest,
): Promise<{ address?: string; mac?: string }> {
  const net = await networkOf(ctx, req.networkId);
  if (await getRecord(ctx.records.store, dockerKeys.endpoint(req.endpointId))) return {};
  placementOf(ctx, net);
  const rec: DockerEndpointRecord = { id: req.endpointId, networkId: net.id, mac: '', srcName: IFNAMES.runtimePeer.of(req.endpointId) };
  const chosen: { address?: string; mac?: string } = {};
  if (req.address) rec.address = req.address;
  if (req.addressV6) rec.addressV6 = req.addressV6;
  const v4 = net.ipam.config.find((p) => !p.subnet.includes(':'));
  if (!rec.address && v4) {
    rec.owner = `${DOCKER_OWNER_PREFIX}ep-${req.endpointId.slice(0, 24)}`;
    const addr = await reserveAddress(ctx, net, 4, rec.owner);
    rec.address = chosen.address = `${addr}/${parseCidr(v4.subnet, 'subnet').prefix}`;
  }
  if (req.mac) rec.mac = parseMac(req.mac, 'Interface.MacAddress');
  else rec.mac = chosen.mac = rec.address ? macFromIPv4(ipOf(rec.address)) : randomMac();
  try {
    await putRecord(ctx.records.store, dockerKeys.endpoint(req.endpointId), rec, 0);
  } catch (err) {
    const undo = new ErrorList(`runtime endpoint ${req.endpointId.slice(0, 12)} not recorded, and its address not released`);
    undo.add(err);
    const owner = rec.owner;
    if (owner) await undo.run(() => releaseOwner(ctx, net, owner));
    throw undo.combined();
  }
  return chosen;
}

/** Join: prepare the runtime-placed pair and remember the runtime's sandbox. */
export async function joinRuntimeEndpoint(ctx: ControllerContext, networkId: string, id: string, sandboxKey: string): Promise<RuntimeJoin> {
  if (!path.isAbsolute(sandboxKey) || sandboxKey.split('/').includes('..'))
    throw new InvalidArgumentError('SandboxKey', 'must be an absolute path');
  const net = await networkOf(ctx, networkId);
  const cur = await runtimeEndpoint(ctx, id);
  const dep = cur.value;
  const hostIfname = IFNAMES.runtimeHostVeth.of(id);
  const peer: RuntimePeer = { networkId: net.id, hostIfname, peerName: dep.srcName, mac: dep.mac };
  await placementOf(ctx, net).preparePeer(networkCtx(ctx, net), peer);
  await putRecord(ctx.records.store, dockerKeys.endpoint(id), { ...dep, sandboxKey, hostIfname }, cur.version);
  const join: RuntimeJoin = { peerName: dep.srcName, ifacePrefix: net.driverState.ifacePrefix ?? 'eth' };
  if (!net.internal) {
    const v4 = net.ipam.config.find((p) => !p.subnet.includes(':'));
    const v6 = net.ipam.config.find((p) => p.subnet.includes(':'));
    if (v4 && dep.address) join.gateway = v4.gateway;
    if (v6 && dep.addressV6) join.gatewayV6 = v6.gateway;
  }
  return join;
}

/**
 * Read-only: whether an adoption has something to do now. "done" when the record is gone or
 * already adopted; "wait" while the runtime has not moved the interface into its namespace.
 */
export async function adoptionState(ctx: ControllerContext, id: string): Promise<'done' | 'wait' | 'ready'> {
  const r = await getRecord<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoint(id));
  const peer = r && peerOf(r.value);
  if (!r || !peer || !r.value.sandboxKey || r.value.weftEndpointId) return 'done';
  const net = await ctx.records.network(r.value.networkId);
  if (!net) return 'done';
  return (await locate(ctx, net.value, r.value.sandboxKey, peer)) ? 'ready' : 'wait';
}

async function locate(ctx: ControllerContext, net: NetworkRecord, key: string, peer: RuntimePeer): Promise<string | undefined> {
  try {
    // Fails until the runtime binds its namespace there (the container starts after Join).
    await ctx.kernel.netnsFd(key);
  } catch (err) {
    ctx.kernel.forget(key);
    if (err instanceof WeftError || (err as NodeJS.ErrnoException).code !== undefined) return undefined;
    throw err;
  }
  return placementOf(ctx, net).locatePeer(driverCtx(ctx), key, peer);
}

/** One adoption attempt; true when there is nothing left to do. */
export async function adoptRuntimeEndpoint(ctx: ControllerContext, id: string): Promise<boolean> {
  const cur = await getRecord<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoint(id));
  const peer = cur && peerOf(cur.value);
  if (!cur || !peer || !cur.value.sandboxKey || cur.value.weftEndpointId) return true;
  const dep = cur.value;
  const key = dep.sandboxKey!;
  const net = await networkOf(ctx, dep.networkId);
  const ifname = await locate(ctx, net, key, peer);
  if (!ifname) return false;
  const sbName = `docker-${path
    .basename(key)
    .replace(/[^a-zA-Z0-9_.-]/g, '_')
    .slice(0, 48)}`;
  const existingId = await ctx.records.sandboxIdByName(sbName);
  let sb = existingId ? (await ctx.records.sandbox(existingId))?.value : undefined;
  if (sb && sb.netnsPath !== key) sb = undefined;
  sb ??= (await createSandbox(ctx, { kind: 'external', name: sbName, netnsPath: key, labels: { [RUNTIME_SANDBOX_LABEL]: 'true' } }))
    .sandbox;
  let ep: EndpointRecord | undefined = (await ctx.records.endpointsOfSandbox(sb.id)).find((e) => e.networkId === dep.networkId);
  if (!ep) {
    const addr4 = dep.address ? normalizeAddress(ipOf(dep.address), 'Address') : undefined;
    const addr6 = dep.addressV6 ? normalizeAddress(ipOf(dep.addressV6), 'AddressIPv6') : undefined;
    const owner =
      dep.owner ??
      (addr4 ? await dockerOwnerOf(ctx, net, 4, addr4) : undefined) ??
      (addr6 ? await dockerOwnerOf(ctx, net, 6, addr6) : undefined);
    ep = await connectEndpoint(ctx, sb, net, {
      ifname,
      mac: dep.mac,
      hostIfname: peer.hostIfname,
      placement: 'runtime',
      ...(addr4 ? { ipv4: addr4 } : {}),
      ...(addr6 ? { ipv6: addr6 } : {}),
      ...(owner ? { reservedBy: owner } : {}),
    });
  }
  await putRecord(ctx.records.store, dockerKeys.endpoint(id), { ...dep, weftEndpointId: ep.id, weftSandboxId: sb.id }, cur.version);
  return true;
}

/** Disconnect the weft endpoint of a runtime endpoint, delete its pair, drop an empty sandbox. */
async function leaveEndpoint(ctx: ControllerContext, dep: DockerEndpointRecord): Promise<void> {
  const sb = dep.weftSandboxId ? (await ctx.records.sandbox(dep.weftSandboxId))?.value : undefined;
  if (sb) {
    const ep = (await ctx.records.endpointsOfSandbox(sb.id)).find((e) => e.networkId === dep.networkId);
    if (ep) await disconnectEndpoint(ctx, ep, sb);
    if ((await ctx.records.endpointsOfSandbox(sb.id)).length === 0) await removeSandbox(ctx, sb);
  }
  const peer = peerOf(dep);
  const net = await ctx.records.network(dep.networkId);
  if (peer && net) await placementOf(ctx, net.value).releasePeer(driverCtx(ctx), peer);
}

export async function leaveRuntimeEndpoint(ctx: ControllerContext, id: string): Promise<void> {
  const r = await runtimeEndpoint(ctx, id);
  await leaveEndpoint(ctx, r.value);
  const { weftEndpointId: _e, weftSandboxId: _s, sandboxKey: _k, hostIfname: _h, ...rest } = r.value;
  await ctx.records.store.commit({ puts: [{ key: dockerKeys.endpoint(id), value: JSON.stringify(rest) }] });
}

/** Delete a runtime endpoint (unknown = success, as runtimes retry deletes). */
export async function deleteRuntimeEndpoint(ctx: ControllerContext, id: string): Promise<void> {
  const r = await getRecord<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoint(id));
  if (!r) return;
  if (r.value.ports?.length) await runHooks(ctx, 'portsDown', r.value.ports);
  await leaveEndpoint(ctx, r.value);
  const net = await ctx.records.network(r.value.networkId);
  const owner = r.value.owner;
  if (owner && net) await releaseOwner(ctx, net.value, owner);
  await ctx.records.store.commit({ deletes: [dockerKeys.endpoint(id)] });
}

/** Runtime endpoints joined but not yet adopted (to resume polling after a restart). */
export async function pendingAdoptions(ctx: ControllerContext): Promise<string[]> {
  return (await listRecords<DockerEndpointRecord>(ctx.records.store, dockerKeys.endpoints))
    .filter((r) => r.sandboxKey && !r.weftEndpointId)
    .map((r) => r.id);
}

/** Weft's ids for a runtime endpoint (Docker's EndpointOperInfo). */
export async function runtimeEndpointInfo(ctx: ControllerContext, id: string): Promise<{ endpointId?: string; hostIfname?: string }> {
  const r = (await runtimeEndpoint(ctx, id)).value;
  return { ...(r.weftEndpointId ? { endpointId: r.weftEndpointId } : {}), ...(r.hostIfname ? { hostIfname: r.hostIfname } : {}) };
}
