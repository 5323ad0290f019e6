/**
 * The policy model after validation: Calico's NetworkPolicy / GlobalNetworkPolicy / Profile in
 * normalised form (canonical protocol names, parsed selectors, canonical CIDRs, port ranges), and
 * what the compiler needs to know about endpoints and networks. Plain data, no behaviour.
 */
import type { Labels, Selector } from './selector.js';

export type PolicyAction = 'Allow' | 'Deny' | 'Log' | 'Pass';
export type PolicyDirection = 'Ingress' | 'Egress';
export type NamedProtocol = 'TCP' | 'UDP' | 'ICMP' | 'ICMPv6' | 'SCTP' | 'UDPLite';
/** A named protocol, or an IP protocol number (1–255) that has no name above. */
export type PolicyProtocol = NamedProtocol | number;
export type IpVersion = 4 | 6;

/** Inclusive port range; a single port has min === max. */
export interface PortRange {
  min: number;
  max: number;
}

export interface IcmpMatch {
  type: number;
  code?: number;
}

/** Calico's EntityRule: what the packet's source or destination must be. All fields AND. */
export interface EntityMatch {
  /** Canonical CIDRs, one family per rule. */
  nets?: string[];
  notNets?: string[];
  selector?: Selector;
  notSelector?: Selector;
  ports?: PortRange[];
  notPorts?: PortRange[];
}

export interface PolicyRule {
  action: PolicyAction;
  ipVersion?: IpVersion;
  protocol?: PolicyProtocol;
  notProtocol?: PolicyProtocol;
  icmp?: IcmpMatch;
  notICMP?: IcmpMatch;
  source: EntityMatch;
  destination: EntityMatch;
  /** Calico's rule metadata, kept for `inspect`. */
  annotations?: Record<string, string>;
}

export interface Policy {
  kind: 'NetworkPolicy' | 'GlobalNetworkPolicy';
  name: string;
  /**
   * A NetworkPolicy's `metadata.namespace`, read as a weft network: the policy applies only to
   * that network's endpoints and its rule selectors only match endpoints of that network.
   */
  network?: string;
  /** Lower first; undefined sorts after every number (Calico's "no order" = infinity). */
  order?: number;
  selector: Selector;
  types: PolicyDirection[];
  ingress: PolicyRule[];
  egress: PolicyRule[];
}

/**
 * Calico's Profile, one per network: the rules for endpoints that no policy selects for a
 * direction (and where a policy says Pass). Anything no profile rule allows is dropped.
 */
export interface Profile {
  /** The network's name. */
  name: string;
  ingress: PolicyRule[];
  egress: PolicyRule[];
  /**
   * Traffic to a port published with `-p` (DNATed by weft's base firewall) is accepted before
   * the profile's ingress rules, as Docker publishes ports to everyone. Default true; set the
   * annotation `weft.allow-published: "false"` to let the profile decide.
   */
  allowPublished: boolean;
}

/** An endpoint as policy sees it. */
export interface PolicyEndpoint {
  id: string;
  /** Name of the endpoint's network (also the implicit label `weft.network`). */
  network: string;
  labels: Labels;
  /** Its addresses, IPv4 and IPv6, without prefix length. */
  addresses: string[];
  /** On this host: its own traffic is enforced here. Remote endpoints only feed rule selectors. */
  local: boolean;
}

/** How a network's traffic reaches the forward hook: routed veths or a Linux bridge (+ overlays). */
export type PolicyNetworkMode = 'routed' | 'bridged';

export interface PolicyNetwork {
  name: string;
  mode: PolicyNetworkMode;
  /** Undefined: the default profile (see defaultProfile()). */
  profile?: Profile;
}

/** Everything the compiler turns into one ruleset. */
export interface PolicyInput {
  policies: Policy[];
  endpoints: PolicyEndpoint[];
  networks: PolicyNetwork[];
}
