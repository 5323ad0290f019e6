/**
 * `Rtnl`: rtnetlink on a raw NETLINK_ROUTE socket bound to one network namespace. Every call
 * is synchronous — rtnetlink answers in the same system call round trip, so a request costs
 * a few microseconds of blocking and no event-loop hop. A receive timeout (2 s) guarantees
 * nothing hangs if the kernel never answers.
 */
import { KernelError, TimeoutError } from '../../errors.js';
import { libc, type Libc } from '../libc.js';
import { netnsCall, openNetnsFd } from '../netns.js';
import { buildAddAddress, buildDeleteAddress, buildDumpAddresses, parseAddress, type AddAddressOpts } from './addr-msg.js';
import { NlBuilder, parseDoneError, parseError, parseMessages, type NlMsg } from './codec.js';
import * as C from './constants.js';
import { decodeEvent, GROUP_NUMBERS, type RtnlGroup } from './events.js';
import { translateLinkKindError } from '../link-kind-errors.js';
import {
  buildCreateBridge,
  buildCreateIpvlan,
  buildCreateMacvlan,
  buildCreateVeth,
  buildCreateVlan,
  buildCreateVxlan,
  buildDeleteLink,
  buildDumpLinks,
  buildGetLink,
  buildSetLink,
  parseLink,
} from './link-msg.js';
import { buildAddNeighbour, buildDeleteNeighbour, buildDumpNeighbours, parseNeighbour, type AddNeighbourOpts } from './neigh-msg.js';
import { netlinkError } from './netlink-error.js';
import { listenNetlink } from './subscription.js';
import { buildAddRoute, buildDeleteRoute, buildDumpRoutes, parseRoute } from './route-msg.js';
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
} from './types.js';
import type { NetlinkPort } from '../kernel-port.js';

const RECV_SIZE = 64 * 1024;
/**
 * One receive buffer and one request builder for every handle (subscriptions share theirs in
 * subscription.ts): an exchange runs start to end without yielding (send, recv, parse into
 * plain objects), so none is ever used by two at once. Per handle they cost 68 KiB of address
 * space each, for every sandbox weft watches.
 */
const SHARED_RBUF = Buffer.allocUnsafe(RECV_SIZE);
const SHARED_BUILDER = new NlBuilder();
const RCV_TIMEOUT_S = 2;
const EINTR = 4;
const EAGAIN = 11;
const ENOENT = 2;
const ESRCH = 3;
const ENODEV = 19;
const EADDRNOTAVAIL = 99;
/** Dumps interrupted by a concurrent change (NLM_F_DUMP_INTR) are retried this often. */
const DUMP_RETRIES = 5;

export interface IgnoreMissing {
  /** Treat "already gone" as success (returns false instead of throwing). */
  ignoreMissing?: boolean;
}

/** A live event subscription; `close()` stops it and releases the socket. */
export interface RtnlSubscription {
  close(): void;
}

export interface SubscribeOpts {
  /** Keep the process alive while subscribed (default false: drift watching is a side job). */
  ref?: boolean;
}

function setIntOpt(c: Libc, fd: number, level: number, name: number, v: number): boolean {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return c.setsockopt(fd, level, name, b, 4) === 0;
}

/** Options every weft netlink socket gets: timeout, extended acks, small acks, strict dumps. */
function configureSocket(c: Libc, fd: number): void {
  const tv = Buffer.alloc(16); // struct timeval { time_t sec; suseconds_t usec } on 64-bit
  tv.writeBigInt64LE(BigInt(RCV_TIMEOUT_S), 0);
  c.setsockopt(fd, C.SOL_SOCKET, C.SO_RCVTIMEO, tv, 16);
  setIntOpt(c, fd, C.SOL_NETLINK, C.NETLINK_EXT_ACK, 1);
  // Acks without a copy of the request: keeps error replies small.
  setIntOpt(c, fd, C.SOL_NETLINK, C.NETLINK_CAP_ACK, 1);
  // Lets the kernel filter dumps by index/table; results are still filtered here too.
  setIntOpt(c, fd, C.SOL_NETLINK, C.NETLINK_GET_STRICT_CHK, 1);
}

