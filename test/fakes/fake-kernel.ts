/**
 * An in-memory kernel behind the same KernelPort as the real one, for controller unit tests
 * that need no root: namespaces, links (bridges, veth pairs with their peer in another
 * namespace), addresses, routes, sysctls and processes, with the kernel's rules that matter to
 * weft (names unique per namespace, deleting one end of a veth deletes the other, a deleted
 * namespace takes its links and their peers with it, deleting a macvlan's parent deletes its
 * children wherever they are, a passthru parent takes one child). Every port call is a numbered step; a
 * fault can be injected at any one step (plugins' debugPostIPAMError idea, generalised).
 * Only what weft's drivers use is modelled; anything else throws "not modelled".
 */
import type { HostSocket, KernelPort, NetlinkPort, NetnsIdentity, RtnlSubscription, StopOutcome } from '../../src/kernel/kernel-port.js';
import type { ArpProbeOptions, BoundSockets, OptionalLinkKind } from '../../src/kernel/kernel-port.js';
import type { AddAddressOpts } from '../../src/kernel/netlink/addr-msg.js';
import type { NeighbourAnnouncement } from '../../src/kernel/neighbour-announce.js';
import type {
  AddressInfo,
  CreateBridgeOpts,
  CreateIpvlanOpts,
  CreateMacvlanOpts,
  CreateVethOpts,
  CreateVlanOpts,
  LinkChange,
  LinkInfo,
  RouteInfo,
  RouteSpec,
} from '../../src/kernel/netlink/types.js';
import { KernelError, KernelUnsupportedError } from '../../src/errors.js';

const EEXIST = 17;
const EINVAL = 22;
const ENODEV = 19;
const ENOENT = 2;
const EIO = 5;

interface FakeLink {
  index: number;
  name: string;
  kind: string;
  mtu: number;
  mac?: string;
  up: boolean;
  master?: number;
  /** IFLA_GROUP and IFLA_IFALIAS (weft's ownership marks). */
  group?: number;
  alias?: string;
  /** The other end of a veth: namespace key and index. */
  peer?: { ns: string; index: number };
  /** The parent of a macvlan/ipvlan/vlan (it may live in another namespace than its child). */
  lower?: { ns: string; index: number };
  /** macvlan/ipvlan mode. */
  mode?: string;
  ipv6AddrGenNone?: boolean;
}

class FakeNs {
  readonly links = new Map<number, FakeLink>();
  addresses: { index: number; cidr: string; proto?: number }[] = [];
  routes: { dst: string; gateway?: string; oif?: number; table: number; protocol: number }[] = [];
  readonly sysctls = new Map<string, string>();
  constructor(
    readonly key: string,
    readonly inode: number,
  ) {
    this.links.set(1, { index: 1, name: 'lo', kind: 'loopback', mtu: 65536, up: true });
  }
  byName(name: string): FakeLink | undefined {
    for (const l of this.links.values()) if (l.name === name) return l;
    return undefined;
  }
}

/** Thrown by an injected fault; tests tell it from real failures by its message. */
export const INJECTED = 'injected fault';

export class FakeKernel implements KernelPort {
  readonly namespaces = new Map<string, FakeNs>();
  private readonly fds = new Map<number, string>();
  private nextFd = 100;
  private nextIndex = 2;
  private nextInode = 4026531000;
  readonly processes = new Map<number, string>();
  /** Sockets host programs hold in the daemon's namespace (what /proc/net would show). */
  hostSocketList: HostSocket[] = [];
  /** Owners of socket inodes ("pid N (comm)"). */
  readonly socketOwners = new Map<number, string>();
  /** Steps taken so far (every port call, named). */
  readonly steps: string[] = [];
  /** Inject a fault at this step number (1-based), once. */
  faultAt: number | undefined;
  /** Where the injected fault happened, once it did. */
  faulted: string | undefined;
  /** Link kinds this kernel lacks (as the project's machine lacks ipvlan and 802.1q). */
  readonly lacking = new Set<OptionalLinkKind>(['ipvlan', 'vlan']);
  /** IPv4 addresses other hosts on the LAN hold (address → MAC), for ARP probes. */
  readonly lanHolders = new Map<string, string>();
  /** IPv6 addresses (CIDR) whose duplicate address detection fails. */
  readonly dadDuplicates = new Set<string>();
  /** Every neighbour announcement sent: namespace path, interface, entries. */
  readonly announcements: { netnsPath: string; ifindex: number; sourceMac: string; entries: NeighbourAnnouncement[] }[] = [];
  private nextMac = 1;

