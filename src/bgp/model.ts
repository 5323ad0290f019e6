/**
 * What weft tells BIRD: one host's (or one lab router's) view of the routed network. The
 * caller builds it from the cluster store (see README.md); validateBgpModel checks it and
 * renderBirdConfig turns it into bird.conf. Pure data, no I/O.
 */

/**
 * `host`: a weft host. It originates its IPAM blocks (one aggregate each, the unused part
 * blackholed locally) and its borrowed addresses (/32, /128), and re-advertises nothing it
 * learned unless it is a route reflector.
 * `router`: a top-of-rack router in the lab. It originates nothing of its own and passes
 * every pool route it learns on to its other peers (eBGP transit).
 */
export type BgpRole = 'host' | 'router';

/**
 * How hosts peer with each other. `full`: every host with every other host (iBGP full mesh).
 * `reflectors`: hosts with a cluster id are route reflectors; each peers with every other
 * host, the rest peer with the reflectors only. `none`: only the external peers.
 */
export type MeshMode = 'full' | 'reflectors' | 'none';

/** Another weft host (the local host may appear in the list too; it is skipped by name). */
export interface BgpHostPeer {
  name: string;
  asNumber: number;
  /** Underlay addresses; a session is made per family both hosts have. */
  address4?: string;
  address6?: string;
  /** Set on route reflectors: their cluster id (dotted quad or a number). */
  reflectorClusterId?: string;
}

/** A BGP speaker outside the cluster: a top-of-rack router, a route server, an upstream. */
export interface BgpExternalPeer {
  /** Shown in `weft bgp peers`; unique. */
  name: string;
  asNumber: number;
  address: string;
  /** TCP MD5 signature (RFC 2385), printable ASCII, at most 80 characters. */
  password?: string;
  /** The peer is not on a connected network: allow this many hops (1–255). */
  multihop?: number;
  port?: number;
  /** Wait for the peer to connect; never connect out. */
  passive?: boolean;
  /**
   * Source address of this session, when it is not the host's address4/address6 — e.g. a
   * router with one address per segment peers with each segment's hosts from that segment.
   */
  localAddress?: string;
}

export interface BgpTimers {
  /** 0 disables keepalives and the hold timer; else 3–65535. */
  holdSeconds: number;
  keepaliveSeconds: number;
  /** Delay before the first connection attempt. */
  connectDelaySeconds: number;
  connectRetrySeconds: number;
}

export interface BgpKernelOptions {
  /** Kernel routing table BIRD writes to (default 254, main). */
  table: number;
  /** Route metric of BIRD's kernel routes (default 32): the driver's own /32s (metric 0) win ties. */
  metric: number;
  /** Full kernel table rescans, in seconds; changes are also seen at once through netlink. */
  scanSeconds: number;
}

export interface BgpModel {
  role?: BgpRole;
  /** This host's name (a comment and session descriptions). */
  hostName: string;
  /** BGP router id: an IPv4 address, unique in the cluster. */
  routerId: string;
  /** 1 … 4294967295. */
  asNumber: number;
  /** This host's underlay addresses: the source of its sessions. */
  address4?: string;
  address6?: string;
  /** weft's IP pools: only routes inside them are ever imported or exported. */
  pools: string[];
  /** This host's IPAM blocks, announced as one aggregate each. */
  blocks?: string[];
  /** Single addresses this host uses from blocks other hosts own, announced as /32 or /128. */
  borrowed?: string[];
  mesh?: MeshMode;
  hosts?: BgpHostPeer[];
  /** Set when this host is a route reflector (its cluster id). */
  reflectorClusterId?: string;
  externalPeers?: BgpExternalPeer[];
  kernel?: Partial<BgpKernelOptions>;
  timers?: Partial<BgpTimers>;
  /**
   * Announce graceful restart with this restart time: peers then keep this host's routes that
   * long while its BIRD restarts. Undefined: BIRD only honours its peers' graceful restart, and
   * a dead host's routes are withdrawn as soon as its session drops (Calico #7144's lesson).
   */
  gracefulRestartSeconds?: number;
  /** Interfaces (BIRD patterns, "-" to exclude) whose connected routes resolve next hops (default all). */
  interfaces?: string[];
}

export const DEFAULT_TIMERS: BgpTimers = { holdSeconds: 90, keepaliveSeconds: 30, connectDelaySeconds: 1, connectRetrySeconds: 5 };
export const DEFAULT_KERNEL: BgpKernelOptions = { table: 254, metric: 32, scanSeconds: 10 };

/** The model after validation: canonical addresses, defaults filled in, the local host removed from `hosts`. */
export interface NormalizedBgpModel {
  role: BgpRole;
  hostName: string;
  routerId: string;
  asNumber: number;
  address4?: string;
  address6?: string;
  pools4: string[];
  pools6: string[];
  blocks4: string[];
  blocks6: string[];
  /** Announced but never written to the kernel: borrowed addresses and single-address blocks. */
  addrs4: string[];
  addrs6: string[];
  mesh: MeshMode;
  hosts: BgpHostPeer[];
  reflectorClusterId?: string;
  externalPeers: BgpExternalPeer[];
  kernel: BgpKernelOptions;
  timers: BgpTimers;
  gracefulRestartSeconds?: number;
  interfaces: string[];
}
