/**
 * Validation and normalisation of firewall inputs. Everything that reaches an nft script passes
 * through here first, so builders can splice values into text without quoting worries. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { type Family, formatAddress, formatCidr, parseAddress, parseCidr } from '../ipam/cidr.js';
import { FW_PROTOCOLS, type FwNetwork, type FwPortMapping } from './types.js';

// Stricter than the kernel (which allows almost any byte but '/', ':' and whitespace): these
// names are spliced into nft scripts inside double quotes.
const IFNAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.@+-]{0,14}$/;

/** Throws unless `name` is a safe interface name (≤ 15 bytes, no quoting hazards). */
export function validateIfname(name: unknown, field: string): string {
  if (typeof name !== 'string' || !IFNAME_RE.test(name)) {
    throw new InvalidArgumentError(field, `${JSON.stringify(name)} is not a valid interface name (1-15 of A-Z a-z 0-9 _ . @ + -)`);
  }
  return name;
}

/** Canonical address text and its family. */
export function normalizeIp(ip: unknown, field: string): { ip: string; family: Family } {
  const a = parseAddress(ip as string, field);
  return { ip: formatAddress(a), family: a.family };
}

function checkPort(p: unknown, field: string): number {
  if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 65535) {
    throw new InvalidArgumentError(field, `${JSON.stringify(p)} is not a port number (1-65535)`);
  }
  return p;
}

/** A network with canonical CIDRs; throws InvalidArgumentError naming the bad field. */
export function normalizeNetwork(n: FwNetwork): FwNetwork {
  if (typeof n !== 'object' || n === null) throw new InvalidArgumentError('network', 'must be an object');
  if (typeof n.id !== 'string' || n.id === '') throw new InvalidArgumentError('network.id', 'must be a non-empty string');
  validateIfname(n.bridge, 'network.bridge');
  const subnets = (list: unknown, family: Family, field: string): string[] => {
    if (!Array.isArray(list)) throw new InvalidArgumentError(field, 'must be an array of CIDRs');
    return list.map((s) => {
      const c = parseCidr(s as string, field);
      if (c.family !== family) throw new InvalidArgumentError(field, `${JSON.stringify(s)} is not an IPv${family} CIDR`);
      return formatCidr(c);
    });
  };
  for (const k of ['internal', 'icc', 'masquerade'] as const) {
    if (typeof n[k] !== 'boolean') throw new InvalidArgumentError(`network.${k}`, 'must be a boolean');
  }
  const out: FwNetwork = {
    id: n.id,
    bridge: n.bridge,
    subnets4: subnets(n.subnets4, 4, 'network.subnets4'),
    subnets6: subnets(n.subnets6, 6, 'network.subnets6'),
    internal: n.internal,
    icc: n.icc,
    masquerade: n.masquerade,
  };
  if (n.cluster4 !== undefined) out.cluster4 = subnets(n.cluster4, 4, 'network.cluster4');
  if (n.hostBindingIpv4 !== undefined) {
    const h = normalizeIp(n.hostBindingIpv4, 'network.hostBindingIpv4');
    if (h.family !== 4) throw new InvalidArgumentError('network.hostBindingIpv4', `${n.hostBindingIpv4} is not an IPv4 address`);
    out.hostBindingIpv4 = h.ip;
  }
  return out;
}

/** A mapping with canonical addresses; hostPort must already be chosen (no 0). */
export function normalizePortMapping(m: FwPortMapping, field = 'ports'): FwPortMapping {
  if (typeof m !== 'object' || m === null) throw new InvalidArgumentError(field, 'must be an object');
  if (typeof m.networkId !== 'string' || m.networkId === '')
    throw new InvalidArgumentError(`${field}.networkId`, 'must be a non-empty string');
  if (!FW_PROTOCOLS.includes(m.protocol)) {
    throw new InvalidArgumentError(`${field}.protocol`, `${JSON.stringify(m.protocol)} is not one of ${FW_PROTOCOLS.join(', ')}`);
  }
  const container = normalizeIp(m.containerIp, `${field}.containerIp`);
  const out: FwPortMapping = {
    networkId: m.networkId,
    protocol: m.protocol,
    hostPort: checkPort(m.hostPort, `${field}.hostPort`),
    containerIp: container.ip,
    containerPort: checkPort(m.containerPort, `${field}.containerPort`),
  };
  if (m.hostIp !== undefined) {
    const host = normalizeIp(m.hostIp, `${field}.hostIp`);
    // NAT cannot translate between families; Docker needs its userland proxy for that.
    if (host.family !== container.family) {
      throw new InvalidArgumentError(
        `${field}.hostIp`,
        `host address ${host.ip} and container address ${container.ip} are of different families`,
      );
    }
    out.hostIp = host.ip;
  }
  return out;
}

/** Where a mapping is published: its family and host address (undefined = every address). */
export interface ResolvedBinding {
  family: Family;
  hostIp?: string;
}

const ANY = new Set(['0.0.0.0', '::']);

/** The binding a normalised mapping gets on its network, or undefined if it is not published. */
export function resolveBinding(m: FwPortMapping, net: FwNetwork | undefined): ResolvedBinding | undefined {
  const family: Family = m.containerIp.includes(':') ? 6 : 4;
  if (net?.internal) return undefined;
  let hostIp = m.hostIp !== undefined && !ANY.has(m.hostIp) ? m.hostIp : undefined;
  if (m.hostIp === undefined && net?.hostBindingIpv4 !== undefined && !ANY.has(net.hostBindingIpv4)) {
    if (family === 6) return undefined;
    hostIp = net.hostBindingIpv4;
  }
  return hostIp === undefined ? { family } : { family, hostIp };
}

/** Identity of a mapping (after normalisation), for sets and equality. */
export function portKey(m: FwPortMapping): string {
  return `${m.networkId}|${m.protocol}|${m.hostIp ?? '*'}|${m.hostPort}|${m.containerIp}|${m.containerPort}`;
}