function newRouteSocket(c: Libc, nonblock: boolean): number {
  const fd = c.socket(C.AF_NETLINK, C.SOCK_RAW | C.SOCK_CLOEXEC | (nonblock ? C.SOCK_NONBLOCK : 0), C.NETLINK_ROUTE);
  if (fd < 0) throw new KernelError('netlink socket', c.lastError(), { errno: c.errno() });
  return fd;
}

/** Create a NETLINK_ROUTE socket in the calling thread's namespace (used by the netns worker). */
export function routeSocketHere(nonblock = false): number {
  return newRouteSocket(libc(), nonblock);
}

type Mode = 'ack' | 'get' | 'dump';

/** rtnetlink in one namespace over a raw AF_NETLINK socket (the real NetlinkPort). */
export class Rtnl implements NetlinkPort {
  private static cur: Rtnl | undefined;

  private readonly c: Libc = libc();
  private readonly b = SHARED_BUILDER;
  private readonly rbuf = SHARED_RBUF;
  private seq = (Date.now() & 0xffff) << 8;
  private closed = false;

  private constructor(
    /** The netlink socket. */
    readonly fd: number,
    /** Where the socket lives, for messages: a path, "fd N", or undefined for the process's own. */
    readonly netnsPath: string | undefined,
    /** fd of the namespace (more sockets are made from it), if not the process's own. */
    readonly netnsFd: number | undefined,
    private readonly ownsNetnsFd: boolean,
  ) {
    configureSocket(this.c, fd);
  }

  /** rtnetlink in the calling process's own namespace (one shared handle). */
  static current(): Rtnl {
    if (!Rtnl.cur || Rtnl.cur.closed) Rtnl.cur = new Rtnl(newRouteSocket(libc(), false), undefined, undefined, false);
    return Rtnl.cur;
  }

  /**
   * rtnetlink in the namespace at `netnsPath`. The socket is created on the netns worker
   * thread (setns, socket, setns back); a socket stays in the namespace it was made in.
   */
  static async open(netnsPath: string): Promise<Rtnl> {
    const nsFd = openNetnsFd(netnsPath);
    try {
      const fd = await netnsCall<number>({ op: 'socket', nsFd, nonblock: false });
      return new Rtnl(fd, netnsPath, nsFd, true);
    } catch (err) {
      libc().close(nsFd);
      throw err;
    }
  }

  /** rtnetlink in the namespace behind `nsFd` (the fd stays the caller's); `label` names it in errors. */
  static async inNetnsFd(nsFd: number, label = `fd ${nsFd}`): Promise<Rtnl> {
    const fd = await netnsCall<number>({ op: 'socket', nsFd, nonblock: false });
    return new Rtnl(fd, label, nsFd, false);
  }

  /** Wrap a NETLINK_ROUTE socket made in the calling thread's namespace (takes ownership). */
  static adopt(fd: number, label?: string): Rtnl {
    return new Rtnl(fd, label, undefined, false);
  }

