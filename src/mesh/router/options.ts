/** MeshRouter configuration, its defaults, and address parsing. */
import { InvalidArgumentError } from '../../errors.js';
import { parseAddress } from '../../ipam/address.js';
import type { MembershipConfig } from '../membership/config.js';

export type IpallocInit = { init: 'seed'; peers: string[] } | { init: 'claim' } | { init: 'join' };

export interface MeshRouterOptions {
  /** This peer's mesh name (stable across restarts; defaults to the host name in weftd). */
  name: string;
  /** "ip:port" to listen on, TCP and UDP (Weave's 6783). */
  listen: string;
  /** "ip:port" other peers should use, if not `listen`. */
  advertise?: string;
  /** Addresses to connect to ("ip:port"). */
  peers?: string[];
  /** The shared secret; without it the mesh is neither authenticated nor encrypted. */
  password?: string | Buffer;
  /** An already derived key (skips Argon2id; tests and benches starting many routers). */
  psk?: Buffer;
  /** The mesh address range split by the ring. */
  subnet: string;
  ipalloc?: IpallocInit;
  /** Addresses of the range the allocator never hands out (the mesh gateway). */
  reserved?: string[];
  membership?: Partial<MembershipConfig>;
  /** The sleeve: a TUN device in this process's namespace carrying the mesh range. */
  tun?: { name: string; mtu?: number };
  /** UDP heartbeat period per link. */
  heartbeatMs?: number;
  /** A link without heartbeats this long is not used for routing. */
  linkTimeoutMs?: number;
  /** Full topology/ring/names exchange with one random neighbour this often. */
  gossipMs?: number;
  log?: (line: string) => void;
}

export const ROUTER_DEFAULTS = { heartbeatMs: 250, linkTimeoutMs: 1500, gossipMs: 5000, handshakeTimeoutMs: 5000, tunMtu: 1420 };

/** "ip:port" → parts; IPv4 only for now (the lab underlays are IPv4). */
export function parseHostPort(s: string, field: string): { ip: string; port: number } {
  const m = /^(\d+\.\d+\.\d+\.\d+):(\d{1,5})$/.exec(s);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) throw new InvalidArgumentError(field, `"${s}" is not ip:port`);
  parseAddress(m[1]!, field);
  return { ip: m[1]!, port };
}
