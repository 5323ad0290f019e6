/**
 * Docker's remote network driver protocol, translated onto the controller. A Docker network is
 * a weft bridge network with the same id; a Docker endpoint is a runtime-placed endpoint
 * (controller.runtime): its veth is made at Join for Docker to move, and it becomes a weft
 * endpoint of an external sandbox once the container's namespace holds it. This file checks
 * request bodies and shapes replies; it keeps no state and touches neither store nor kernel.
 */
import type { Controller } from '../../controller/controller.js';
import { InvalidArgumentError } from '../../errors.js';
import type { RuntimePortRequest } from '../../controller/runtime-ports.js';
import { normalizeCidr } from '../../ipam/cidr.js';
import { SerialQueue } from '../../serial-queue.js';
import { placeholderName, type DockerNetworkNamer } from './docker-network-name.js';

type Body = Record<string, unknown>;

const PROTOCOLS: Record<number, 'tcp' | 'udp' | 'sctp'> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };

/** Docker's `com.docker.network.portmap` option (libnetwork types.PortBinding), validated. */
function dockerPortMap(v: unknown): RuntimePortRequest[] {
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
  /** One Docker operation at a time: Docker may fire overlapping calls for one container. */
  private readonly queue = new SerialQueue();
  /** Learns Docker's name for networks it creates (the request carries only the id). */
  namer?: DockerNetworkNamer;

  constructor(private readonly controller: Controller) {}

  serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  capabilities(): Body {
    return { Scope: 'local', ConnectivityScope: 'local' };
  }

  async createNetwork(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const opts = obj(b.Options);
    const generic = Object.fromEntries(Object.entries(obj(opts[GENERIC])).map(([k, v]) => [k, String(v)]));
    const v4 = ipData(b.IPv4Data, 'IPv4Data');
    const v6 = ipData(b.IPv6Data, 'IPv6Data');
    if (await this.controller.findNetwork(netId)) return {};
    const name = generic[NAME_OPTION] ?? placeholderName(netId);
    const options = Object.fromEntries(Object.entries(generic).filter(([k]) => !k.startsWith('weft.')));
    const pools = await this.controller.runtime.pools();
    const config = [...v4, ...v6].map((d) => {
      const mine = pools.find((p) => p.pool === normalizeCidr(d.Pool, 'Pool') && (!d.AddressSpace || p.addressSpace === d.AddressSpace));
      return {
        subnet: d.Pool,
        ...(d.Gateway ? { gateway: ipOf(d.Gateway) } : {}),
        ...(mine?.subPool ? { ipRange: mine.subPool } : {}),
        auxAddresses: Object.fromEntries(Object.entries(obj(d.AuxAddresses)).map(([k, v]) => [k, ipOf(String(v))])),
      };
    });
    await this.controller.createNetwork(
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
    );
    await this.controller.runtime.bindPools(
      config.map((c) => normalizeCidr(c.subnet, 'Pool')),
      netId,
    );
    if (name === placeholderName(netId)) this.namer?.schedule(netId);
    return {};
  }

  async deleteNetwork(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const net = await this.controller.findNetwork(netId);
    if (!net) return {}; // already gone: success, as Docker retries deletes
    await this.controller.removeNetwork(netId);
    await this.controller.runtime.bindPools(
      net.ipam.config.map((p) => p.subnet),
      undefined,
    );
    return {};
  }

  async createEndpoint(b: Body): Promise<Body> {
    const iface = obj(b.Interface);
    const text = (k: string): string | undefined => (typeof iface[k] === 'string' && iface[k] !== '' ? iface[k] : undefined);
    const address = text('Address');
    const addressV6 = text('AddressIPv6');
    const mac = text('MacAddress');
    const chosen = await this.controller.runtime.createEndpoint({
      networkId: id(b, 'NetworkID'),
      endpointId: id(b, 'EndpointID'),
      ...(address ? { address } : {}),
      ...(addressV6 ? { addressV6 } : {}),
      ...(mac ? { mac } : {}),
    });
    // Only what weft chose is returned: Docker refuses a reply that repeats what it gave.
    const reply: Record<string, string> = {};
    if (chosen.address) reply.Address = chosen.address;
    if (chosen.mac) reply.MacAddress = chosen.mac;
    return { Interface: reply };
  }

  async endpointOperInfo(b: Body): Promise<Body> {
    const info = await this.controller.runtime.endpointInfo(id(b, 'EndpointID'));
    return { Value: { 'weft.endpoint': info.endpointId ?? '', 'weft.host-interface': info.hostIfname ?? '' } };
  }

  async deleteEndpoint(b: Body): Promise<Body> {
    await this.controller.runtime.deleteEndpoint(id(b, 'EndpointID'));
    return {};
  }

  async join(b: Body): Promise<Body> {
    const netId = id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    const key = b.SandboxKey;
    if (typeof key !== 'string') throw new InvalidArgumentError('SandboxKey', 'must be an absolute path');
    const j = await this.controller.runtime.join(netId, epId, key);
    const reply: Body = { InterfaceName: { SrcName: j.peerName, DstPrefix: j.ifacePrefix } };
    if (j.gateway) reply.Gateway = j.gateway;
    if (j.gatewayV6) reply.GatewayIPv6 = j.gatewayV6;
    return reply;
  }

  async leave(b: Body): Promise<Body> {
    const epId = id(b, 'EndpointID');
    id(b, 'NetworkID');
    await this.controller.runtime.leave(epId);
    return {};
  }

  /**
   * `docker run -p`: Docker hands the endpoint's port map here; weft publishes it with its own
   * firewall (kernel DNAT, client address preserved), exactly like a weft sandbox's `-p`.
   */
  async programExternalConnectivity(b: Body): Promise<Body> {
    id(b, 'NetworkID');
    const epId = id(b, 'EndpointID');
    await this.controller.runtime.publishPorts(epId, dockerPortMap(obj(b.Options)['com.docker.network.portmap']));
    return {};
  }

  async revokeExternalConnectivity(b: Body): Promise<Body> {
    id(b, 'NetworkID');
    await this.controller.runtime.unpublishPorts(id(b, 'EndpointID'));
    return {};
  }
}
