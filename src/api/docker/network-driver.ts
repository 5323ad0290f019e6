/**
 * Docker's remote network driver protocol, mapped onto weft's controller. A Docker network is
 * a weft bridge network with the same id; a Docker sandbox (SandboxKey) is an external weft
 * sandbox labelled as Docker's; a Docker endpoint becomes a weft endpoint at Join, whose veth
 * is created in the host namespace for Docker to move (docker-bridge-driver).
 */
import path from 'node:path';
import type { Controller } from '../../controller/controller.js';
import type { ControllerContext } from '../../controller/context.js';
import { createNetwork } from '../../controller/network-ops.js';
import { connectEndpoint } from '../../controller/endpoint-ops.js';
import { releaseOwner, reserveAddress } from '../../controller/ipam-ops.js';
import { ConflictError, InvalidArgumentError, NotFoundError, WeftError } from '../../errors.js';
import type { FirewallBackend, FwPortMapping } from '../../firewall/types.js';
import { assertNoConflicts } from '../../firewall/port-conflicts.js';
import { HostPortGuard } from '../../controller/host-port-guard.js';
import { macFromIPv4, parseMac, randomMac } from '../../ipam/mac.js';
import { normalizeAddress } from '../../ipam/address.js';
import { normalizeCidr, parseCidr } from '../../ipam/cidr.js';
import type { EndpointRecord, NetworkRecord } from '../../model/types.js';
import { DOCKER_SANDBOX_LABEL } from './docker-bridge-driver.js';
import { dockerKeys, getRecord, listRecords, putRecord, type DockerEndpointRecord } from './docker-records.js';
import { dockerHostIfname, dockerVethMark, ensureDockerVeth, findMovedInterface } from './docker-join.js';
import { deleteOwnedLink, isWeftLink, parseMark } from '../../drivers/link-ownership.js';
import type { Logger } from '../../daemon/logger.js';
import { ensureDockerUserAccept, removeDockerUserAccept } from '../../kernel/iptables.js';
import { DOCKER_OWNER_PREFIX, type DockerIpam } from './ipam-driver.js';

type Body = Record<string, unknown>;

const PROTOCOLS: Record<number, 'tcp' | 'udp' | 'sctp'> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

interface DockerPortBinding {
  protocol: 'tcp' | 'udp' | 'sctp';
  containerPort: number;
  hostIp?: string;
  hostPort: number;
  hostPortEnd: number;
}

/** Docker's `com.docker.network.portmap` option (libnetwork types.PortBinding), validated. */
function dockerPortMap(v: unknown): DockerPortBinding[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError('com.docker.network.portmap', 'must be a list');
  return v.map((raw, i) => {
    const f = `com.docker.network.portmap[${i}]`;
    const pb = obj(raw);
    const protocol = PROTOCOLS[Number(pb.Proto)];
    if (!protocol) throw new InvalidArgumentError(`${f}.Proto`, `unknown protocol ${String(pb.Proto)}`);
    const port = (x: unknown, name: string, allowZero: boolean): number => {
      const n = Number(x ?? 0);
      if (!Number.isInteger(n) || n < (allowZero ? 0 : 1) || n > 65535)
        throw new InvalidArgumentError(`${f}.${name}`, `bad port ${String(x)}`);
      return n;
    };
    const hostIp =
      typeof pb.HostIP === 'string' && pb.HostIP !== '' && pb.HostIP !== '0.0.0.0' && pb.HostIP !== '::' ? pb.HostIP : undefined;
    const hostPort = port(pb.HostPort, 'HostPort', true);
    const hostPortEnd = Math.max(hostPort, port(pb.HostPortEnd, 'HostPortEnd', true));
    return { protocol, containerPort: port(pb.Port, 'Port', false), hostPort, hostPortEnd, ...(hostIp ? { hostIp } : {}) };
  });
}

const samePort = (a: FwPortMapping, b: FwPortMapping): boolean =>
  a.protocol === b.protocol &&
  a.hostPort === b.hostPort &&
  a.hostIp === b.hostIp &&
  a.containerIp === b.containerIp &&
  a.containerPort === b.containerPort;

/**
 * Firewall mappings for one endpoint; host port 0 or a range picks a free port, as Docker does.
 * A port a host program holds is never chosen, and asked for explicitly it is refused.
 */
