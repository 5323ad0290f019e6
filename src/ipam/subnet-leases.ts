/**
 * Per-host subnet leases, Flannel's scheme: one cluster network (e.g. 10.244.0.0/16) is cut
 * into subnets of `subnetLen` bits (/24 by default) between `subnetMin` and `subnetMax`; each
 * host holds one of them under a lease. Pure: the configuration (Flannel's field names), the
 * lease record, and the choice of which subnet a host tries first. The store side lives in
 * src/cluster/subnet-lease.ts.
 */
import { InvalidArgumentError, WeftError } from '../errors.js';
import { formatAddress } from './address.js';
import { type Cidr, cidrContainsCidr, cidrSize, formatCidr, parseCidr } from './cidr.js';

export type SubnetBackendType = 'vxlan' | 'host-gw' | 'udp';
export const SUBNET_BACKENDS: readonly SubnetBackendType[] = ['vxlan', 'host-gw', 'udp'];

/** A hostsubnet network's shape as the cluster stores it (Flannel's net-conf.json, resolved). */
export interface SubnetConfig {
  network: string;
  subnetLen: number;
  /** First and last subnet a host may lease (CIDRs of length subnetLen). */
  subnetMin: string;
  subnetMax: string;
  backend: { type: SubnetBackendType; vni: number; port: number; directRouting: boolean };
}

/** `leases/<network>/<subnet>`: who holds the subnet, and what others need to reach it. */
export interface LeaseRecord {
  subnet: string;
  hostId: string;
  /** Underlay ("public") address of the holder. */
  publicIp: string;
  backend: SubnetBackendType;
  /** Backend data: the VTEP MAC for vxlan, nothing for host-gw, the UDP port for udp. */
  data: Record<string, string>;
  /** When the holder last (re)wrote the record (ms since epoch). */
  renewedAt: number;
}

/** No free subnet left in the network (Flannel: "out of subnets"). */
export class SubnetPoolExhaustedError extends WeftError {
  constructor(cfg: SubnetConfig, held: number) {
    super(
      'WEFT_IPAM_EXHAUSTED',
      `no free /${cfg.subnetLen} subnet left in ${cfg.network} (${held} leased between ${cfg.subnetMin} and ${cfg.subnetMax})`,
      { field: 'subnet' },
    );
  }
}

const DEFAULT_PORTS: Record<SubnetBackendType, number> = { vxlan: 8472, 'host-gw': 0, udp: 8285 };

export interface SubnetConfigInput {
  network: string;
  subnetLen?: number;
  subnetMin?: string;
  subnetMax?: string;
  backend?: { type?: string; vni?: number; port?: number; directRouting?: boolean };
}

function subnetAt(net: Cidr, len: number, i: bigint): Cidr {
  const n = net.network + i * (1n << BigInt(32 - len));
  return { family: 4, network: n, prefix: len, host: n };
}

