/**
 * The driver contract (CNM, seed 002; see README.md in this folder). A driver is one folder
 * behind this interface: `validate` is pure; `networkUp/Down` and `join/leave` act on the
 * kernel and are idempotent (up/join ensure, down/leave tolerate what is already gone); every
 * kernel object a driver makes is covered by an invariant with a check and a repair, which
 * doctor and reconcile both run. The controller is the only caller.
 */
import type { EndpointRecord, IpamPoolConfig, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { KernelPort } from '../kernel/kernel-port.js';
import type { FwNetwork } from '../firewall/types.js';
import type { IfnameScheme } from './ifnames.js';
import type { DriverServices } from './driver-services.js';

export type { DriverServices } from './driver-services.js';

/** `local`: state lives on this host (SQLite). `global`: shared across hosts (cluster store). */
export type DriverScope = 'local' | 'global';

export interface DriverContext {
  kernel: KernelPort;
  /** Optional services the engine was built with (firewall, log, supervisor, cluster agent). */
  services: DriverServices;
}

export interface NetworkContext extends DriverContext {
  network: NetworkRecord;
}

export interface EndpointContext extends NetworkContext {
  endpoint: EndpointRecord;
  sandbox: SandboxRecord;
}

/** A veth end that a container runtime moves into place itself (Docker's Join), before it is adopted. */
export interface RuntimePeer {
  networkId: string;
  /** Host end (on the network's device). */
  hostIfname: string;
  /** Sandbox end's name while it is still in the host namespace. */
  peerName: string;
  mac: string;
}

/** What the controller knows, for invariants that span records (e.g. "no weft-named link without a record"). */
export interface ModelView {
  networks: readonly NetworkRecord[];
  endpoints: readonly EndpointRecord[];
  sandboxes: readonly SandboxRecord[];
  /** Runtime-placed pairs made at Join and not yet adopted as endpoints. */
  runtimePeers: readonly RuntimePeer[];
}

export interface HostContext extends DriverContext {
  model: ModelView;
}

/**
 * One property a driver keeps true. `check` only reads and reports each violation as one
 * sentence naming the object; `repair` makes it hold again (idempotent, never re-creates what
 * exists, so live traffic is not interrupted). doctor runs every check; reconcile runs each
 * check and, where it fails, the repair.
 */
export interface Invariant<C> {
  /** Stable id, e.g. "bridge.device". */
  readonly id: string;
  /** What holds, in one sentence (documentation, `weft doctor`). */
  readonly holds: string;
  check(c: C): Promise<string[]>;
  repair(c: C): Promise<void>;
}

export interface DriverInvariants {
  /** Per network of this driver. */
  network: readonly Invariant<NetworkContext>[];
  /** Per endpoint on a network of this driver (its sandbox alive). */
  endpoint: readonly Invariant<EndpointContext>[];
  /** Once per pass, over the whole model (leftovers that carry this driver's names). */
  host: readonly Invariant<HostContext>[];
}

export interface NetworkValidation {
  /** Options normalized (e.g. parsed booleans back to canonical strings). */
  options: Record<string, string>;
  /** Derived state stored with the network (bridge name, mtu…). */
  driverState: Record<string, string>;
  /** The pools with addresses the driver reserves for itself (e.g. macvlan's host shim), if any. */
  ipam?: IpamPoolConfig[];
}

/**
 * A key in the cluster store a global network holds alone (e.g. overlay's `vni/<n>`): written
 * create-only in the same transaction as the network record, deleted with it.
 */
export interface ClusterClaim {
  /** Key relative to the cluster store's prefix (`vni/4096` is `/weft/v1/vni/4096` in etcd). */
  key: string;
  /** The option the claim comes from, and what to tell the user when another network holds it. */
  field: string;
  taken: string;
}

/** See Driver.publishTarget: the firewall network ports go through, and the endpoint's addresses there. */
export interface PublishTarget {
  network: FwNetwork;
  ipv4?: string;
  ipv6?: string;
}

/** See Driver.egressInterface: a second interface of the sandbox that carries its way out. */
export interface EgressInterface {
  /** Its name inside the sandbox. */
  ifname: string;
  mac: string;
  /** Addresses as CIDRs, and the gateways the sandbox's default routes use. */
  ipv4?: string;
  ipv6?: string;
  gateway4?: string;
  gateway6?: string;
}

/** An endpoint on another host, reported by the cluster agent (libnetwork's peerAdd/peerDelete). */
export interface RemoteEndpoint {
  endpointId: string;
  networkId: string;
  hostId: string;
  /** Underlay address of its host. */
  hostAddress: string;
  ipv4?: string;
  ipv6?: string;
  mac?: string;
  /** Its sandbox's name and its aliases: the embedded DNS answers them on the network (Docker's overlay does). */
  name?: string;
  aliases?: string[];
}

/** Another host of the cluster, reported by the cluster agent. */
export interface RemoteHost {
  hostId: string;
  /** Underlay address. */
  address: string;
  /** Per-host data a driver published (e.g. its subnet lease, VTEP MAC, public key). */
  data: Record<string, string>;
}

/**
 * Endpoints whose sandbox end the container runtime moves into the namespace itself (Docker:
 * the namespace exists only after Join replied). The driver makes the pair in the host
 * namespace; once the runtime moved it, the endpoint is recorded with `placement: 'runtime'`
 * and `join` then only keeps the host side (the sandbox side is the runtime's).
 */
export interface RuntimePlacement {
  /**
   * Name schemes of what Join makes: `peer` for the interface the runtime moves, `host` for the
   * end that stays in the host namespace. Absent: a veth pair (IFNAMES.runtimePeer /
   * runtimeHostVeth). Without `host` nothing stays (a macvlan child): RuntimePeer.hostIfname is
   * then the peer's own name while it waits in the host namespace.
   */
  readonly names?: { peer: IfnameScheme; host?: IfnameScheme };
  /** Why a network with these options cannot take runtime-placed endpoints (asked when the runtime creates it), if it cannot. */
  refuse?(net: NetworkRecord): string | undefined;
  /** Make the pair (idempotent: a retried Join finds it). */
  preparePeer(c: NetworkContext, peer: RuntimePeer): Promise<void>;
  /** The sandbox end's name once it is in the namespace at netnsPath (found by MAC), else undefined. */
  locatePeer(c: DriverContext, netnsPath: string, peer: RuntimePeer): Promise<string | undefined>;
  /** Delete the pair wherever its other end went (missing = success). */
  releasePeer(c: DriverContext, peer: RuntimePeer): Promise<void>;
}

export interface Driver {
  readonly name: string;
  readonly scope: DriverScope;
  /** Whether endpoints get addresses from IPAM (bridge) or not (host, null). */
  readonly usesIpam: boolean;
  /**
   * Each network is its own address space (its own namespace and VNI, as overlay's are): its
   * subnet may equal another network's of the same driver — tenants with overlapping subnets.
   * Auto-picked subnets still avoid every subnet in use.
   */
  readonly ownAddressSpace?: boolean;
  /** Whether this driver's networks may be created by users (host/null exist once). */
  readonly userCreatable: boolean;
  /** Interface-name schemes (ifnames.ts) of the kernel objects this driver creates. */
  readonly ownedNames: readonly IfnameScheme[];
  /** The scheme of the host end the controller records as an endpoint's `hostIfname` (default: `wfv`, a bridge port). */
  readonly hostVeth?: IfnameScheme;
  /**
   * Check options; pure. Throws InvalidArgumentError naming the option. `claimed`: the keys
   * under `claimPrefix` the cluster store holds now (global networks of drivers that claim).
   */
  validate(net: NetworkRecord, others: readonly NetworkRecord[], claimed?: ReadonlySet<string>): NetworkValidation;
  /** Where this driver's cluster claims live (listed before validate), if it makes any. */
  readonly claimPrefix?: string;
  /** The keys a global network of this driver holds alone in the cluster store (from its record). */
  clusterClaims?(net: NetworkRecord): ClusterClaim[];
  /** Ensure the network's kernel objects (create, or read back and fix). */
  networkUp(c: NetworkContext): Promise<void>;
  /** Remove them; what is already gone is fine. */
  networkDown(c: NetworkContext): Promise<void>;
  /** Ensure one local sandbox's attachment. */
  join(c: EndpointContext): Promise<void>;
  leave(c: EndpointContext): Promise<void>;
  readonly invariants: DriverInvariants;
  /** How the firewall sees a network of this driver (undefined: the firewall ignores it). */
  firewallView?(net: NetworkRecord): FwNetwork | undefined;
  /**
   * Where an endpoint's published ports are forwarded, when not to its own address on its
   * network (overlay: its leg on the host's gateway bridge, as Docker's docker_gwbridge).
   * Undefined: the endpoint has no such way in now (no leg), and publishes nothing.
   */
  publishTarget?(c: EndpointContext): PublishTarget | undefined;
  /**
   * The interface the driver added to the sandbox for the endpoint's way out, when that is not
   * the endpoint's own (overlay: the leg on the gateway bridge, which holds the default routes).
   * Read-only; for reports such as CNI results.
   */
  egressInterface?(c: EndpointContext): EgressInterface | undefined;
  /** Present when the driver supports runtime-placed endpoints. */
  readonly runtimePlacement?: RuntimePlacement;
  /**
   * The namespace holding the network's gateway address(es) on this host, when it is not the
   * daemon's (overlay: the network's own, while it has local sandboxes); the embedded DNS serves there.
   */
  gatewayNetns?(c: NetworkContext): string;
  /** Multi-host drivers: a remote endpoint of a network appeared / went away. */
  peerUp?(c: NetworkContext, peer: RemoteEndpoint): Promise<void>;
  peerDown?(c: NetworkContext, peer: RemoteEndpoint): Promise<void>;
  /** Multi-host drivers: a host joined the cluster / was declared down. */
  hostUp?(c: DriverContext, host: RemoteHost): Promise<void>;
  hostDown?(c: DriverContext, host: RemoteHost): Promise<void>;
  /**
   * Underlay drivers (macvlan): who already holds `address` outside weft's records (an ARP
   * probe of the LAN), or undefined when it is free. Asked before an address is handed out; a
   * dynamic candidate that is held is skipped, a requested one is refused.
   */
  addressInUse?(c: NetworkContext, family: 4 | 6, address: string): Promise<string | undefined>;
  /** Underlay drivers: the MAC the kernel imposes on the network's endpoints (macvlan passthru: the parent's). */
  fixedMac?(c: NetworkContext): string | undefined;
  /**
   * Where this host's endpoints of the network take addresses from, when that is not the
   * network's whole pool (hostsubnet: the subnet this host leased). Undefined: the network's pool.
   */
  addressPool?(c: NetworkContext, family: 4 | 6): Promise<IpamPoolConfig | undefined>;
  /**
   * Store-less drivers (mesh): IPv4 addresses come from the driver's own allocator (the mesh's
   * address ring) instead of weft's IPAM; the local store only mirrors them so the address
   * invariants keep holding. Absent for every other driver.
   */
  readonly addresses?: DriverAddresses;
}

/** An address source other than weft's IPAM store (see Driver.addresses). */
export interface DriverAddresses {
  /** An IPv4 address (no prefix) for the endpoint, and the gateway it should use. */
  allocate(c: NetworkContext, endpointId: string): Promise<{ address: string; gateway: string }>;
  /** Give it back; an unknown endpoint is a no-op. */
  release(c: NetworkContext, endpointId: string): Promise<void>;
}
