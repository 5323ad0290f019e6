/**
 * Services a driver may use beyond the kernel, handed in through DriverContext.services when
 * the engine is built — never reached through globals. Every member is optional: a process
 * without a firewall (the CNI fallback) or without a cluster (single host) simply lacks it,
 * and a driver that needs one refuses with a clear error. These are the narrow views drivers
 * need; the real implementations (src/firewall, src/kernel/supervisor.ts, src/cluster)
 * satisfy them structurally, or through a one-line adapter where their names differ.
 */
import type { FirewallBackend } from '../firewall/types.js';
import type { Logger } from '../logger.js';
import type { LeaseRecord, SubnetConfig } from '../ipam/subnet-leases.js';
import type { FastPathPlan } from '../mesh/fastpath/vxlan-plan.js';

/** Supervised helper processes (BIRD, wireguard-go), started and watched in src/kernel. */
export interface SupervisorService {
  /** Start the named process unless it already runs with the same argument vector. */
  ensure(name: string, argv: readonly string[]): Promise<void>;
  /** Stop it (not running = success). */
  stop(name: string): Promise<void>;
}

/** The per-host cluster agent (src/cluster) as a multi-host driver sees it. */
export interface ClusterService {
  /** This host's id in the cluster registry. */
  readonly hostId: string;
  /** The underlay address other hosts reach this one on. */
  readonly hostAddress: string;
  /** Publish per-host data for this driver (e.g. a VTEP MAC or a public key) under this host's lease. */
  publishHostData(driver: string, data: Record<string, string>): Promise<void>;
  /** Per-host subnet leases (Flannel-style networks), when the cluster offers them. */
  subnetLeases?: SubnetLeaseService;
}

/** This host's subnet leases in the cluster store (src/cluster/subnet-lease.ts), per network name. */
export interface SubnetLeaseService {
  /** Lease a subnet, or take over the one this host already holds (restart, outage); idempotent. */
  acquire(network: string, cfg: SubnetConfig, attrs: Pick<LeaseRecord, 'publicIp' | 'backend' | 'data'>): Promise<LeaseRecord>;
  /** Give it back (not held = success). */
  release(network: string): Promise<boolean>;
  /** Every lease of the network, as the store has it now. */
  leases(network: string): Promise<LeaseRecord[]>;
}

/** Userspace UDP encapsulation over TUN devices in the daemon's namespace (src/kernel/udp-encap.ts). */
export interface UdpEncapService {
  /** Open the TUN `name` and its UDP socket (idempotent). */
  ensure(name: string, o: { port: number; mtu: number; bindAddress: string }): Promise<void>;
  /** Which host (underlay address, port) holds which subnet. */
  setPeers(name: string, peers: readonly { subnet: string; address: string; port: number }[]): void;
  has(name: string): boolean;
  /** Close it (the kernel deletes the TUN); not open = success. */
  stop(name: string): Promise<void>;
}

/** Userspace WireGuard devices (src/kernel/wireguard.ts), an encrypted underlay between hosts. */
export interface WireguardService {
  /** Ensure the device runs with this host's own key on listenPort; its public key. */
  ensureDevice(name: string, listenPort: number): Promise<{ publicKey: string }>;
  /** Make its peers exactly these. */
  setPeers(name: string, peers: readonly { publicKey: string; endpoint: string; allowedIps: string[] }[]): Promise<void>;
  removeDevice(name: string): Promise<void>;
}

/** weftd's mesh router (src/mesh) as the mesh driver sees it; present when weftd runs with --mesh. */
export interface MeshService {
  /** The range the address ring splits (every mesh network's subnet). */
  readonly subnet: string;
  /** The gateway every host's mesh bridge carries (the same address everywhere, never allocated). */
  readonly gateway: string;
  /** Whether the mesh has a password (then traffic stays on the encrypted sleeve). */
  readonly encrypted: boolean;
  /** An address from this peer's ring space (asking peers for space when ours is used up). */
  allocate(id: string): Promise<string>;
  /** Hold `addr` for `id` again (after a restart); fails when the ring no longer gives it to us. */
  claim(id: string, addr: string): void;
  release(id: string): void;
  /** Publish / withdraw an endpoint's names for the whole mesh. */
  registerName(id: string, names: string[], addrs: string[]): void;
  unregisterName(id: string): void;
  /** This peer's name and underlay address (its VXLAN source). */
  readonly name: string;
  readonly underlay: string;
  /** The kernel VXLAN entries the fast path needs now (directly linked peers of an unencrypted mesh). */
  fastPath(): FastPathPlan;
  /** Called when routes, ring ownership or members change; returns the unsubscribe. */
  onChange(fn: () => void): () => void;
}

export interface DriverServices {
  /** The host's firewall backend (nftables or none). */
  firewall?: FirewallBackend;
  /** Where drivers report background failures. */
  log?: Logger;
  supervisor?: SupervisorService;
  cluster?: ClusterService;
  wireguard?: WireguardService;
  /** The daemon's run directory: drivers keep their own namespaces under it (gone with the host). */
  runDir?: string;
  udpEncap?: UdpEncapService;
  mesh?: MeshService;
}