  constructor() {
    this.namespaces.set('host', new FakeNs('host', this.nextInode++));
  }

  /** Count a step and fail it if it is the one chosen. */
  private step(what: string): void {
    this.steps.push(what);
    if (this.faultAt === this.steps.length) {
      this.faultAt = undefined;
      this.faulted = what;
      throw new KernelError(what, `${INJECTED} at step ${this.steps.length} (EIO)`, { errno: EIO });
    }
  }

  private ns(key: string, op: string): FakeNs {
    const n = this.namespaces.get(key);
    if (!n) throw new KernelError(op, `no network namespace at ${key}: No such file or directory (ENOENT)`, { errno: ENOENT });
    return n;
  }

  /** What a container runtime does after Join: move a link into another namespace under a new name. */
  moveLink(fromNs: string, name: string, toNs: string, newName: string): void {
    const from = this.ns(fromNs, 'link move');
    const to = this.ns(toNs, 'link move');
    const l = from.byName(name);
    if (!l) throw new KernelError('link move', `${name}: No such device (ENODEV)`, { errno: ENODEV });
    from.links.delete(l.index);
    l.name = newName;
    to.links.set(l.index, l);
    if (l.peer) {
      const p = this.namespaces.get(l.peer.ns)?.links.get(l.peer.index);
      if (p?.peer) p.peer = { ns: toNs, index: l.index };
    }
  }

  /** Make a namespace weft did not create (a container's), at path. */
  addExternalNetns(path: string): void {
    this.namespaces.set(path, new FakeNs(path, this.nextInode++));
  }

  host(): NetlinkPort {
    return new FakeNetlink(this, 'host');
  }

  async inNetns(path: string): Promise<NetlinkPort> {
    this.step(`netns open ${path}`);
    this.ns(path, 'netns open');
    return new FakeNetlink(this, path);
  }

  async netnsFd(path: string): Promise<number> {
    this.step(`netns fd ${path}`);
    this.ns(path, 'netns open');
    for (const [fd, p] of this.fds) if (p === path) return fd;
    const fd = this.nextFd++;
    this.fds.set(fd, path);
    return fd;
  }

  forget(path: string): void {
    for (const [fd, p] of this.fds) if (p === path) this.fds.delete(fd);
  }

  async createNetns(path: string): Promise<void> {
    this.step(`netns add ${path}`);
    if (this.namespaces.has(path)) throw new KernelError('netns add', `${path} exists (EEXIST)`, { errno: EEXIST });
    this.namespaces.set(path, new FakeNs(path, this.nextInode++));
  }

  async deleteNetns(path: string): Promise<void> {
    this.step(`netns del ${path}`);
    const n = this.ns(path, 'netns del');
    // The namespace's veths die with it, and so do their other ends.
    for (const l of [...n.links.values()]) this.removeLink(n, l);
    this.namespaces.delete(path);
    this.forget(path);
  }

  netnsInode(path: string): number | undefined {
    return this.namespaces.get(path)?.inode;
  }

  /** The fake has no sockets: what needs them (overlay's embedded DNS) is tested in namespaces. */
  async bindInNetns(path: string, address: string, port: number): Promise<BoundSockets> {
    this.step(`bind ${address}:${port} in ${path}`);
    this.ns(path, 'bind in netns');
    throw new KernelError('bind in netns', 'the fake kernel makes no sockets');
  }

