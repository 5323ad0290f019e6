/** weftd's configuration: paths, store, default address pools. Defaults match a system install. */
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { clusterFromFlags, parseListenAddr, type ClusterConfig, type ClusterFlags } from './cluster-config.js';
import { bgpFromFlags, policyFromFlags, type BgpConfig } from './bgp-config.js';
import { meshFromFlags, type MeshConfig, type MeshFlags } from './mesh-config.js';
import os from 'node:os';
import { DEFAULT_POOLS_V4, DEFAULT_POOLS_V6, parseAddressPoolSpec, type AddressPool } from '../ipam/default-pools.js';
import { parseCidr } from '../ipam/cidr.js';

export interface DaemonConfig {
  /** State directory (SQLite store lives here). */
  stateDir: string;
  /** Runtime directory: namespaces, sandbox files, the API socket. */
  runDir: string;
  socketPath: string;
  storeUrl: string;
  poolsV4: AddressPool[];
  poolsV6: AddressPool[];
  /** Subnet of the default `bridge` network (used if it overlaps nothing). */
  defaultBridgeSubnet: string;
  defaultBridgeName: string;
  /** Resolvers the embedded DNS forwards to; empty = the host's resolv.conf. */
  dnsUpstreams: string[];
  /** Period of the liveness loop (dead sandboxes are released within it). */
  resyncMs: number;
  /** Period of the full kernel pass (drift is otherwise repaired from kernel events). */
  fullResyncMs: number;
  /** Firewall backend. */
  firewall: 'nftables' | 'none';
  /** Multi-host: the cluster store and this host's identity in it (unset = single host). */
  cluster?: ClusterConfig;
  /** Prometheus /metrics listen address (IP:PORT); unset = off. */
  metricsAddr?: { host: string; port: number };
  /** Announce this host's IPAM blocks over BGP through a supervised BIRD (needs cluster). */
  bgp?: BgpConfig;
  /** Enforce the cluster's network policies on this host (nftables table inet weft-policy). */
  policy?: boolean;
  /** The store-less mesh (--mesh, --mesh-peer …); unset = off. */
  mesh?: MeshConfig;
}

export function defaultConfig(): DaemonConfig {
  return {
    stateDir: '/var/lib/weft',
    runDir: '/run/weft',
    socketPath: '/run/weft/weft.sock',
    storeUrl: 'sqlite:///var/lib/weft/weft.db',
    poolsV4: DEFAULT_POOLS_V4,
    poolsV6: DEFAULT_POOLS_V6,
    defaultBridgeSubnet: '172.17.0.0/16',
    defaultBridgeName: 'weft0',
    dnsUpstreams: [],
    resyncMs: 1000,
    fullResyncMs: 30_000,
    firewall: 'nftables',
  };
}

export type { ClusterConfig };

export interface ConfigFlags extends MeshFlags, ClusterFlags {
  stateDir?: string;
  runDir?: string;
  socket?: string;
  store?: string;
  defaultAddressPool?: string[];
  defaultBridgeSubnet?: string;
  defaultBridgeName?: string;
  dnsUpstream?: string[];
  resyncMs?: string;
  fullResyncMs?: string;
  firewall?: string;
  metricsAddr?: string;
  bgp?: boolean;
  bgpAs?: string;
  bgpBird?: string;
  policy?: boolean;
}

/** Build a config from command-line flags; derived paths follow stateDir/runDir. */
export function configFromFlags(f: ConfigFlags): DaemonConfig {
  const c = defaultConfig();
  if (f.stateDir) c.stateDir = path.resolve(f.stateDir);
  if (f.runDir) c.runDir = path.resolve(f.runDir);
  c.socketPath = f.socket ? path.resolve(f.socket) : path.join(c.runDir, 'weft.sock');
  c.storeUrl = f.store ?? `sqlite://${path.join(c.stateDir, 'weft.db')}`;
  if (f.defaultAddressPool && f.defaultAddressPool.length > 0) {
    const pools = f.defaultAddressPool.map((s) => parseAddressPoolSpec(s));
    c.poolsV4 = pools.filter((p) => !p.base.includes(':'));
    c.poolsV6 = pools.filter((p) => p.base.includes(':'));
    if (c.poolsV6.length === 0) c.poolsV6 = DEFAULT_POOLS_V6;
  }
  if (f.defaultBridgeSubnet) {
    parseCidr(f.defaultBridgeSubnet, 'default-bridge-subnet', { strict: true });
    c.defaultBridgeSubnet = f.defaultBridgeSubnet;
  }
  if (f.defaultBridgeName) c.defaultBridgeName = f.defaultBridgeName;
  if (f.dnsUpstream) c.dnsUpstreams = f.dnsUpstream;
  if (f.resyncMs) {
    const n = Number(f.resyncMs);
    if (!Number.isInteger(n) || n < 100 || n > 3_600_000)
      throw new InvalidArgumentError('resync-ms', 'must be an integer between 100 and 3600000');
    c.resyncMs = n;
  }
  if (f.fullResyncMs) {
    const n = Number(f.fullResyncMs);
    if (!Number.isInteger(n) || n < 100 || n > 86_400_000)
      throw new InvalidArgumentError('full-resync-ms', 'must be an integer between 100 and 86400000');
    c.fullResyncMs = n;
  }
  if (f.firewall) {
    if (f.firewall !== 'nftables' && f.firewall !== 'none') throw new InvalidArgumentError('firewall', 'must be "nftables" or "none"');
    c.firewall = f.firewall;
  }
  const cluster = clusterFromFlags(f);
  if (cluster) c.cluster = cluster;
  if (f.metricsAddr !== undefined) c.metricsAddr = parseListenAddr(f.metricsAddr, 'metrics-addr');
  const bgp = bgpFromFlags(f);
  if (bgp) c.bgp = bgp;
  if (policyFromFlags(f)) c.policy = true;
  const mesh = meshFromFlags(f, os.hostname());
  if (mesh) c.mesh = mesh;
  return c;
}
