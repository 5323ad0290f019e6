/** weftd's multi-host flags (--cluster-store and friends) and --metrics-addr, checked before anything starts. */
import path from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { parseEtcdUrl } from '../store/etcd-url.js';
import { validateHostId } from '../cluster/host-identity.js';
import { tryParseAddress } from '../ipam/address.js';

export interface ClusterConfig {
  /** etcd URL as given (etcd://IP:2379[,…], etcds://…, etcd+unix:///path). */
  storeUrl: string;
  tls: { cert?: string; key?: string; ca?: string };
  /** IP or interface name; unset = the default route's interface. */
  advertiseAddr?: string;
  hostId?: string;
  hostName?: string;
  /** Lease TTL of the host's liveness key (ms). */
  hostTtlMs: number;
  /** How long a down host keeps its endpoints and blocks (ms). */
  hostGraceMs: number;
  /** TTL of this host's subnet leases of hostsubnet networks (ms; Flannel's 24 h by default). */
  subnetLeaseTtlMs: number;
}

/** The subset of weftd's flags read here. */
export interface ClusterFlags {
  clusterStore?: string;
  clusterStoreCert?: string;
  clusterStoreKey?: string;
  clusterStoreCa?: string;
  advertiseAddr?: string;
  hostId?: string;
  hostName?: string;
  hostTtlMs?: string;
  hostGraceMs?: string;
  subnetLeaseTtlMs?: string;
}

function intFlag(v: string | undefined, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(field, `must be an integer between ${min} and ${max}`);
  return n;
}

/** The cluster flags; they need --cluster-store, and the etcd URL is checked here already. */
export function clusterFromFlags(f: ClusterFlags): ClusterConfig | undefined {
  const dependent = {
    clusterStoreCert: 'cluster-store-cert',
    clusterStoreKey: 'cluster-store-key',
    clusterStoreCa: 'cluster-store-ca',
    advertiseAddr: 'advertise-addr',
    hostId: 'host-id',
    hostGraceMs: 'host-grace-ms',
    hostTtlMs: 'host-ttl-ms',
    subnetLeaseTtlMs: 'subnet-lease-ttl-ms',
  } as const;
  if (f.clusterStore === undefined) {
    for (const [k, flag] of Object.entries(dependent)) {
      if (f[k as keyof typeof dependent] !== undefined) throw new InvalidArgumentError(flag, `--${flag} needs --cluster-store`);
    }
    return undefined;
  }
  const tls = {
    ...(f.clusterStoreCert !== undefined ? { cert: path.resolve(f.clusterStoreCert) } : {}),
    ...(f.clusterStoreKey !== undefined ? { key: path.resolve(f.clusterStoreKey) } : {}),
    ...(f.clusterStoreCa !== undefined ? { ca: path.resolve(f.clusterStoreCa) } : {}),
  };
  parseEtcdUrl(f.clusterStore, Object.keys(tls).length > 0 && !f.clusterStore.startsWith('etcd+unix:'));
  if (f.hostId !== undefined) validateHostId(f.hostId);
  if (f.hostName !== undefined && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(f.hostName)) {
    throw new InvalidArgumentError('host-name', `"${f.hostName}" is not a valid host name`);
  }
  const hostTtlMs = intFlag(f.hostTtlMs, 'host-ttl-ms', 2000, 600_000, 5000);
  return {
    storeUrl: f.clusterStore,
    tls,
    ...(f.advertiseAddr !== undefined ? { advertiseAddr: f.advertiseAddr } : {}),
    ...(f.hostId !== undefined ? { hostId: f.hostId } : {}),
    ...(f.hostName !== undefined ? { hostName: f.hostName } : {}),
    hostTtlMs,
    hostGraceMs: intFlag(f.hostGraceMs, 'host-grace-ms', 0, 7 * 86_400_000, 30_000),
    subnetLeaseTtlMs: intFlag(f.subnetLeaseTtlMs, 'subnet-lease-ttl-ms', 2000, 30 * 86_400_000, 86_400_000),
  };
}

/** IP:PORT (IPv6 in brackets) for a TCP listener. */
export function parseListenAddr(s: string, field: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  const host = m?.[1] ?? m?.[2];
  const port = Number(m?.[3]);
  if (!m || host === undefined || tryParseAddress(host) === undefined || port < 1 || port > 65535) {
    throw new InvalidArgumentError(field, `"${s}" must be IP:PORT (e.g. 127.0.0.1:9323)`);
  }
  return { host, port };
}
