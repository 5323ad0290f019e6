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
  mesh?: MeshService;
}
