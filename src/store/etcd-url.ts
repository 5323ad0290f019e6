/**
 * The cluster store's address as weftd takes it (`--cluster-store`), parsed into gRPC targets.
 * Pure: files named by the TLS flags are read by the caller.
 *   etcd://10.0.0.1:2379[,10.0.0.2:2379…]   plain gRPC (port defaults to 2379)
 *   etcds://10.0.0.1:2379[,…]               TLS (also implied by --cluster-store-cert/key/ca)
 *   etcd+unix:///run/etcd/etcd.sock:0        one local etcd on a unix socket (tests, sidecars)
 */
import { InvalidArgumentError } from '../errors.js';
import { tryParseAddress } from '../ipam/address.js';

export interface EtcdTarget {
  /** gRPC targets: `http://host:port`, `https://host:port` or `unix:///path`. */
  hosts: string[];
  tls: boolean;
  /** The URL with nothing secret in it, for logs and `weft info`. */
  display: string;
}

const HOSTNAME_RE = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$/i;

/** Parse one `host[:port]` member of the list; IPv6 literals go in brackets. */
function parseMember(member: string, field: string): string {
  let host: string;
  let port = '2379';
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(member);
  if (v6) {
    host = v6[1]!;
    if (v6[2] !== undefined) port = v6[2];
    if (tryParseAddress(host)?.family !== 6) throw new InvalidArgumentError(field, `"${host}" is not an IPv6 address`);
    host = `[${host}]`;
  } else {
    const i = member.lastIndexOf(':');
    host = i < 0 ? member : member.slice(0, i);
    if (i >= 0) port = member.slice(i + 1);
    if (host.includes(':')) throw new InvalidArgumentError(field, `IPv6 address "${host}" must be written in brackets`);
    const asIp = tryParseAddress(host);
    if (asIp === undefined && (/^[\d.]+$/.test(host) || !HOSTNAME_RE.test(host))) {
      throw new InvalidArgumentError(field, `"${host}" is neither an IP address nor a host name`);
    }
  }
  const p = Number(port);
  if (!/^\d{1,5}$/.test(port) || p < 1 || p > 65535) throw new InvalidArgumentError(field, `port "${port}" must be 1-65535`);
  return `${host}:${p}`;
}

/** Parse a cluster-store URL; `forceTls` when TLS files were given with a plain `etcd://` URL. */
export function parseEtcdUrl(url: string, forceTls = false, field = 'cluster-store'): EtcdTarget {
  const m = /^(etcd|etcds|etcd\+unix):\/\/(.*)$/i.exec(url.trim());
  if (!m) throw new InvalidArgumentError(field, `"${url}" is not an etcd URL (use etcd://IP:2379[,IP:2379…])`);
  const scheme = m[1]!.toLowerCase();
  const rest = m[2]!;
  if (scheme === 'etcd+unix') {
    if (!rest.startsWith('/') || rest.includes(',') || rest.includes('\0')) {
      throw new InvalidArgumentError(field, `"${url}" must name one absolute socket path (etcd+unix:///path)`);
    }
    if (forceTls) throw new InvalidArgumentError(field, 'TLS over a unix socket is not supported');
    return { hosts: [`unix://${rest}`], tls: false, display: url };
  }
  if (rest === '') throw new InvalidArgumentError(field, `"${url}" names no etcd member (host name or IP address expected)`);
  if (/[/?#@]/.test(rest)) {
    throw new InvalidArgumentError(field, `"${url}" must be a comma-separated list of host:port with no path or credentials`);
  }
  const members = rest.split(',').map((s) => parseMember(s.trim(), field));
  if (new Set(members).size !== members.length) throw new InvalidArgumentError(field, `"${url}" names a member twice`);
  const tls = scheme === 'etcds' || forceTls;
  return {
    hosts: members.map((h) => `${tls ? 'https' : 'http'}://${h}`),
    tls,
    display: `${tls ? 'etcds' : 'etcd'}://${members.join(',')}`,
  };
}
