/**
 * Docker's `network create` flags → the create request. --ip-range, --gateway and
 * --aux-address belong to the --subnet that contains them, as in Docker. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { cidrContains, cidrContainsCidr, parseAddress, parseCidr } from '../ipam/cidr.js';
import { parseKeyValue } from './validate.js';

export interface NetworkCreateFlags {
  driver?: string;
  subnet?: string[];
  ipRange?: string[];
  gateway?: string[];
  auxAddress?: string[];
  ipv6?: boolean;
  internal?: boolean;
  attachable?: boolean;
  label?: string[];
  opt?: string[];
  ipamDriver?: string;
  ipamOpt?: string[];
}

interface Pool {
  subnet: string;
  ipRange?: string;
  gateway?: string;
  auxAddresses?: Record<string, string>;
}

export function networkCreateBody(name: string, f: NetworkCreateFlags): Record<string, unknown> {
  const pools: Pool[] = (f.subnet ?? []).map((s) => {
    parseCidr(s, 'subnet', { strict: true });
    return { subnet: s };
  });
  const owner = (field: string, value: string, isCidr: boolean): Pool => {
    if (pools.length === 0) throw new InvalidArgumentError(field, `--${field} needs a --subnet`);
    const p = pools.find((pool) => {
      const sub = parseCidr(pool.subnet, 'subnet');
      return isCidr ? cidrContainsCidr(sub, parseCidr(value, field, { strict: true })) : cidrContains(sub, parseAddress(value, field));
    });
    if (!p) throw new InvalidArgumentError(field, `${value} is not inside any --subnet`);
    return p;
  };
  for (const r of f.ipRange ?? []) {
    const p = owner('ip-range', r, true);
    if (p.ipRange) throw new InvalidArgumentError('ip-range', `more than one --ip-range for subnet ${p.subnet}`);
    p.ipRange = r;
  }
  for (const g of f.gateway ?? []) {
    const p = owner('gateway', g, false);
    if (p.gateway) throw new InvalidArgumentError('gateway', `more than one --gateway for subnet ${p.subnet}`);
    p.gateway = g;
  }
  for (const a of f.auxAddress ?? []) {
    const [k, v] = parseKeyValue('aux-address', a);
    const p = owner('aux-address', v, false);
    p.auxAddresses = { ...(p.auxAddresses ?? {}), [k]: v };
  }
  const kv = (field: string, list: string[] = []): Record<string, string> => Object.fromEntries(list.map((s) => parseKeyValue(field, s)));
  return {
    name,
    driver: f.driver ?? 'bridge',
    internal: f.internal ?? false,
    enableIPv6: f.ipv6 ?? false,
    attachable: f.attachable ?? true,
    labels: kv('label', f.label),
    // As Docker's: a bare `-o KEY` is KEY with an empty value (`-o encrypted`).
    options: Object.fromEntries((f.opt ?? []).map((o) => (/^[^=\s]+$/.test(o) ? [o, ''] : parseKeyValue('opt', o)))),
    ipam: { driver: f.ipamDriver ?? 'default', options: kv('ipam-opt', f.ipamOpt), config: pools },
  };
}

/** `--network NET[,alias=A][,ip=IP][,ip6=IP][,mac=M][,ifname=I]` (Docker's advanced syntax: name=NET,…). */
export function parseNetworkFlag(spec: string): {
  network: string;
  aliases: string[];
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  ifname?: string;
} {
  const parts = spec.split(',');
  const out: { network: string; aliases: string[]; ipv4?: string; ipv6?: string; mac?: string; ifname?: string } = {
    network: '',
    aliases: [],
  };
  for (const [i, part] of parts.entries()) {
    if (i === 0 && !part.includes('=')) {
      out.network = part;
      continue;
    }
    const [k, v] = parseKeyValue('network', part);
    switch (k) {
      case 'name':
        out.network = v;
        break;
      case 'alias':
        out.aliases.push(v);
        break;
      case 'ip':
        out.ipv4 = v;
        break;
      case 'ip6':
        out.ipv6 = v;
        break;
      case 'mac':
      case 'mac-address':
        out.mac = v;
        break;
      case 'ifname':
      case 'interface':
        out.ifname = v;
        break;
      default:
        throw new InvalidArgumentError('network', `unknown key "${k}" in "${spec}" (known: name, alias, ip, ip6, mac, ifname)`);
    }
  }
  if (!out.network) throw new InvalidArgumentError('network', `no network name in "${spec}"`);
  return out;
}
