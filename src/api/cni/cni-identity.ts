/**
 * How a CNI attachment maps onto weft's model: CNI_CONTAINERID → one external sandbox (named
 * after the whole container id, which is also kept in a label), CNI_IFNAME → the endpoint's interface.
 * Also what a request asks for per container: addresses, MAC, aliases, DNS, port mappings. Pure.
 */
import { createHash } from 'node:crypto';
import type { CniRequest, CniDns, CniPortMapping } from './cni-request.js';
import { CNI_CODES, CniError } from './cni-errors.js';

export const LABELS = {
  containerId: 'weft.cni/container-id',
  portMappings: 'weft.cni/port-mappings',
  podNamespace: 'weft.cni/k8s-pod-namespace',
  podName: 'weft.cni/k8s-pod-name',
} as const;

/** Ids that are a sandbox name as they are: one DNS label, short enough for the plain form. */
const PLAIN_ID = /^[a-zA-Z0-9](?:[a-zA-Z0-9_-]{0,56}[a-zA-Z0-9])?$/;

/**
 * Sandbox name of a container, decided by its whole id (two ids never share a name):
 * `cni-<id>` (at most 62 characters) when the id is one short DNS label, else
 * `cni-<first 12>-<46 hex of its SHA-256>` (exactly 63). The lengths keep the forms apart, and
 * both are valid DNS names (the embedded DNS answers sandbox names).
 */
export function sandboxNameOf(containerId: string): string {
  if (PLAIN_ID.test(containerId)) return `cni-${containerId}`;
  const prefix = containerId
    .slice(0, 12)
    .replace(/[^a-zA-Z0-9]/g, 'x')
    .padEnd(12, 'x');
  return `cni-${prefix}-${createHash('sha256').update(containerId).digest('hex').slice(0, 46)}`;
}

/** The name weft gave a container's sandbox before names used the whole id (for upgrades). */
export function legacySandboxNameOf(containerId: string): string {
  const short = /^[0-9a-f]{12,}$/.test(containerId)
    ? containerId.slice(0, 12)
    : createHash('sha256').update(containerId).digest('hex').slice(0, 12);
  return `cni-${short}`;
}

/** Name of the lock that serializes CNI verbs on one container (whole id, hashed to a key). */
export const containerLockOf = (containerId: string): string =>
  `cni-container-${createHash('sha256').update(containerId).digest('hex').slice(0, 32)}`;

/** IPAM owner string for weft-ipam reservations (see controller/ipam-ops). */
export const ipamOwnerOf = (containerId: string, ifname: string): string => `ext:cni:${containerId}:${ifname}`;

export function parseIpamOwner(owner: string): { containerId: string; ifname: string } | undefined {
  const m = /^ext:cni:([^:]+):([^:]+)$/.exec(owner);
  return m ? { containerId: m[1]!, ifname: m[2]! } : undefined;
}

export interface Wanted {
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  aliases: string[];
  dns: CniDns;
  portMappings: CniPortMapping[];
}

const stripPrefix = (a: string): string => a.split('/')[0]!;

/** Static addresses/MAC from runtimeConfig (capabilities), args.cni, or CNI_ARGS IP=/MAC=. */
export function wantedOf(req: CniRequest): Wanted {
  const c = req.conf;
  const ips = [...(c.runtimeConfig?.ips ?? []), ...(c.args?.cni?.ips ?? []), ...(req.args.IP ? req.args.IP.split(',') : [])]
    .map((s) => s.trim())
    .filter(Boolean);
  const w: Wanted = {
    aliases: c.runtimeConfig?.aliases?.[c.name] ?? [],
    dns: mergeDns(c.dns, c.runtimeConfig?.dns),
    portMappings: c.runtimeConfig?.portMappings ?? [],
  };
  for (const ip of ips) {
    const fam = ip.includes(':') ? 'ipv6' : 'ipv4';
    if (w[fam] && w[fam] !== stripPrefix(ip))
      throw new CniError(CNI_CODES.invalidConfig, 'more than one requested address per family', `${w[fam]} and ${ip}`);
    w[fam] = stripPrefix(ip);
  }
  const mac = c.runtimeConfig?.mac ?? c.args?.cni?.mac ?? req.args.MAC;
  if (mac) w.mac = mac;
  return w;
}

export function mergeDns(a: CniDns | undefined, b: CniDns | undefined): CniDns {
  const out: CniDns = {};
  const ns = [...(b?.nameservers ?? []), ...(a?.nameservers ?? [])];
  if (ns.length) out.nameservers = [...new Set(ns)];
  const search = [...(b?.search ?? []), ...(a?.search ?? [])];
  if (search.length) out.search = [...new Set(search)];
  const options = [...(b?.options ?? []), ...(a?.options ?? [])];
  if (options.length) out.options = [...new Set(options)];
  const domain = b?.domain ?? a?.domain;
  if (domain) out.domain = domain;
  return out;
}

/** CNI port mappings as Docker `-p` specs (what weft's port publishing layer reads). */
export function publishSpecsOf(pms: CniPortMapping[]): string[] {
  return pms.map((p) => {
    const proto = (p.protocol ?? 'tcp').toLowerCase();
    const host = p.hostIP && p.hostIP !== '' ? (p.hostIP.includes(':') ? `[${p.hostIP}]:` : `${p.hostIP}:`) : '';
    if (p.hostPort === 0 && !host) return `${p.containerPort}/${proto}`;
    return `${host}${p.hostPort === 0 ? '' : p.hostPort}:${p.containerPort}/${proto}`;
  });
}

/** Labels recorded on a CNI sandbox. */
export function sandboxLabelsOf(req: CniRequest, w: Wanted): Record<string, string> {
  const l: Record<string, string> = { [LABELS.containerId]: req.containerId };
  if (w.portMappings.length) l[LABELS.portMappings] = JSON.stringify(w.portMappings);
  if (req.args.K8S_POD_NAMESPACE) l[LABELS.podNamespace] = req.args.K8S_POD_NAMESPACE;
  if (req.args.K8S_POD_NAME) l[LABELS.podName] = req.args.K8S_POD_NAME;
  return l;
}