  async setSysctl(netnsPath: string | undefined, key: string, value: string): Promise<void> {
    this.step(`sysctl ${key}=${value}`);
    this.ns(netnsPath ?? 'host', 'sysctl').sysctls.set(key, value);
  }

  async readSysctl(netnsPath: string | undefined, key: string): Promise<string> {
    this.step(`sysctl read ${key}`);
    const n = this.ns(netnsPath ?? 'host', 'sysctl');
    // Defaults the drivers read: IPv6 is on unless disabled.
    return n.sysctls.get(key) ?? (key.endsWith('.disable_ipv6') ? '0' : '1');
  }

  processStartTime(pid: number): string | undefined {
    return this.processes.get(pid);
  }

  isAlive(pid: number, startTime?: string): boolean {
    const s = this.processes.get(pid);
    return s !== undefined && (startTime === undefined || s === startTime);
  }

  async requireLinkKind(kind: OptionalLinkKind): Promise<void> {
    this.step(`link kind ${kind}`);
    if (this.lacking.has(kind)) throw new KernelUnsupportedError(kind, `this (fake) kernel has no ${kind} support`);
  }

  async arpProbe(o: ArpProbeOptions): Promise<string | undefined> {
    this.step(`arp probe ${o.address}`);
    const l = this.ns('host', 'arp probe').links.get(o.ifindex);
    if (!l?.up) throw new KernelError('arp probe', `interface ${o.ifindex} is not up (ENETDOWN)`, { errno: 100 });
    return this.lanHolders.get(o.address);
  }

  async announceNeighbours(netnsPath: string, ifindex: number, sourceMac: string, entries: NeighbourAnnouncement[]): Promise<void> {
    if (entries.length === 0) return;
    this.step(`announce ${entries.map((e) => e.ip).join(',')}`);
    const l = this.ns(netnsPath, 'announce').links.get(ifindex);
    if (!l?.up) throw new KernelError('announce', `interface ${ifindex} is not up (ENETDOWN)`, { errno: 100 });
    this.announcements.push({ netnsPath, ifindex, sourceMac, entries });
  }

  async waitForDad(netnsPath: string, index: number, cidr: string): Promise<'ok' | 'duplicate'> {
    this.step(`dad ${cidr}`);
    if (!this.ns(netnsPath, 'dad').addresses.some((a) => a.index === index && a.cidr === cidr)) return 'duplicate';
    return this.dadDuplicates.has(cidr) ? 'duplicate' : 'ok';
  }

  /** @internal A locally administered MAC the fake hands to links made without one. */
  freshMac(): string {
    const n = this.nextMac++;
    return `02:fa:ce:00:${((n >> 8) & 0xff).toString(16).padStart(2, '0')}:${(n & 0xff).toString(16).padStart(2, '0')}`;
  }

  /** @internal Links whose parent is `l` (macvlan/ipvlan/vlan children), in every namespace. */
  childrenOf(ns: string, index: number): { n: FakeNs; l: FakeLink }[] {
    const out: { n: FakeNs; l: FakeLink }[] = [];
    for (const n of this.namespaces.values())
      for (const l of n.links.values()) if (l.lower?.ns === ns && l.lower.index === index) out.push({ n, l });
    return out;
  }

  async stopProcess(pid: number, startTime: string | undefined, _graceMs: number): Promise<StopOutcome> {
    this.step(`kill ${pid}`);
    if (!this.isAlive(pid, startTime)) return 'not-running';
    this.processes.delete(pid);
    return 'exited';
  }

  async netnsIdentity(path: string): Promise<NetnsIdentity> {
    await this.netnsFd(path);
    return { dev: 4, ino: this.ns(path, 'netns open').inode };
  }

  hostNetns(): { what: string; id: NetnsIdentity }[] {
    return [{ what: "weftd's own network namespace (the host's)", id: { dev: 4, ino: this.ns('host', 'netns').inode } }];
  }

  hostSockets(): HostSocket[] {
    return [...this.hostSocketList];
  }

