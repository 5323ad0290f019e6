/**
 * What drivers and the controller need from the kernel, as interfaces handed to them. The real
 * implementation (`RealKernel`, rtnetlink + netns) lives beside this file; unit tests drive the
 * controller with an in-memory fake (test/fakes/fake-kernel.ts) that implements the same ports.
 */
import type { IgnoreMissing, RtnlSubscription, SubscribeOpts } from './netlink/rtnl.js';
import type { AddAddressOpts } from './netlink/addr-msg.js';
import type { AddNeighbourOpts } from './netlink/neigh-msg.js';
import type { RtnlGroup } from './netlink/events.js';
import type { ArpProbeOptions } from './arp-probe.js';
import type { NeighbourAnnouncement } from './neighbour-announce.js';
import type { OptionalLinkKind } from './link-kind-errors.js';
import type {
  AddressInfo,
  CreateBridgeOpts,
  CreateIpvlanOpts,
  CreateMacvlanOpts,
  CreateVethOpts,
  CreateVlanOpts,
  CreateVxlanOpts,
  LinkChange,
  LinkInfo,
  NeighInfo,
  NeighSpec,
  RouteInfo,
  RouteSpec,
  RtnlEvent,
} from './netlink/types.js';

import type { HostSocket } from '../firewall/host-listeners.js';
import type { BoundSockets } from './netns-sockets.js';
import type { NetnsIdentity } from './netns-identity.js';
import type { StopOutcome } from './process-stop.js';

export type { BoundSockets };
export type {
  ArpProbeOptions,
  NeighbourAnnouncement,
  IgnoreMissing,
  OptionalLinkKind,
  RtnlSubscription,
  SubscribeOpts,
  HostSocket,
  NetnsIdentity,
  StopOutcome,
};

/** rtnetlink in one network namespace: links, addresses, routes, neighbours, events. */
export interface NetlinkPort {
  links(): LinkInfo[];
  link(ref: string | number): LinkInfo | undefined;
  createBridge(o: CreateBridgeOpts): LinkInfo;
  createVeth(o: CreateVethOpts): LinkInfo;
  createVxlan(o: CreateVxlanOpts): LinkInfo | undefined;
  createMacvlan(o: CreateMacvlanOpts): LinkInfo | undefined;
  /** An unknown kind (a kernel without ipvlan / 802.1q) fails with KernelUnsupportedError. */
  createIpvlan(o: CreateIpvlanOpts): LinkInfo | undefined;
  createVlan(o: CreateVlanOpts): LinkInfo;
  setLink(index: number, change: LinkChange): void;
  /** Delete by name or index; with ignoreMissing, "already gone" returns false. */
  deleteLink(ref: string | number, o?: IgnoreMissing): boolean;
  addresses(index?: number, family?: 4 | 6): AddressInfo[];
  addAddress(index: number, cidr: string, o?: AddAddressOpts): void;
  deleteAddress(index: number, cidr: string, o?: IgnoreMissing): boolean;
  routes(family?: 4 | 6, table?: number): RouteInfo[];
  addRoute(r: RouteSpec, o?: { replace?: boolean }): void;
  deleteRoute(r: RouteSpec, o?: IgnoreMissing): boolean;
  neighbours(family: 4 | 6 | 7, index?: number): NeighInfo[];
  addNeighbour(n: NeighSpec, o?: AddNeighbourOpts): void;
  deleteNeighbour(n: NeighSpec, o?: IgnoreMissing): boolean;
  subscribe(groups: readonly RtnlGroup[], onEvent: (e: RtnlEvent) => void, o?: SubscribeOpts): Promise<RtnlSubscription>;
}

export interface KernelPort {
  /** rtnetlink in the daemon's own ("host") namespace. */
  host(): NetlinkPort;
  /** rtnetlink in the namespace at path (cached; forget() drops it). */
  inNetns(path: string): Promise<NetlinkPort>;
  /** fd of the namespace at path (cached with the handle); fails if path is not a namespace. */
  netnsFd(path: string): Promise<number>;
  forget(path: string): void;
  createNetns(path: string): Promise<void>;
  deleteNetns(path: string): Promise<void>;
  netnsInode(path: string): number | undefined;
  /**
   * A UDP and a TCP socket bound to address:port inside the namespace at path (overlay's
   * embedded DNS on a gateway that lives in the network's namespace). The caller owns the fds.
   */
  bindInNetns(path: string, address: string, port: number): Promise<BoundSockets>;
  /** Write a sysctl (key like "net.ipv4.ip_forward") in the namespace at path, or the host's. */
  setSysctl(netnsPath: string | undefined, key: string, value: string): Promise<void>;
  readSysctl(netnsPath: string | undefined, key: string): Promise<string>;
  /** Start time of a process (from /proc), undefined if there is no such process. */
  processStartTime(pid: number): string | undefined;
  /** Whether the process runs; with startTime, also that the pid was not reused. */
  isAlive(pid: number, startTime?: string): boolean;
  /** Resolves if the kernel can make links of `kind` (asked in a scratch namespace); else KernelUnsupportedError. */
  requireLinkKind(kind: OptionalLinkKind): Promise<void>;
  /** RFC 5227 ARP probe from an interface of the host namespace: the claimant's MAC, or undefined. */
  arpProbe(o: ArpProbeOptions): Promise<string | undefined>;
  /**
   * Announce addresses on interface `ifindex` of the namespace at path (gratuitous ARP, IPv6
   * unsolicited NA), `sourceMac` being that interface's MAC: neighbours that already asked
   * for an address learn where it is at once (see neighbour-announce.ts).
   */
  announceNeighbours(netnsPath: string, ifindex: number, sourceMac: string, entries: NeighbourAnnouncement[]): Promise<void>;
  /** Wait for IPv6 duplicate address detection of `cidr` on interface `index` in the namespace at path. */
  waitForDad(netnsPath: string, index: number, cidr: string, timeoutMs: number): Promise<'ok' | 'duplicate'>;
  /**
   * Stop a process weft started: SIGTERM, SIGKILL (to its process group when it leads one)
   * after graceMs; re-checked by start time before every signal, so a reused pid is never hit.
   */
  stopProcess(pid: number, startTime: string | undefined, graceMs: number): Promise<StopOutcome>;
  /** Identity (device + inode) of the namespace at path, opened as netnsFd opens it (never blocking). */
  netnsIdentity(path: string): Promise<NetnsIdentity>;
  /** The namespaces that are the host from weftd's point of view (its own, pid 1's). */
  hostNetns(): { what: string; id: NetnsIdentity }[];
  /** Sockets of the daemon's namespace a published port would divert (TCP listeners, bound UDP, SCTP). */
  hostSockets(): HostSocket[];
  /** "pid N (comm)" of the process holding a socket inode, when /proc shows it. */
  socketOwner(inode: number): string | undefined;
}