  /** Close the socket (and the namespace fd this handle owns). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.c.close(this.fd);
    if (this.ownsNetnsFd && this.netnsFd !== undefined) this.c.close(this.netnsFd);
    if (Rtnl.cur === this) Rtnl.cur = undefined;
  }

  private where(op: string): string {
    return this.netnsPath === undefined ? op : `${op} in netns ${this.netnsPath}`;
  }

  /**
   * Send the request `build` writes and read its answer. Returns false when the kernel
   * answered with one of the `missing` errnos; throws a KernelError for any other error.
   */
  private exchange(
    op: string,
    mode: Mode,
    build: (b: NlBuilder) => void,
    onMsg?: (m: NlMsg) => void,
    missing?: readonly number[],
  ): boolean {
    if (this.closed) throw new KernelError(this.where(op), 'netlink handle is closed');
    build(this.b);
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const req = this.b.finish(seq);
    const c = this.c;
    for (;;) {
      const n = c.send(this.fd, req, req.length, 0);
      if (n >= 0) break;
      if (c.errno() !== EINTR) throw new KernelError(this.where(op), `send: ${c.lastError()}`, { errno: c.errno() });
    }
    let interrupted = false;
    for (;;) {
      const n = c.recv(this.fd, this.rbuf, RECV_SIZE, C.MSG_TRUNC);
      if (n < 0) {
        const e = c.errno();
        if (e === EINTR) continue;
        if (e === EAGAIN) throw new TimeoutError(this.where(op), RCV_TIMEOUT_S * 1000);
        throw new KernelError(this.where(op), `recv: ${c.lastError()}`, { errno: e });
      }
      if (n > RECV_SIZE) throw new KernelError(this.where(op), `reply of ${n} bytes truncated`);
      for (const m of parseMessages(this.rbuf, n)) {
        // Replies to an earlier request that timed out carry an older seq: skip them.
        if (m.seq !== seq) continue;
        if (m.type === C.NLMSG_ERROR) {
          const e = parseError(m);
          if (e.errno === 0) return true;
          if (missing?.includes(e.errno)) return false;
          throw netlinkError(this.where(op), e, (n) => c.strerror(n));
        }
        if (m.type === C.NLMSG_DONE) {
          const e = parseDoneError(m);
          if (e) {
            if (missing?.includes(e.errno)) return false;
            throw netlinkError(this.where(op), e, (n) => c.strerror(n));
          }
          if (interrupted) throw new DumpInterrupted();
          return true;
        }
        if (m.flags & C.NLM_F_DUMP_INTR) interrupted = true;
        onMsg?.(m);
        if (mode === 'get') return true;
      }
    }
  }

  /** Run a dump, decoding each message; restarts if the kernel flags it as inconsistent. */
  private dump<T>(op: string, build: (b: NlBuilder) => void, parse: (m: NlMsg) => T | undefined): T[] {
    for (let attempt = 0; ; attempt++) {
      const out: T[] = [];
      try {
        this.exchange(op, 'dump', build, (m) => {
          const v = parse(m);
          if (v !== undefined) out.push(v);
        });
        return out;
      } catch (err) {
        if (!(err instanceof DumpInterrupted) || attempt >= DUMP_RETRIES) {
          if (err instanceof DumpInterrupted) throw new KernelError(this.where(op), 'dump kept changing underneath');
          throw err;
        }
      }
    }
  }

  // ---- links ----

  /** All links of the namespace. */
  links(): LinkInfo[] {
    return this.dump('link dump', buildDumpLinks, (m) => (m.type === C.RTM_NEWLINK ? parseLink(m) : undefined));
  }

  /** One link by name or index; undefined if there is none. */
  link(ref: string | number): LinkInfo | undefined {
    if (typeof ref === 'number' && ref <= 0) return undefined;
    let found: LinkInfo | undefined;
    this.exchange(
      `link get ${ref}`,
      'get',
      (b) => buildGetLink(b, ref),
      (m) => {
        if (m.type === C.RTM_NEWLINK) found = parseLink(m);
      },
      [ENODEV],
    );
    return found;
  }

  private mustLink(ref: string, op: string): LinkInfo {
    const l = this.link(ref);
    if (!l) throw new KernelError(this.where(op), `${ref} vanished right after creation`);
    return l;
  }

  createBridge(o: CreateBridgeOpts): LinkInfo {
    const op = `link add bridge ${o.name}`;
    this.exchange(op, 'ack', (b) => buildCreateBridge(b, o));
    return this.mustLink(o.name, op);
  }

