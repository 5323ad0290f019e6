/**
 * What drivers and the controller need from the kernel, as interfaces handed to them. The real
 * implementation (`RealKernel`, rtnetlink + netns) lives beside this file; unit tests drive the
 * controller with an in-memory fake (test/fakes/fake-kernel.ts) that implements the same ports.
 */
import type { IgnoreMissing, RtnlSubscription, SubscribeOpts } from './netlink/rtnl.js';
import type { AddAddressOpts } from './netlink/addr-msg.js';
import type { AddNeighbourOpts } from './netlink/neigh-msg.js';
import type { RtnlGroup } from './netlink/events.js';
import type {
  AddressInfo,
  CreateBridgeOpts,
  CreateMacvlanOpts,
  CreateVethOpts,
  CreateVxlanOpts,
  LinkChange,
  LinkInfo,
  NeighInfo,
  NeighSpec,
  RouteInfo,
  RouteSpec,
  RtnlEvent,
} from './netlink/types.js';

export type { IgnoreMissing, RtnlSubscription, SubscribeOpts };

/** rtnetlink in one network namespace: links, addresses, routes, neighbours, events. */
export interface NetlinkPort {
  links(): LinkInfo[];
  link(ref: string | number): LinkInfo | undefined;
  createBridge(o: CreateBridgeOpts): LinkInfo;
  createVeth(o: CreateVethOpts): LinkInfo;
  createVxlan(o: CreateVxlanOpts): LinkInfo | undefined;
  createMacvlan(o: CreateMacvlanOpts): LinkInfo | undefined;
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
  /** Write a sysctl (key like "net.ipv4.ip_forward") in the namespace at path, or the host's. */
  setSysctl(netnsPath: string | undefined, key: string, value: string): Promise<void>;
  readSysctl(netnsPath: string | undefined, key: string): Promise<string>;
  /** Start time of a process (from /proc), undefined if there is no such process. */
  processStartTime(pid: number): string | undefined;
  /** Whether the process runs; with startTime, also that the pid was not reused. */
  isAlive(pid: number, startTime?: string): boolean;
}