/** Validate a network's configuration and fill Flannel's defaults (min: the second subnet, max: the last). */
export function resolveSubnetConfig(input: SubnetConfigInput): SubnetConfig {
  const net = parseCidr(input.network, 'subnet', { strict: true });
  if (net.family !== 4) throw new InvalidArgumentError('subnet', 'hostsubnet networks are IPv4 (as Flannel’s are)');
  const len = input.subnetLen ?? (net.prefix < 24 ? 24 : net.prefix + 2);
  if (!Number.isInteger(len) || len <= net.prefix || len > 30) {
    throw new InvalidArgumentError(
      'subnet-len',
      `/${len} subnets do not fit in ${formatCidr(net)} (need a length from ${net.prefix + 1} to 30)`,
    );
  }
  const count = 1n << BigInt(len - net.prefix);
  // Flannel skips the first subnet by default (its .0 would make the network address a gateway).
  const min =
    input.subnetMin === undefined ? subnetAt(net, len, count > 2n ? 1n : 0n) : parseCidr(input.subnetMin, 'subnet-min', { strict: true });
  const max = input.subnetMax === undefined ? subnetAt(net, len, count - 1n) : parseCidr(input.subnetMax, 'subnet-max', { strict: true });
  for (const [field, c] of [
    ['subnet-min', min],
    ['subnet-max', max],
  ] as const) {
    if (c.prefix !== len) throw new InvalidArgumentError(field, `${formatCidr(c)} must be a /${len} (the subnet length)`);
    if (!cidrContainsCidr(net, c)) throw new InvalidArgumentError(field, `${formatCidr(c)} is outside ${formatCidr(net)}`);
  }
  if (min.network > max.network) throw new InvalidArgumentError('subnet-min', `${formatCidr(min)} is after subnet-max ${formatCidr(max)}`);
  const type = (input.backend?.type ?? 'vxlan') as SubnetBackendType;
  if (!SUBNET_BACKENDS.includes(type)) {
    throw new InvalidArgumentError('backend', `unknown backend "${String(input.backend?.type)}" (known: ${SUBNET_BACKENDS.join(', ')})`);
  }
  const vni = input.backend?.vni ?? 1;
  if (!Number.isInteger(vni) || vni < 1 || vni > 0xffffff)
    throw new InvalidArgumentError('vni', `${vni} is not a VXLAN id (1 to 16777215)`);
  const port = input.backend?.port ?? DEFAULT_PORTS[type];
  if (!Number.isInteger(port) || port < 0 || port > 65535 || (type !== 'host-gw' && port === 0)) {
    throw new InvalidArgumentError('port', `${port} is not a UDP port`);
  }
  const directRouting = input.backend?.directRouting ?? false;
  if (directRouting && type !== 'vxlan') throw new InvalidArgumentError('direct-routing', 'only the vxlan backend has direct routing');
  return {
    network: formatCidr(net),
    subnetLen: len,
    subnetMin: formatCidr(min),
    subnetMax: formatCidr(max),
    backend: { type, vni, port, directRouting },
  };
}

/** Every subnet a host may lease, in address order. */
export function leasableSubnets(cfg: SubnetConfig): string[] {
  const min = parseCidr(cfg.subnetMin, 'subnet-min');
  const max = parseCidr(cfg.subnetMax, 'subnet-max');
  const step = cidrSize(min);
  const out: string[] = [];
  for (let n = min.network; n <= max.network; n += step) out.push(formatCidr({ family: 4, network: n, prefix: cfg.subnetLen, host: n }));
  return out;
}

/** A small stable hash, so hosts leasing at once start their search at different subnets. */
function spread(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}

/**
 * The free subnets in the order a host should try them: from a place derived from its id,
 * wrapping (Flannel picks at random among the first free ones for the same reason: hosts
 * starting together rarely race for one subnet).
 */
export function leaseOrder(cfg: SubnetConfig, taken: ReadonlySet<string>, hostId: string): string[] {
  const free = leasableSubnets(cfg).filter((s) => !taken.has(s));
  if (free.length === 0) return free;
  const start = spread(hostId) % free.length;
  return [...free.slice(start), ...free.slice(0, start)];
}

/** Key of a network's lease in another host's data (RemoteHost.data) as the cluster hands it to drivers. */
export function leaseDataKey(networkName: string): string {
  return `hostsubnet:${networkName}`;
}

/** Store-key form of a subnet: "10.244.3.0/24" → "10.244.3.0-24" (one path segment). */
export function subnetKeyName(subnet: string): string {
  return subnet.replace('/', '-');
}

export function subnetFromKeyName(name: string): string {
  const i = name.lastIndexOf('-');
  return `${name.slice(0, i)}/${name.slice(i + 1)}`;
}

/** The gateway of a host's subnet: its first address, on the local bridge (Flannel's cni0). */
export function subnetGateway(subnet: string): string {
  const c = parseCidr(subnet, 'subnet');
  return formatAddress({ family: 4, value: c.network + 1n });
}

/** Parse a stored lease record, refusing anything that is not one (a hand-edited key). */
export function parseLeaseRecord(value: string): LeaseRecord | undefined {
  try {
    const r = JSON.parse(value) as Partial<LeaseRecord>;
    if (typeof r.subnet !== 'string' || typeof r.hostId !== 'string' || typeof r.publicIp !== 'string') return undefined;
    return {
      subnet: r.subnet,
      hostId: r.hostId,
      publicIp: r.publicIp,
      backend: r.backend ?? 'vxlan',
      data: r.data ?? {},
      renewedAt: r.renewedAt ?? 0,
    };
  } catch {
    // Not JSON: not a lease weft wrote; callers skip it.
    return undefined;
  }
}