  /**
   * A veth pair in one request: the peer is born in its target namespace with its final
   * name and MAC; the local end is enslaved and brought up by the same request.
   */
  createVeth(o: CreateVethOpts): LinkInfo {
    const op = `link add veth ${o.name}`;
    this.exchange(op, 'ack', (b) => buildCreateVeth(b, o));
    let l = this.mustLink(o.name, op);
    // Kernels that ignore IFLA_MASTER/IFF_UP at creation get a follow-up change.
    const fix: LinkChange = {};
    if (o.master !== undefined && l.master !== o.master) fix.master = o.master;
    if (o.up !== undefined && l.up !== o.up) fix.up = o.up;
    if (Object.keys(fix).length) {
      this.setLink(l.index, fix);
      l = this.mustLink(o.name, op);
    }
    return l;
  }

  /** A vxlan device; with `netnsFd` it is created in that namespace (returns undefined then). */
  createVxlan(o: CreateVxlanOpts): LinkInfo | undefined {
    const op = `link add vxlan ${o.name}`;
    this.exchange(op, 'ack', (b) => buildCreateVxlan(b, o));
    return o.netnsFd === undefined ? this.mustLink(o.name, op) : undefined;
  }

  /** A macvlan on `parent`; with `netnsFd` it is created in that namespace (returns undefined then). */
  createMacvlan(o: CreateMacvlanOpts): LinkInfo | undefined {
    const op = `link add macvlan ${o.name}`;
    this.exchange(op, 'ack', (b) => buildCreateMacvlan(b, o));
    return o.netnsFd === undefined ? this.mustLink(o.name, op) : undefined;
  }

  /** An ipvlan on `parent`; with `netnsFd` it is created in that namespace (returns undefined then). */
  createIpvlan(o: CreateIpvlanOpts): LinkInfo | undefined {
    const op = `link add ipvlan ${o.name}`;
    try {
      this.exchange(op, 'ack', (b) => buildCreateIpvlan(b, o));
    } catch (err) {
      throw translateLinkKindError('ipvlan', err);
    }
    return o.netnsFd === undefined ? this.mustLink(o.name, op) : undefined;
  }

  /** An 802.1q VLAN sub-interface of `parent`. */
  createVlan(o: CreateVlanOpts): LinkInfo {
    const op = `link add vlan ${o.name}`;
    try {
      this.exchange(op, 'ack', (b) => buildCreateVlan(b, o));
    } catch (err) {
      throw translateLinkKindError('vlan', err);
    }
    return this.mustLink(o.name, op);
  }

  setLink(index: number, change: LinkChange): void {
    this.exchange(`link set ${index}`, 'ack', (b) => buildSetLink(b, index, change));
  }

  /** Delete a link; with ignoreMissing an absent one is fine. Returns whether it existed. */
  deleteLink(ref: string | number, o: IgnoreMissing = {}): boolean {
    return this.exchange(`link del ${ref}`, 'ack', (b) => buildDeleteLink(b, ref), undefined, o.ignoreMissing ? [ENODEV] : undefined);
  }

  // ---- addresses ----

  addresses(index?: number, family?: 4 | 6): AddressInfo[] {
    return this.dump(
      'addr dump',
      (b) => buildDumpAddresses(b, family, index),
      (m) => {
        if (m.type !== C.RTM_NEWADDR) return undefined;
        const a = parseAddress(m);
        return a && (index === undefined || a.index === index) && (family === undefined || a.family === family) ? a : undefined;
      },
    );
  }

  /** Add `cidr` ("10.1.0.2/24") to a link; IPv4 also gets its broadcast address. */
  addAddress(index: number, cidr: string, o: AddAddressOpts = {}): void {
    this.exchange(`addr add ${cidr} dev ${index}`, 'ack', (b) => buildAddAddress(b, index, cidr, o));
  }

  deleteAddress(index: number, cidr: string, o: IgnoreMissing = {}): boolean {
    const missing = o.ignoreMissing ? [EADDRNOTAVAIL, ENODEV] : undefined;
    return this.exchange(`addr del ${cidr} dev ${index}`, 'ack', (b) => buildDeleteAddress(b, index, cidr), undefined, missing);
  }

  // ---- routes ----

