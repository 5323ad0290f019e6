/**
 * Where the embedded DNS forwards names it does not own: explicit --dns-upstream servers, else
 * the host's resolv.conf. Pure: the caller reads the file.
 *
 * Forwarding always happens from the daemon's own namespace, so a loopback stub such as
 * systemd-resolved's 127.0.0.53 is a perfectly good upstream here even though no sandbox could
 * reach it — sandboxes only ever talk to the gateway address the server listens on.
 */
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError } from '../errors.js';

export interface ResolvConf {
  nameservers: string[];
  search: string[];
  options: string[];
}

export interface Upstream {
  address: string;
  port: number;
  family: 4 | 6;
}

export interface UpstreamPlan {
  upstreams: Upstream[];
  source: 'explicit' | 'resolv.conf' | 'none';
  /** Every host nameserver is on loopback (a local stub): reachable from the daemon only. */
  loopbackOnly: boolean;
}

/** glibc reads at most this many nameserver lines. */
export const MAX_NAMESERVERS = 3;

/**
 * Parse resolv.conf text the way glibc does: later `search`/`domain` lines replace earlier
 * ones, `options` accumulate, comments start with `#` or `;`.
 */
export function parseResolvConf(text: string): ResolvConf {
  const conf: ResolvConf = { nameservers: [], search: [], options: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    if (line === '') continue;
    const [key, ...rest] = line.split(/\s+/);
    switch (key) {
      case 'nameserver':
        if (rest[0] !== undefined && isAddress(rest[0])) conf.nameservers.push(rest[0]);
        break;
      case 'search':
        conf.search = rest;
        break;
      case 'domain':
        conf.search = rest.slice(0, 1);
        break;
      case 'options':
        conf.options.push(...rest);
        break;
      default:
        break;
    }
  }
  return conf;
}

function stripZone(addr: string): string {
  const i = addr.indexOf('%');
  return i < 0 ? addr : addr.slice(0, i);
}

function isAddress(addr: string): boolean {
  const a = stripZone(addr);
  return ipaddr.IPv4.isValidFourPartDecimal(a) || ipaddr.IPv6.isValid(a);
}

/** 127.0.0.0/8, ::1 and v4-mapped loopback: only reachable inside the host's own namespace. */
export function isLoopback(addr: string): boolean {
  const a = stripZone(addr);
  if (!isAddress(a)) return false;
  const p = ipaddr.process(a);
  return p.range() === 'loopback';
}

/** True when the file names nameservers and all of them are loopback stubs. */
export function loopbackOnly(conf: ResolvConf): boolean {
  return conf.nameservers.length > 0 && conf.nameservers.every(isLoopback);
}

/** "1.1.1.1", "1.1.1.1:5353", "2001:db8::1", "[2001:db8::1]:53". */
export function parseUpstream(spec: string, field = 'dns-upstream'): Upstream {
  let host = spec.trim();
  let port = 53;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(host);
  if (bracket) {
    host = bracket[1]!;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else if (/^[\d.]+:\d+$/.test(host)) {
    const i = host.lastIndexOf(':');
    port = Number(host.slice(i + 1));
    host = host.slice(0, i);
  }
  if (!isAddress(host)) throw new InvalidArgumentError(field, `"${spec}" is not an IP address (optionally with :port)`);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new InvalidArgumentError(field, `port in "${spec}" is out of range`);
  const bare = stripZone(host);
  const family = ipaddr.IPv4.isValidFourPartDecimal(bare) ? 4 : 6;
  return { address: family === 6 && host.includes('%') ? host : ipaddr.parse(bare).toString(), port, family };
}

/** Stable identity of an upstream (for dead-server bookkeeping and logs). */
export function upstreamKey(u: Upstream): string {
  return u.family === 6 ? `[${u.address}]:${u.port}` : `${u.address}:${u.port}`;
}

/**
 * Decide the upstreams: explicit ones win; otherwise every nameserver of the host's
 * resolv.conf, loopback stubs included (the daemon, not the sandbox, sends the query).
 */
export function planUpstreams(input: { explicit?: string[]; resolvConf?: string }): UpstreamPlan {
  const host = parseResolvConf(input.resolvConf ?? '');
  const stubs = loopbackOnly(host);
  if (input.explicit && input.explicit.length > 0) {
    return { upstreams: input.explicit.map((s, i) => parseUpstream(s, `dns-upstream[${i}]`)), source: 'explicit', loopbackOnly: stubs };
  }
  const ups = host.nameservers.map((s) => parseUpstream(s, 'resolv.conf'));
  return { upstreams: ups, source: ups.length > 0 ? 'resolv.conf' : 'none', loopbackOnly: stubs };
}