  socketOwner(inode: number): string | undefined {
    return this.socketOwners.get(inode);
  }

  /** @internal used by FakeNetlink */
  call(what: string): void {
    this.step(what);
  }

  /** @internal */
  nsOf(key: string): FakeNs {
    return this.ns(key, 'netlink');
  }

  /** @internal */
  newIndex(): number {
    return this.nextIndex++;
  }

  /** @internal */
  fdNs(fd: number): string {
    const p = this.fds.get(fd);
    if (p === undefined) throw new KernelError('netns fd', `bad fd ${fd} (EBADF)`, { errno: 9 });
    return p;
  }

  /** @internal Delete a link with what the kernel deletes with it (addresses, routes, its sysctls). */
  removeLink(n: FakeNs, l: FakeLink): void {
    n.links.delete(l.index);
    for (const k of [...n.sysctls.keys()])
      if (k.startsWith(`net.ipv4.conf.${l.name}.`) || k.startsWith(`net.ipv6.conf.${l.name}.`)) n.sysctls.delete(k);
    n.addresses = n.addresses.filter((a) => a.index !== l.index);
    n.routes = n.routes.filter((r) => r.oif !== l.index);
    for (const other of n.links.values()) if (other.master === l.index) delete other.master;
    // A macvlan/ipvlan/vlan dies with its parent, wherever it was moved.
    for (const c of this.childrenOf(n.key, l.index)) if (c.n.links.has(c.l.index)) this.removeLink(c.n, c.l);
    if (l.peer) {
      const pn = this.namespaces.get(l.peer.ns);
      const p = pn?.links.get(l.peer.index);
      if (pn && p) {
        delete p.peer;
        this.removeLink(pn, p);
      }
    }
  }

  /**
   * Everything observable, in a canonical form (no indexes, which a re-created object does not
   * keep): per namespace, links with their master and peer by name, addresses, routes, sysctls.
   */
  snapshot(): unknown {
    const out: Record<string, unknown> = {};
    for (const [key, n] of [...this.namespaces].sort(([a], [b]) => a.localeCompare(b))) {
      const name = (i: number | undefined): string | undefined => (i === undefined ? undefined : n.links.get(i)?.name);
      out[key] = {
        links: [...n.links.values()]
          .map((l) => ({
            name: l.name,
            kind: l.kind,
            mtu: l.mtu,
            mac: l.mac,
            up: l.up,
            master: name(l.master),
            group: l.group,
            alias: l.alias,
            peer: l.peer ? `${l.peer.ns}:${this.namespaces.get(l.peer.ns)?.links.get(l.peer.index)?.name ?? '?'}` : undefined,
            lower: l.lower ? `${l.lower.ns}:${this.namespaces.get(l.lower.ns)?.links.get(l.lower.index)?.name ?? '?'}` : undefined,
            mode: l.mode,
            ipv6AddrGenNone: l.ipv6AddrGenNone,
          }))
          .sort((a, b) => a.name.localeCompare(b.name)),
        addresses: n.addresses.map((a) => `${name(a.index)} ${a.cidr}${a.proto === undefined ? '' : ` proto ${a.proto}`}`).sort(),
        routes: n.routes
          .map((r) => `${r.dst} via ${r.gateway ?? '-'} dev ${name(r.oif) ?? '-'} table ${r.table} proto ${r.protocol}`)
          .sort(),
        sysctls: Object.fromEntries([...n.sysctls].sort()),
      };
    }
    return out;
  }
}

const familyOf = (cidr: string): 4 | 6 => (cidr.includes(':') ? 6 : 4);

class FakeNetlink implements NetlinkPort {
  constructor(
    private readonly k: FakeKernel,
    private readonly key: string,
  ) {}

  private get n(): FakeNs {
    return this.k.nsOf(this.key);
  }