function resolveDockerPorts(
  wanted: DockerPortBinding[],
  ep: DockerEndpointRecord,
  existing: FwPortMapping[],
  host: HostPortGuard,
): FwPortMapping[] {
  const out: FwPortMapping[] = [];
  const taken = (w: DockerPortBinding, port: number): boolean =>
    [...existing, ...out].some((m) => m.protocol === w.protocol && m.hostPort === port) ||
    !host.isFree({ protocol: w.protocol, hostPort: port, ...(w.hostIp ? { hostIp: w.hostIp } : {}) });
  for (const w of wanted) {
    let hostPort = w.hostPort;
    if (hostPort === 0 || w.hostPortEnd > w.hostPort) {
      const [lo, hi] = hostPort === 0 ? [32768, 60999] : [w.hostPort, w.hostPortEnd];
      hostPort = 0;
      for (let p = lo; p <= hi && hostPort === 0; p++) if (!taken(w, p)) hostPort = p;
      if (hostPort === 0) throw new ConflictError('HostPort', `no free host port in ${lo}-${hi}/${w.protocol}`);
    } else {
      host.assertFree({ protocol: w.protocol, hostPort, ...(w.hostIp ? { hostIp: w.hostIp } : {}) }, 'HostPort');
    }
    for (const cidr of [ep.address, ep.addressV6]) {
      if (!cidr) continue;
      const containerIp = cidr.split('/')[0]!;
      if (w.hostIp !== undefined && w.hostIp.includes(':') !== containerIp.includes(':')) continue;
      out.push({
        networkId: ep.networkId,
        protocol: w.protocol,
        hostPort,
        containerIp,
        containerPort: w.containerPort,
        ...(w.hostIp ? { hostIp: w.hostIp } : {}),
      });
    }
  }
  return out;
}

/** Generic driver options (`docker network create -o k=v`) that weft reads itself. */
export const NAME_OPTION = 'weft.name';
const GENERIC = 'com.docker.network.generic';
const ENABLE_IPV6 = 'com.docker.network.enable_ipv6';
const INTERNAL = 'com.docker.network.internal';
/** Docker's label for the weft network (so `weft network ls` shows where it came from). */
export const DOCKER_NETWORK_LABEL = 'weft.docker.network';

const ID_RE = /^[0-9a-f]{64}$/;

function id(b: Body, field: string): string {
  const v = b[field];
  if (typeof v !== 'string' || !ID_RE.test(v)) throw new InvalidArgumentError(field, 'must be 64 lowercase hex characters');
  return v;
}

const obj = (v: unknown): Record<string, unknown> =>
  v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const ipOf = (cidr: string): string => cidr.split('/')[0]!;
const truthy = (v: unknown): boolean => v === true || v === 'true';

interface IpData {
  AddressSpace?: string;
  Pool: string;
  Gateway?: string;
  AuxAddresses?: Record<string, string>;
}

function ipData(v: unknown, field: string): IpData[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new InvalidArgumentError(field, 'must be a list');
  return v.map((d, i) => {
    const o = obj(d);
    if (typeof o.Pool !== 'string') throw new InvalidArgumentError(`${field}[${i}].Pool`, 'is required');
    return o as unknown as IpData;
  });
}

export class DockerNetworkDriver {
  private readonly ctx: ControllerContext;
  private readonly adopting = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private queue: Promise<unknown> = Promise.resolve();
  log?: Logger;
  /** Where published ports go (weftd's firewall); without one, port maps are acknowledged only. */
  firewall?: FirewallBackend;

  constructor(
    private readonly controller: Controller,
    private readonly ipam: DockerIpam,
  ) {
    this.ctx = controller.ctx;
  }

  /** One Docker operation at a time (plugin calls and background adoptions). */
  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** The controller's own exclusion, for the ops it does not expose with these options. */
  private engine<T>(fn: () => Promise<T>): Promise<T> {
    return this.ctx.records.store.withLock('engine', fn, { timeoutMs: 60_000 });
  }

  capabilities(): Body {
    return { Scope: 'local', ConnectivityScope: 'local' };
  }

  private async network(netId: string): Promise<NetworkRecord> {
    const n = await this.ctx.records.network(netId);
    if (!n) throw new NotFoundError('network', netId);
    return n.value;
  }

