/**
 * Backend-neutral firewall model. Drivers and the controller describe *what* must hold (which
 * bridges exist, which host ports are published where); a backend (nftables, none) decides how.
 * Plain data, no behaviour.
 */

export type FwProtocol = 'tcp' | 'udp' | 'sctp';

export const FW_PROTOCOLS: readonly FwProtocol[] = ['tcp', 'udp', 'sctp'];

/** One bridge network as the firewall sees it. */
export interface FwNetwork {
  id: string;
  /** The bridge's interface name (≤ 15 bytes). */
  bridge: string;
  /** CIDRs, e.g. "10.1.0.0/24". */
  subnets4: string[];
  subnets6: string[];
  /** No traffic in or out of the bridge other than to the gateway and between its sandboxes. */
  internal: boolean;
  /** Inter-container communication on this bridge (Docker's `icc`). */
  icc: boolean;
  /** Masquerade egress from the subnets (ignored for internal networks). */
  masquerade: boolean;
  /**
   * Default host address for port mappings that name none (Docker's
   * `com.docker.network.bridge.host_binding_ipv4`). When set to a specific address, IPv6
   * mappings without a host address are not published, as Docker does.
   */
  hostBindingIpv4?: string;
  /**
   * The bridge is someone else's, used as it is (weft.bridge.adopt): weft changes none of its
   * settings, so 127.0.0.1:PORT (route_localnet) does not reach its sandboxes; every other host
   * address does.
   */
  adopted?: boolean;
  /**
   * Cluster networks this network's subnets are part of (hostsubnet: the network cut into a
   * subnet per host). Traffic between two addresses of one of them crosses hosts as it is: it is
   * not masqueraded, and it is let in to the bridge from other hosts. Only traffic leaving the
   * cluster network is masqueraded.
   */
  cluster4?: string[];
}

/** One published port: hostIp:hostPort/protocol → containerIp:containerPort. */
export interface FwPortMapping {
  networkId: string;
  protocol: FwProtocol;
  /**
   * Host address the port is reachable on. Undefined = every host address of the container
   * address's family ("0.0.0.0" / "::" mean the same for their family).
   */
  hostIp?: string;
  hostPort: number;
  /** The container's address on the network; its family decides the mapping's family. */
  containerIp: string;
  containerPort: number;
}

export interface FirewallState {
  networks: FwNetwork[];
  ports: FwPortMapping[];
}

/** Result of comparing the live ruleset with what the backend last applied. */
export interface FirewallCheck {
  ok: boolean;
  problems: string[];
}

/** What every firewall backend offers; the daemon keeps one per namespace it manages. */
export interface FirewallBackend {
  readonly name: string;
  /** Create or atomically replace the backend's ruleset from the full state. */
  init(state: FirewallState): Promise<void>;
  addNetwork(network: FwNetwork): Promise<void>;
  /** Remove a network and every port published on it; unknown ids are ignored. */
  removeNetwork(id: string): Promise<void>;
  addPorts(mappings: FwPortMapping[]): Promise<void>;
  /** Unpublish; mappings that are not published are ignored. */
  removePorts(mappings: FwPortMapping[]): Promise<void>;
  /** Compare the live ruleset with the in-memory model (drift, a flushed ruleset). */
  check(): Promise<FirewallCheck>;
  /** Re-apply the whole in-memory model (e.g. after `nft flush ruleset` or a firewall reload). */
  restore(): Promise<void>;
  /** A copy of the in-memory model. */
  readonly state: FirewallState;
}