  /** Routes of a family (both if omitted), of one table or of all tables. */
  routes(family?: 4 | 6, table?: number): RouteInfo[] {
    return this.dump(
      'route dump',
      (b) => buildDumpRoutes(b, family, table),
      (m) => {
        if (m.type !== C.RTM_NEWROUTE) return undefined;
        const r = parseRoute(m);
        return r && (family === undefined || r.family === family) && (table === undefined || r.table === table) ? r : undefined;
      },
    );
  }

  addRoute(r: RouteSpec, o: { replace?: boolean } = {}): void {
    const op = `route ${o.replace ? 'replace' : 'add'} ${describeRoute(r)}`;
    this.exchange(op, 'ack', (b) => buildAddRoute(b, r, o.replace));
  }

  deleteRoute(r: RouteSpec, o: IgnoreMissing = {}): boolean {
    const missing = o.ignoreMissing ? [ESRCH, ENODEV] : undefined;
    return this.exchange(`route del ${describeRoute(r)}`, 'ack', (b) => buildDeleteRoute(b, r), undefined, missing);
  }

  // ---- neighbours and FDB ----

  /** ARP (4), NDP (6) or bridge/vxlan FDB (7) entries, optionally of one link. */
  neighbours(family: 4 | 6 | 7, index?: number): NeighInfo[] {
    return this.dump(
      'neigh dump',
      (b) => buildDumpNeighbours(b, family, index),
      (m) => {
        if (m.type !== C.RTM_NEWNEIGH) return undefined;
        const n = parseNeighbour(m);
        return n && n.family === family && (index === undefined || n.index === index) ? n : undefined;
      },
    );
  }

  addNeighbour(n: NeighSpec, o: AddNeighbourOpts = {}): void {
    this.exchange(`neigh add ${n.dst ?? n.lladdr ?? ''} dev ${n.index}`, 'ack', (b) => buildAddNeighbour(b, n, o));
  }

  deleteNeighbour(n: NeighSpec, o: IgnoreMissing = {}): boolean {
    const missing = o.ignoreMissing ? [ENOENT, ENODEV] : undefined;
    return this.exchange(
      `neigh del ${n.dst ?? n.lladdr ?? ''} dev ${n.index}`,
      'ack',
      (b) => buildDeleteNeighbour(b, n),
      undefined,
      missing,
    );
  }

  // ---- events ----

  /**
   * Watch link/address/route/neighbour changes of this namespace. A separate non-blocking
   * socket is polled by libuv (koffi's uv_poll wrapper), so events arrive on the event loop
   * with no timer and no blocking. Lost events (socket overrun) are reported as `overrun`.
   */
  async subscribe(groups: readonly RtnlGroup[], onEvent: (e: RtnlEvent) => void, o: SubscribeOpts = {}): Promise<RtnlSubscription> {
    const c = this.c;
    if (this.closed) throw new KernelError(this.where('subscribe'), 'netlink handle is closed');
    const joins = groups.map((g) => {
      const id = GROUP_NUMBERS[g];
      if (id === undefined) throw new KernelError(this.where(`netlink join ${g}`), 'unknown multicast group');
      return { name: g, id };
    });
    const fd =
      this.netnsFd === undefined ? newRouteSocket(c, true) : await netnsCall<number>({ op: 'socket', nsFd: this.netnsFd, nonblock: true });
    return listenNetlink(c, fd, {
      groups: joins,
      where: (op) => this.where(`netlink ${op}`),
      onMessage: (m) => {
        const ev = decodeEvent(m);
        if (ev) onEvent(ev);
      },
      onOverrun: () => onEvent({ type: 'overrun' }),
      // A bigger buffer rides out bursts (many endpoints at once) without overruns.
      rcvbuf: 4 << 20,
      ...(o.ref ? { ref: true } : {}),
    });
  }
}

class DumpInterrupted extends Error {}

function describeRoute(r: RouteSpec): string {
  let s = r.dst;
  if (r.gateway) s += ` via ${r.gateway}`;
  if (r.oif !== undefined) s += ` dev ${r.oif}`;
  if (r.table !== undefined && r.table !== C.RT_TABLE_MAIN) s += ` table ${r.table}`;
  return s;
}