  async createNetwork(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const opts = obj(b.Options);
    const generic = Object.fromEntries(Object.entries(obj(opts[GENERIC])).map(([k, v]) => [k, String(v)]));
    const v4 = ipData(b.IPv4Data, 'IPv4Data');
    const v6 = ipData(b.IPv6Data, 'IPv6Data');
    if (await this.ctx.records.network(netId)) return {};
    const name = generic[NAME_OPTION] ?? `docker-${netId.slice(0, 12)}`;
    const options = Object.fromEntries(Object.entries(generic).filter(([k]) => !k.startsWith('weft.')));
    const pools = await this.ipam.pools();
    const config = [...v4, ...v6].map((d) => {
      const mine = pools.find((p) => p.pool === normalizeCidr(d.Pool, 'Pool') && (!d.AddressSpace || p.addressSpace === d.AddressSpace));
      return {
        subnet: d.Pool,
        ...(d.Gateway ? { gateway: ipOf(d.Gateway) } : {}),
        ...(mine?.subPool ? { ipRange: mine.subPool } : {}),
        auxAddresses: Object.fromEntries(Object.entries(obj(d.AuxAddresses)).map(([k, v]) => [k, ipOf(String(v))])),
      };
    });
    await this.engine(() =>
      createNetwork(
        this.ctx,
        {
          name,
          driver: 'bridge',
          internal: truthy(opts[INTERNAL]),
          enableIPv6: truthy(opts[ENABLE_IPV6]) || v6.length > 0,
          labels: { [DOCKER_NETWORK_LABEL]: 'true' },
          options,
          ipam: { config },
        },
        { id: netId },
      ),
    );
    await this.ipam.bind(
      config.map((c) => normalizeCidr(c.subnet, 'Pool')),
      netId,
    );
    const created = await this.network(netId);
    await ensureDockerUserAccept(created.driverState.bridgeName!).catch((err: unknown) =>
      this.log?.warn({ err: (err as Error).message }, 'DOCKER-USER rules'),
    );
    return {};
  }

  async deleteNetwork(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const net = await this.ctx.records.network(netId);
    if (!net) return {}; // already gone: success, as Docker retries deletes
    await this.controller.removeNetwork(netId);
    if (net.value.driverState.bridgeName) await removeDockerUserAccept(net.value.driverState.bridgeName).catch(() => undefined);
    await this.ipam.bind(
      net.value.ipam.config.map((p) => p.subnet),
      undefined,
    );
    return {};
  }

  async createEndpoint(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    const net = await this.network(netId);
    const iface = obj(b.Interface);
    const existing = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (existing) return { Interface: {} };
    const rec: DockerEndpointRecord = { id: epId, networkId: netId, mac: '', srcName: `wfc${epId.slice(0, 12)}` };
    const reply: Record<string, string> = {};
    if (typeof iface.Address === 'string' && iface.Address) rec.address = iface.Address;
    if (typeof iface.AddressIPv6 === 'string' && iface.AddressIPv6) rec.addressV6 = iface.AddressIPv6;
    const hasV4 = net.ipam.config.some((p) => !p.subnet.includes(':'));
    if (!rec.address && hasV4) {
      // Docker gave no address (e.g. the null IPAM driver): weft picks one and says so.
      rec.owner = `${DOCKER_OWNER_PREFIX}ep-${epId.slice(0, 24)}`;
      const addr = await reserveAddress(this.ctx, net, 4, rec.owner);
      const prefix = parseCidr(net.ipam.config.find((p) => !p.subnet.includes(':'))!.subnet, 'subnet').prefix;
      rec.address = reply.Address = `${addr}/${prefix}`;
    }
    if (typeof iface.MacAddress === 'string' && iface.MacAddress) rec.mac = parseMac(iface.MacAddress, 'Interface.MacAddress');
    else rec.mac = reply.MacAddress = rec.address ? macFromIPv4(ipOf(rec.address)) : randomMac();
    await putRecord(this.ctx.records.store, dockerKeys.endpoint(epId), rec, 0);
    return { Interface: reply };
  }

  async endpointOperInfo(b: Body): Promise<Body> {
    const ep = await this.endpoint(id(b, 'EndpointID'));
    return { Value: { 'weft.endpoint': ep.weftEndpointId ?? '', 'weft.host-interface': ep.hostIfname ?? '' } };
  }

