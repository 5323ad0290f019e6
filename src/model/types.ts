/**
 * The CNM model (seed 002): a controller owns Networks; an Endpoint joins one Sandbox to one
 * Network; a Sandbox is a network namespace (or the host's, or another sandbox's). These are
 * the records kept in the store — plain JSON, no behaviour.
 */

/** One IPAM pool of a network (one per address family, possibly more). */
export interface IpamPoolConfig {
  /** CIDR, e.g. "10.1.0.0/24" or "fd00::/64". */
  subnet: string;
  /** Sub-range addresses are handed out from (CIDR inside subnet). */
  ipRange?: string;
  /** Gateway address (no prefix). Defaults to the first host address of the subnet. */
  gateway: string;
  /** Reserved addresses by name (Docker's --aux-address host=IP). */
  auxAddresses: Record<string, string>;
}

export type DriverName = 'bridge' | 'host' | 'null' | 'container' | (string & {});

export interface NetworkRecord {
  /** 64 lowercase hex characters, like Docker's. */
  id: string;
  name: string;
  driver: DriverName;
  /** ISO timestamp. */
  created: string;
  scope: 'local' | 'global';
  internal: boolean;
  enableIPv6: boolean;
  attachable: boolean;
  labels: Record<string, string>;
  /** Driver options as given (-o key=value), validated by the driver. */
  options: Record<string, string>;
  ipam: { driver: string; options: Record<string, string>; config: IpamPoolConfig[] };
  /** Resolved driver state (e.g. the bridge's interface name) — derived at create time. */
  driverState: Record<string, string>;
  /** True for networks weft makes itself (the default `bridge`, `host`, `none`). */
  predefined?: boolean;
}

export interface EndpointRecord {
  id: string;
  networkId: string;
  sandboxId: string;
  /** Interface name inside the sandbox (eth0…). */
  ifname: string;
  /** Host-side interface name (veth peer on the bridge), if any. */
  hostIfname?: string;
  macAddress?: string;
  /** CIDR with the network's prefix, e.g. "10.1.0.2/24". */
  ipv4?: string;
  ipv6?: string;
  gateway4?: string;
  gateway6?: string;
  aliases: string[];
  /** Whether this endpoint provides the sandbox's default route. */
  defaultRoute: boolean;
  /**
   * Who puts the sandbox end in place: weft (unset) or the container runtime ("runtime":
   * Docker moves it after Join, and owns its name, addresses and routes from then on).
   */
  placement?: 'runtime';
  /** Addresses asked for explicitly (kept across restarts/re-creation). */
  requested: { ipv4?: string; ipv6?: string; mac?: string };
  created: string;
  /** Global-scope endpoints: the cluster host that owns it (its sandbox lives there), and that host's underlay address. */
  host?: string;
  hostAddress?: string;
  /**
   * Global-scope endpoints: what other hosts' policy enforcement reads without the local
   * records (src/cluster/policy-view.ts): the network's name and driver, the sandbox's labels.
   */
  networkName?: string;
  driver?: string;
  /** Global-scope endpoints: its sandbox's name, which other hosts' embedded DNS answers. */
  sandboxName?: string;
  labels?: Record<string, string>;
}

export type SandboxKind =
  /** Its own network namespace, made by weft (weft run). */
  | 'netns'
  /** A namespace weft did not make (weft attach --netns / --pid). */
  | 'external'
  /** The host's namespace (--network host). */
  | 'host'
  /** Another sandbox's namespace (--network container:X). */
  | 'container';

/** A port published by a sandbox (host port already chosen). */
export interface PublishedPort {
  protocol: 'tcp' | 'udp' | 'sctp';
  /** Undefined = every host address. */
  hostIp?: string;
  hostPort: number;
  containerPort: number;
}

export interface SandboxRecord {
  id: string;
  name: string;
  kind: SandboxKind;
  /** Path of the network namespace (bind mount made by weft, /proc/PID/ns/net, or given). */
  netnsPath: string;
  /** Inode of the namespace when it was recorded; a different inode means it is gone. */
  netnsInode?: number;
  /** Process whose life is the sandbox's life (weft run, attach --pid). */
  pid?: number;
  /** Start time of that process (from /proc/PID/stat) so a reused PID is not mistaken for it. */
  pidStartTime?: string;
  /** The pid is the command weft run started: rm refuses while it runs, rm -f and stop signal it. */
  managedProcess?: boolean;
  /** For kind 'container': the sandbox whose namespace is shared. */
  containerOf?: string;
  /** Files prepared for the process: its own /etc/hosts and /etc/resolv.conf. */
  hostsPath?: string;
  resolvPath?: string;
  dns: string[];
  /** Published ports, DNATed to the sandbox's address on its default-route network. */
  ports?: PublishedPort[];
  hostname: string;
  labels: Record<string, string>;
  created: string;
}

/** One address allocation, keyed by pool and address in the store. */
export interface AllocationRecord {
  address: string;
  endpointId: string;
  networkId: string;
}