  private info(l: FakeLink): LinkInfo {
    return {
      index: l.index,
      name: l.name,
      flags: l.up ? 1 : 0,
      up: l.up,
      mtu: l.mtu,
      kind: l.kind,
      ...(l.mac === undefined ? {} : { mac: l.mac }),
      ...(l.master === undefined ? {} : { master: l.master }),
      ...(l.kind === 'macvlan' && l.mode ? { macvlanMode: l.mode as LinkInfo['macvlanMode'] } : {}),
      ...(l.kind === 'ipvlan' && l.mode ? { ipvlanMode: l.mode as LinkInfo['ipvlanMode'] } : {}),
      ...(l.group === undefined ? {} : { group: l.group }),
      ...(l.alias === undefined ? {} : { alias: l.alias }),
    };
  }

  private find(ref: string | number): FakeLink | undefined {
    return typeof ref === 'number' ? this.n.links.get(ref) : this.n.byName(ref);
  }

  private must(ref: string | number, op: string): FakeLink {
    const l = this.find(ref);
    if (!l) throw new KernelError(op, `${String(ref)}: No such device (ENODEV)`, { errno: ENODEV });
    return l;
  }

  private fresh(ns: FakeNs, name: string, op: string): void {
    if (ns.byName(name)) throw new KernelError(op, `${name}: File exists (EEXIST)`, { errno: EEXIST });
  }

  links(): LinkInfo[] {
    this.k.call(`link dump ${this.key}`);
    return [...this.n.links.values()].map((l) => this.info(l));
  }

  link(ref: string | number): LinkInfo | undefined {
    this.k.call(`link get ${String(ref)}`);
    const l = this.find(ref);
    return l && this.info(l);
  }

  createBridge(o: CreateBridgeOpts): LinkInfo {
    this.k.call(`link add bridge ${o.name}`);
    this.fresh(this.n, o.name, 'link add bridge');
    const l: FakeLink = {
      index: this.k.newIndex(),
      name: o.name,
      kind: 'bridge',
      mtu: o.mtu ?? 1500,
      up: o.up ?? false,
      ...(o.mac ? { mac: o.mac } : {}),
      ...(o.linkGroup === undefined ? {} : { group: o.linkGroup }),
    };
    this.n.links.set(l.index, l);
    return this.info(l);
  }

  createVeth(o: CreateVethOpts): LinkInfo {
    this.k.call(`link add veth ${o.name}`);
    const here = this.n;
    const peerKey = o.peerNetnsFd === undefined ? this.key : this.k.fdNs(o.peerNetnsFd);
    const there = this.k.nsOf(peerKey);
    this.fresh(here, o.name, 'link add veth');
    this.fresh(there, o.peerName, 'link add veth');
    if (o.master !== undefined) this.must(o.master, 'link add veth');
    const a: FakeLink = { index: this.k.newIndex(), name: o.name, kind: 'veth', mtu: o.mtu ?? 1500, up: o.up ?? false };
    const b: FakeLink = { index: this.k.newIndex(), name: o.peerName, kind: 'veth', mtu: o.mtu ?? 1500, up: false };
    if (o.mac) a.mac = o.mac;
    if (o.peerMac) b.mac = o.peerMac;
    if (o.master !== undefined) a.master = o.master;
    if (o.linkGroup !== undefined) a.group = o.linkGroup;
    a.peer = { ns: peerKey, index: b.index };
    b.peer = { ns: this.key, index: a.index };
    here.links.set(a.index, a);
    there.links.set(b.index, b);
    return this.info(a);
  }

  createVxlan(): LinkInfo | undefined {
    throw new KernelError('link add vxlan', 'not modelled by the fake kernel');
  }

