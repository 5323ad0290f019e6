/** Shapes returned and accepted by the rtnetlink layer. Addresses are strings, CIDRs "a/len". */

export interface LinkInfo {
  index: number;
  name: string;
  /** IFF_* flags; `up` is IFF_UP. */
  flags: number;
  up: boolean;
  mtu: number;
  mac?: string;
  /** ifindex of the master (bridge) if enslaved. */
  master?: number;
  /** IFLA_INFO_KIND: "bridge", "veth", "vxlan", "macvlan", … (undefined for physical/lo). */
  kind?: string;
  /** IFLA_LINK: for a veth, the peer's ifindex (in the peer's namespace). */
  link?: number;
  /** IFLA_LINK_NETNSID when the peer/lower device lives in another namespace. */
  linkNetnsId?: number;
  operState?: number;
  /** IFLA_MACVLAN_MODE of a macvlan, by name (a mode this code does not know: its number). */
  macvlanMode?: MacvlanMode | number;
  /** IFLA_IPVLAN_MODE of an ipvlan, by name (or its number). */
  ipvlanMode?: IpvlanMode | number;
  /** IFLA_VLAN_ID of an 802.1q sub-interface. */
  vlanId?: number;
  /** IFLA_IFALIAS: a free-text label (weft marks links it owns with it). */
  /** IFLA_GROUP (0 = the default group). */
  group?: number;
  /** IFLA_IFALIAS: a free-text label (weft marks links it owns with it). */
  alias?: string;
}

export interface AddressInfo {
  index: number;
  family: 4 | 6;
  /** "10.1.0.1/24" */
  cidr: string;
  scope: number;
  flags: number;
  /** IFA_PROTO: who added it (0 = unspecified), on kernels that keep it. */
  proto?: number;
}

export interface RouteInfo {
  family: 4 | 6;
  /** "0.0.0.0/0" for default. */
  dst: string;
  gateway?: string;
  oif?: number;
  table: number;
  protocol: number;
  scope: number;
  type: number;
  metric?: number;
  prefsrc?: string;
}

export interface NeighInfo {
  index: number;
  family: 4 | 6 | 7; // 7 = AF_BRIDGE (FDB)
  dst?: string;
  lladdr?: string;
  state: number;
  flags: number;
  master?: number;
  vni?: number;
}

export interface CreateBridgeOpts {
  name: string;
  /** Link group (IFLA_GROUP) set by the creating request itself (so a link is never seen without it). */
  linkGroup?: number;
  mtu?: number;
  mac?: string;
  /** Bring it up after creation. */
  up?: boolean;
}

export interface CreateVethOpts {
  /** Name of the end that stays in this namespace. */
  name: string;
  /** Name of the other end. */
  peerName: string;
  /** fd of the namespace the peer is created in (from Netns.fd); omit = same namespace. */
  peerNetnsFd?: number;
  mtu?: number;
  peerMac?: string;
  /** ifindex of a bridge to enslave the local end to. */
  master?: number;
  up?: boolean;
  /** MAC of the local end (default: random). */
  mac?: string;
  /** Link group of the local end, set by the creating request itself. */
  linkGroup?: number;
}

export interface CreateVxlanOpts {
  name: string;
  /** Link group (IFLA_GROUP) set by the creating request itself. */
  linkGroup?: number;
  /** VXLAN network identifier (24 bits). */
  vni: number;
  /** Local VTEP address (v4 or v6). */
  local?: string;
  /** Multicast group (omit for unicast with static FDB entries). */
  group?: string;
  /** UDP destination port; default 4789. */
  port?: number;
  /** ifindex of the underlay device. */
  dev?: number;
  /** MAC learning on the data path; default false (FDB is programmed). */
  learning?: boolean;
  /** Answer ARP/ND from the device's neighbour table instead of sending them to VTEPs (Docker's overlay). */
  proxy?: boolean;
  /**
   * Create it directly in the namespace behind this fd. Its UDP socket stays in the namespace
   * the request came from (the underlay), as Docker's overlay does by moving it there.
   */
  netnsFd?: number;
  ttl?: number;
  mtu?: number;
  mac?: string;
  master?: number;
  up?: boolean;
}

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';
export type IpvlanMode = 'l2' | 'l3' | 'l3s';

export interface CreateMacvlanOpts {
  name: string;
  /** ifindex of the parent device (in this namespace). */
  parent: number;
  mode?: MacvlanMode;
  mtu?: number;
  mac?: string;
  /** Create it directly in the namespace behind this fd. */
  netnsFd?: number;
  up?: boolean;
}

export interface CreateIpvlanOpts {
  name: string;
  /** ifindex of the parent device (in this namespace). */
  parent: number;
  mode?: IpvlanMode;
  flag?: 'bridge' | 'private' | 'vepa';
  mtu?: number;
  /** Create it directly in the namespace behind this fd. */
  netnsFd?: number;
  up?: boolean;
}

export interface CreateVlanOpts {
  /** e.g. "eth0.10". */
  name: string;
  /** ifindex of the base device. */
  parent: number;
  /** 802.1q VLAN id, 1-4094. */
  vlanId: number;
  mtu?: number;
  up?: boolean;
}

export interface NeighSpec {
  index: number;
  family: 4 | 6 | 7;
  /** IP of the neighbour (ARP/NDP) or the remote VTEP (FDB on a vxlan device). */
  dst?: string;
  lladdr?: string;
  /** NUD_* state; default NUD_PERMANENT. */
  state?: number;
  /** NTF_* flags, e.g. NTF_SELF for an entry in a vxlan device's own FDB. */
  flags?: number;
  master?: number;
  vni?: number;
}

/** A change seen on an event subscription; `overrun` means events were lost (resync). */
export type RtnlEvent =
  | ({ type: 'link'; action: 'new' | 'del' } & LinkInfo)
  | ({ type: 'addr'; action: 'new' | 'del' } & AddressInfo)
  // RouteInfo's own `type` (RTN_*) is carried as `routeType`.
  | ({ type: 'route'; action: 'new' | 'del'; routeType: number } & Omit<RouteInfo, 'type'>)
  | ({ type: 'neigh'; action: 'new' | 'del' } & NeighInfo)
  | { type: 'overrun' };

export interface LinkChange {
  up?: boolean;
  /**
   * No IPv6 link-local address (addr_gen_mode none). For bridge ports and IPv4-only sandbox
   * interfaces: without it every new port sends DAD/MLD/RS multicast that the bridge floods to
   * every other port, making each join cost O(ports) in the kernel.
   */
  ipv6AddrGenNone?: boolean;
  mtu?: number;
  mac?: string;
  name?: string;
  /** ifindex of the new master; 0 removes it. */
  master?: number;
  /** Move to another namespace (fd). */
  netnsFd?: number;
  /** Set the alias ("" removes it). */
  alias?: string;
  linkGroup?: number;
}

export interface RouteSpec {
  dst: string; // CIDR, "0.0.0.0/0" or "::/0" for default
  gateway?: string;
  oif?: number;
  table?: number;
  metric?: number;
  /** RTN_* type; default unicast. */
  type?: number;
  /** RT_SCOPE_*; default universe (link when no gateway and oif given). */
  scope?: number;
  protocol?: number;
  prefsrc?: string;
  onlink?: boolean;
}