  private async endpoint(epId: string): Promise<DockerEndpointRecord> {
    const r = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!r) throw new NotFoundError('endpoint', epId);
    return r.value;
  }

  async deleteEndpoint(b: Body): Promise<Body> {
    const epId = id(b, 'EndpointID');
    const r = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!r) return {};
    if (r.value.ports?.length) await this.firewall?.removePorts(r.value.ports);
    await this.leaveEndpoint(r.value);
    const net = await this.ctx.records.network(r.value.networkId);
    if (r.value.owner && net) await releaseOwner(this.ctx, net.value, r.value.owner);
    await this.ctx.records.store.commit({ deletes: [dockerKeys.endpoint(epId)] });
    return {};
  }

  async join(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    const key = b.SandboxKey;
    if (typeof key !== 'string' || !path.isAbsolute(key) || key.split('/').includes('..'))
      throw new InvalidArgumentError('SandboxKey', 'must be an absolute path');
    const net = await this.network(netId);
    const cur = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!cur) throw new NotFoundError('endpoint', epId);
    const dep = cur.value;
    const hostIfname = dockerHostIfname(epId);
    ensureDockerVeth(this.ctx.kernel, net, hostIfname, dep.srcName, dep.mac);
    await putRecord(this.ctx.records.store, dockerKeys.endpoint(epId), { ...dep, sandboxKey: key, hostIfname }, cur.version);
    this.scheduleAdoption(epId);
    const reply: Body = { InterfaceName: { SrcName: dep.srcName, DstPrefix: net.driverState.ifacePrefix ?? 'eth' } };
    if (!net.internal) {
      const v4 = net.ipam.config.find((p) => !p.subnet.includes(':'));
      const v6 = net.ipam.config.find((p) => p.subnet.includes(':'));
      if (v4 && dep.address) reply.Gateway = v4.gateway;
      if (v6 && dep.addressV6) reply.GatewayIPv6 = v6.gateway;
    }
    return reply;
  }

  /** Poll until Docker's namespace exists and holds our interface, then record it in weft. */
  scheduleAdoption(epId: string): void {
    if (this.adopting.has(epId) || this.stopped) return;
    this.adopting.add(epId);
    const deadline = Date.now() + 120_000;
    const step = async (): Promise<void> => {
      let done = false;
      try {
        done = await this.adopt(epId);
      } catch (err) {
        this.log?.warn({ endpoint: epId.slice(0, 12), err: (err as Error).message }, 'docker endpoint adoption failed');
      }
      if (done || this.stopped || Date.now() > deadline) {
        this.adopting.delete(epId);
        return;
      }
      this.timers.add(setTimeout(() => void step(), 50));
    };
    this.timers.add(setTimeout(() => void step(), 10));
  }

  /** One adoption attempt; true when there is nothing left to do. */
  private adopt(epId: string): Promise<boolean> {
    return this.serial(async () => {
      const cur = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
      if (!cur || !cur.value.sandboxKey || !cur.value.hostIfname || cur.value.weftEndpointId) return true;
      const dep = cur.value;
      const key = dep.sandboxKey!;
      let ifname: string | undefined;
      try {
        await this.ctx.kernel.netnsFd(key);
        ifname = findMovedInterface(await this.ctx.kernel.inNetns(key), dep.mac);
      } catch {
        this.ctx.kernel.forget(key); // not a namespace yet (Docker binds it when the container starts)
        return false;
      }
      if (!ifname) return false;
      const net = await this.network(dep.networkId);
      const sbName = `docker-${path
        .basename(key)
        .replace(/[^a-zA-Z0-9_.-]/g, '_')
        .slice(0, 48)}`;
      let sb = (await this.ctx.records.sandboxIdByName(sbName)) ? await this.controller.sandbox(sbName) : undefined;
      if (sb && sb.netnsPath !== key) sb = undefined;
      sb ??= (
        await this.controller.createSandbox({ kind: 'external', name: sbName, netnsPath: key, labels: { [DOCKER_SANDBOX_LABEL]: 'true' } })
      ).sandbox;
      const sandbox = sb;
      let ep: EndpointRecord | undefined = (await this.ctx.records.endpointsOfSandbox(sandbox.id)).find(
        (e) => e.networkId === dep.networkId,
      );
      if (!ep) {
        const addr4 = dep.address ? normalizeAddress(ipOf(dep.address), 'Address') : undefined;
        const addr6 = dep.addressV6 ? normalizeAddress(ipOf(dep.addressV6), 'AddressIPv6') : undefined;
        const owner =
          dep.owner ??
          (addr4 ? await this.ipam.ownerOf(net.id, 4, addr4) : undefined) ??
          (addr6 ? await this.ipam.ownerOf(net.id, 6, addr6) : undefined);
        ep = await this.engine(() =>
          connectEndpoint(this.ctx, sandbox, net, {
            ifname: ifname,
            mac: dep.mac,
            hostIfname: dep.hostIfname!,
            ...(addr4 ? { ipv4: addr4 } : {}),
            ...(addr6 ? { ipv6: addr6 } : {}),
            ...(owner ? { reservedBy: owner } : {}),
          }),
        );
      }
      await putRecord(
        this.ctx.records.store,
        dockerKeys.endpoint(epId),
        { ...dep, weftEndpointId: ep.id, weftSandboxId: sandbox.id },
        cur.version,
      );
      return true;
    });
  }

  async leave(b: Body): Promise<Body> {
    const epId = id(b, 'EndpointID');
    id(b, 'NetworkID');
    const r = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!r) throw new NotFoundError('endpoint', epId);
    await this.leaveEndpoint(r.value);
    const { weftEndpointId: _e, weftSandboxId: _s, sandboxKey: _k, hostIfname: _h, ...rest } = r.value;
    await this.ctx.records.store.commit({ puts: [{ key: dockerKeys.endpoint(epId), value: JSON.stringify(rest) }] });
    return {};
  }

  /** Disconnect the weft endpoint of a Docker endpoint, delete its veth, drop an empty sandbox. */
  private async leaveEndpoint(dep: DockerEndpointRecord): Promise<void> {
    const sb = dep.weftSandboxId ? await this.ctx.records.sandbox(dep.weftSandboxId) : undefined;
    if (sb) {
      try {
        await this.controller.disconnect(dep.networkId, { sandbox: sb.value.id });
      } catch (err) {
        if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err;
      }
      if ((await this.ctx.records.endpointsOfSandbox(sb.value.id)).length === 0) {
        await this.controller.removeSandbox(sb.value.id).catch((err: unknown) => {
          if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err;
        });
      }
    }
    if (dep.hostIfname) deleteOwnedLink(this.ctx.kernel.host(), dep.hostIfname, [dockerVethMark(dep.hostIfname)]);
  }

  /**
   * After a restart: resume adoptions that were under way, and delete host ends of Docker
   * veths no record knows (a crash between creating one and recording it).
   */
  async resume(): Promise<void> {
    const recs = await listRecords<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoints);
    const known = new Set(recs.map((r) => r.hostIfname).filter(Boolean));
    for (const l of this.ctx.kernel.host().links()) {
      // Only veths weft marked as Docker's: a look-alike name someone else chose stays.
      if (parseMark(l.alias)?.kind === 'docker-veth' && isWeftLink(l) && !known.has(l.name))
        this.ctx.kernel.host().deleteLink(l.index, { ignoreMissing: true });
    }
    for (const r of recs) if (r.sandboxKey && !r.weftEndpointId) this.scheduleAdoption(r.id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /**
   * `docker run -p`: Docker hands the endpoint's port map here; weft publishes it with its own
   * firewall (kernel DNAT, client address preserved), exactly like a weft sandbox's `-p`.
   */
  async programExternalConnectivity(b: Body): Promise<Body> {
    id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    const r = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!r) throw new NotFoundError('endpoint', epId);
    const fw = this.firewall;
    const wanted = dockerPortMap(obj(b.Options)['com.docker.network.portmap']);
    if (wanted.length === 0 || !fw) return {};
    const existing = fw.state.ports.filter((p) => !(r.value.ports ?? []).some((q) => samePort(p, q)));
    const mappings = resolveDockerPorts(wanted, r.value, existing, new HostPortGuard());
    assertNoConflicts(existing, mappings, fw.state.networks);
    await putRecord(this.ctx.records.store, dockerKeys.endpoint(epId), { ...r.value, ports: mappings }, r.version);
    await fw.addPorts(mappings);
    return {};
  }

  async revokeExternalConnectivity(b: Body): Promise<Body> {
    id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    const r = await getRecord<DockerEndpointRecord>(this.ctx.records.store, dockerKeys.endpoint(epId));
    if (!r?.value.ports?.length) return {};
    await this.firewall?.removePorts(r.value.ports);
    const { ports: _gone, ...rest } = r.value;
    await putRecord(this.ctx.records.store, dockerKeys.endpoint(epId), rest, r.version);
    return {};
  }
}