  /** A child of `parent` here, made in the namespace behind netnsFd (or here). */
  private child(kind: 'macvlan' | 'ipvlan', o: CreateMacvlanOpts | CreateIpvlanOpts, mode: string, mac?: string): LinkInfo | undefined {
    const op = `link add ${kind}`;
    const parent = this.must(o.parent, op);
    const key = o.netnsFd === undefined ? this.key : this.k.fdNs(o.netnsFd);
    const there = this.k.nsOf(key);
    this.fresh(there, o.name, op);
    const siblings = this.k.childrenOf(this.key, parent.index);
    // The kernel's rules the drivers rely on: passthru takes the parent whole, and its MAC.
    if (kind === 'macvlan' && (parent.mode === 'passthru' || siblings.some((c) => c.l.mode === 'passthru')))
      throw new KernelError(op, `${o.name}: Invalid argument (EINVAL)`, { errno: EINVAL });
    if (kind === 'macvlan' && mode === 'passthru' && siblings.length > 0)
      throw new KernelError(op, `${o.name}: Invalid argument (EINVAL)`, { errno: EINVAL });
    const l: FakeLink = {
      index: this.k.newIndex(),
      name: o.name,
      kind,
      mtu: o.mtu ?? parent.mtu,
      up: o.up ?? false,
      mac: kind === 'ipvlan' || mode === 'passthru' ? parent.mac : (mac ?? this.k.freshMac()),
      lower: { ns: this.key, index: parent.index },
      mode,
    };
    there.links.set(l.index, l);
    return o.netnsFd === undefined ? this.info(l) : undefined;
  }

  createMacvlan(o: CreateMacvlanOpts): LinkInfo | undefined {
    this.k.call(`link add macvlan ${o.name}`);
    return this.child('macvlan', o, o.mode ?? 'bridge', o.mac);
  }

  createIpvlan(o: CreateIpvlanOpts): LinkInfo | undefined {
    this.k.call(`link add ipvlan ${o.name}`);
    if (this.k.lacking.has('ipvlan')) throw new KernelUnsupportedError('ipvlan', 'this (fake) kernel has no ipvlan support');
    return this.child('ipvlan', o, o.mode ?? 'l2');
  }

  createVlan(o: CreateVlanOpts): LinkInfo {
    this.k.call(`link add vlan ${o.name}`);
    if (this.k.lacking.has('vlan')) throw new KernelUnsupportedError('802.1q VLAN', 'this (fake) kernel has no 802.1q VLAN support');
    const base = this.must(o.parent, 'link add vlan');
    this.fresh(this.n, o.name, 'link add vlan');
    const l: FakeLink = {
      index: this.k.newIndex(),
      name: o.name,
      kind: 'vlan',
      mtu: o.mtu ?? base.mtu,
      up: o.up ?? false,
      ...(base.mac ? { mac: base.mac } : {}),
      lower: { ns: this.key, index: base.index },
    };
    this.n.links.set(l.index, l);
    return this.info(l);
  }

  setLink(index: number, change: LinkChange): void {
    this.k.call(`link set ${index} ${JSON.stringify(change)}`);
    const l = this.must(index, 'link set');
    if (change.netnsFd !== undefined) throw new KernelError('link set netns', 'not modelled by the fake kernel');
    if (change.master === 0) delete l.master;
    else if (change.master !== undefined) {
      this.must(change.master, 'link set master');
      l.master = change.master;
    }
    if (change.up !== undefined) l.up = change.up;
    if (change.mac !== undefined) l.mac = change.mac;
    if (change.mtu !== undefined) l.mtu = change.mtu;
    if (change.ipv6AddrGenNone !== undefined) l.ipv6AddrGenNone = change.ipv6AddrGenNone;
    if (change.linkGroup !== undefined) l.group = change.linkGroup;
    if (change.alias === '') delete l.alias;
    else if (change.alias !== undefined) l.alias = change.alias;
    if (change.name !== undefined) {
      this.fresh(this.n, change.name, 'link set name');
      l.name = change.name;
    }
  }

  deleteLink(ref: string | number, o: { ignoreMissing?: boolean } = {}): boolean {
    this.k.call(`link del ${String(ref)}`);
    const l = this.find(ref);
    if (!l) {
      if (o.ignoreMissing) return false;
      throw new KernelError('link del', `${String(ref)}: No such device (ENODEV)`, { errno: ENODEV });
    }
    this.k.removeLink(this.n, l);
    return true;
  }

  addresses(index?: number, family?: 4 | 6): AddressInfo[] {
    this.k.call(`addr dump ${this.key}`);
    return this.n.addresses
      .filter((a) => (index === undefined || a.index === index) && (family === undefined || familyOf(a.cidr) === family))
      .map((a) => ({
        index: a.index,
        family: familyOf(a.cidr),
        cidr: a.cidr,
        scope: 0,
        flags: 0,
        ...(a.proto === undefined ? {} : { proto: a.proto }),
      }));
  }

  addAddress(index: number, cidr: string, o: AddAddressOpts = {}): void {
    this.k.call(`addr add ${cidr} dev ${index}`);
    this.must(index, 'addr add');
    if (this.n.addresses.some((a) => a.index === index && a.cidr === cidr))
      throw new KernelError('addr add', `${cidr}: File exists (EEXIST)`, { errno: EEXIST });
    this.n.addresses.push({ index, cidr, ...(o.proto === undefined ? {} : { proto: o.proto }) });
  }

  deleteAddress(index: number, cidr: string, o: { ignoreMissing?: boolean } = {}): boolean {
    this.k.call(`addr del ${cidr} dev ${index}`);
    const before = this.n.addresses.length;
    this.n.addresses = this.n.addresses.filter((a) => !(a.index === index && a.cidr === cidr));
    if (before === this.n.addresses.length && !o.ignoreMissing)
      throw new KernelError('addr del', `${cidr}: (EADDRNOTAVAIL)`, { errno: 99 });
    return before !== this.n.addresses.length;
  }

  routes(family?: 4 | 6, table?: number): RouteInfo[] {
    this.k.call(`route dump ${this.key}`);
    return this.n.routes
      .filter((r) => (family === undefined || familyOf(r.dst) === family) && (table === undefined || r.table === table))
      .map((r) => ({
        family: familyOf(r.dst),
        dst: r.dst,
        table: r.table,
        protocol: r.protocol,
        scope: 0,
        type: 1,
        ...(r.gateway ? { gateway: r.gateway } : {}),
        ...(r.oif === undefined ? {} : { oif: r.oif }),
      }));
  }

  addRoute(r: RouteSpec, o: { replace?: boolean } = {}): void {
    this.k.call(`route add ${r.dst}`);
    if (r.oif !== undefined) this.must(r.oif, 'route add');
    const table = r.table ?? 254;
    const same = this.n.routes.findIndex((x) => x.dst === r.dst && x.table === table);
    if (same >= 0 && !o.replace) throw new KernelError('route add', `${r.dst}: File exists (EEXIST)`, { errno: EEXIST });
    if (same >= 0) this.n.routes.splice(same, 1);
    // RTPROT_BOOT (3) unless the route names who added it, as the kernel does.
    this.n.routes.push({
      dst: r.dst,
      table,
      protocol: r.protocol ?? 3,
      ...(r.gateway ? { gateway: r.gateway } : {}),
      ...(r.oif === undefined ? {} : { oif: r.oif }),
    });
  }

  deleteRoute(r: RouteSpec, o: { ignoreMissing?: boolean } = {}): boolean {
    this.k.call(`route del ${r.dst}`);
    const before = this.n.routes.length;
    this.n.routes = this.n.routes.filter((x) => !(x.dst === r.dst && x.table === (r.table ?? 254)));
    if (before === this.n.routes.length && !o.ignoreMissing) throw new KernelError('route del', `${r.dst}: (ESRCH)`, { errno: 3 });
    return before !== this.n.routes.length;
  }

  neighbours(): never {
    throw new KernelError('neigh dump', 'not modelled by the fake kernel');
  }

  addNeighbour(): void {
    throw new KernelError('neigh add', 'not modelled by the fake kernel');
  }

  deleteNeighbour(): boolean {
    throw new KernelError('neigh del', 'not modelled by the fake kernel');
  }

  async subscribe(): Promise<RtnlSubscription> {
    return { close: () => undefined };
  }
}
