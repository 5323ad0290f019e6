/**
 * MeshRouter: one mesh peer, running in the network namespace of its process (weftd's host
 * namespace later). It wires the pure parts to sockets: SWIM membership over UDP, control
 * connections over TCP (authenticated handshake, then gossip of membership, topology, ring and
 * names), UDP heartbeats that decide which links carry traffic, and the sleeve between a TUN
 * device and UDP. Everything it knows comes from peers: there is no store.
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { ConflictError, IpamExhaustedError, NotFoundError, WeftError } from '../../errors.js';
import { StaticBox } from '../crypto/ciphers.js';
import { membershipKey, checkPeerName } from '../crypto/handshake.js';
import { derivePsk } from '../crypto/psk.js';
import { MeshNames } from '../dns/mesh-names.js';
import { MeshNetworks, type MeshNetworkRecord, type MeshNetworkSpec } from '../networks/mesh-networks.js';
import { Membership } from '../membership/membership.js';
import type { MemberEvent, Output } from '../membership/types.js';
import { MeshAllocator } from '../ring/allocator.js';
import { Ring } from '../ring/ring.js';
import { numToIp4, parseUniverse } from '../ring/ipv4.js';
import { Topology, forwardTo } from '../topology/topology.js';
import type { ControlMsg } from '../wire/control.js';
import { decodeSwim, KIND_BEAT, KIND_DATA, KIND_SWIM } from '../wire/datagram.js';
import { ConnectionMaker } from './connection-maker.js';
import { ROUTER_DEFAULTS, parseHostPort, type MeshRouterOptions } from './options.js';
import { PeerConnection } from './peer-connection.js';
import { Sleeve } from './sleeve.js';
import type { MeshStatus } from './status.js';
import { TunDevice, configureTun } from '../../kernel/tun.js';
import { UdpSender } from '../../kernel/udp-sender.js';
import { WEFT_LINK_GROUP } from '../../drivers/link-ownership.js';

const EMPTY = Buffer.alloc(0);
const DIAL_DEFER_MS = 3000;

export class MeshRouter extends EventEmitter {
  readonly name: string;
  readonly uid = randomBytes(8).toString('hex');
  readonly advertise: string;
  private readonly o: MeshRouterOptions;
  private readonly cfg: typeof ROUTER_DEFAULTS;
  private psk: Buffer | undefined;
  private swimBox: StaticBox | undefined;
  private tcp: Server | undefined;
  private udp: UdpSocket | undefined;
  /** Sleeve datagrams (data, heartbeats) leave through this batched sender; see udp-sender.ts. */
  private dataTx: UdpSender | undefined;
  private timer: NodeJS.Timeout | undefined;
  readonly membership: Membership;
  readonly topology: Topology;
  readonly ring: Ring;
  readonly alloc: MeshAllocator;
  readonly names: MeshNames;
  /** Network definitions, the same on every peer (gossiped, no store). */
  readonly networks: MeshNetworks;
  readonly sleeve: Sleeve;
  private readonly maker = new ConnectionMaker();
  private readonly seeds = new Set<string>();
  private readonly conns = new Set<PeerConnection>();
  private readonly byPeer = new Map<string, PeerConnection>();
  private readonly byIdx = new Map<number, PeerConnection>();
  private readonly dialing = new Set<string>();
  private readonly refusals: { addr: string; reason: string; at: number }[] = [];
  private readonly conflicts: string[] = [];
  private tun: TunDevice | undefined;
  private tunAddress: string | undefined;
  private tunPending = false;
  private nextBeat = 0;
  private nextGossip = 0;
  private stopped = false;
  readonly counters = {
    swimIn: 0,
    swimOut: 0,
    swimRejected: 0,
    unknownSession: 0,
    swimBytesOut: 0,
    beatBytesOut: 0,
    dataBytesOut: 0,
    /** Control bytes of connections already closed (open ones are added in status()). */
    controlBytesOutClosed: 0,
  };

  constructor(o: MeshRouterOptions) {
    super();
    this.o = o;
    this.name = checkPeerName(o.name);
    parseHostPort(o.listen, 'listen');
    this.advertise = o.advertise ?? o.listen;
    parseHostPort(this.advertise, 'advertise');
    for (const p of o.peers ?? []) this.seeds.add(`${parseHostPort(p, 'peers').ip}:${parseHostPort(p, 'peers').port}`);
    this.cfg = {
      ...ROUTER_DEFAULTS,
      ...(o.heartbeatMs ? { heartbeatMs: o.heartbeatMs } : {}),
      ...(o.linkTimeoutMs ? { linkTimeoutMs: o.linkTimeoutMs } : {}),
      ...(o.gossipMs ? { gossipMs: o.gossipMs } : {}),
    };
    const now = Date.now();
    this.membership = new Membership({
      name: this.name,
      addr: this.advertise,
      meta: this.uid,
      now,
      ...(o.membership ? { config: o.membership } : {}),
    });
    this.topology = new Topology(this.name);
    this.ring = new Ring(this.name, o.subnet);
    const init = o.ipalloc ?? { init: 'join' };
    if (init.init === 'claim') this.ring.claimAll();
    else if (init.init === 'seed') this.ring.seed(init.peers);
    this.alloc = new MeshAllocator(this.ring, o.reserved ?? []);
    this.names = new MeshNames(this.name);
    this.networks = new MeshNetworks(this.name);
    this.sleeve = new Sleeve({
      self: this.name,
      ownerOf: (a) => this.ring.ownerOf(a),
      nextHop: (p) => this.topology.nextHop(p),
      link: (p) => {
        const c = this.byPeer.get(p);
        return c && this.established(c, Date.now()) ? c : undefined;
      },
      sendUdp: (buf, port, ip) => {
        if (buf[0] === KIND_BEAT) this.counters.beatBytesOut += buf.length;
        else this.counters.dataBytesOut += buf.length;
        this.dataTx?.send(buf, port, ip);
      },
      deliver: (pkt) => this.tun?.write(pkt),
    });
  }

  private log(line: string): void {
    this.o.log?.(`[${this.name}] ${line}`);
  }

  // ---- lifecycle ----

  async start(): Promise<void> {
    this.psk = this.o.psk ?? (this.o.password !== undefined ? await derivePsk(this.o.password) : undefined);
    if (this.psk) this.swimBox = new StaticBox(membershipKey(this.psk));
    const { ip, port } = parseHostPort(this.o.listen, 'listen');
    const udp = createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    udp.on('message', (msg, rinfo) => this.onUdp(msg, rinfo.address, rinfo.port));
    udp.on('error', (err) => this.log(`udp: ${err.message}`));
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(port, ip, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    this.udp = udp;
    // From the listen address, another port: receivers find a sleeve datagram's session by the
    // index in its header, never by its source port. Receiving stays on `udp`.
    try {
      this.dataTx = UdpSender.open(ip, 0, { sndbuf: 4 << 20 });
    } catch (err) {
      udp.close();
      this.udp = undefined;
      throw err;
    }
    const tcp = createServer((s) => this.adopt(s, false, undefined));
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, ip, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    tcp.on('error', (err) => this.log(`tcp: ${err.message}`));
    this.tcp = tcp;
    this.topology.setLocalLinks([], Date.now());
    this.timer = setInterval(() => this.tick(), 50);
    this.log(`listening on ${this.o.listen} (${this.psk ? 'encrypted' : 'no password, plaintext'})`);
    this.tick();
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.run(this.membership.leave(Date.now()));
    // Give the leave datagrams a moment to go out before the sockets close.
    await new Promise((r) => setTimeout(r, 100));
    if (this.timer) clearInterval(this.timer);
    for (const c of [...this.conns]) c.close('router stopping');
    await new Promise<void>((r) => (this.tcp ? this.tcp.close(() => r()) : r()));
    await new Promise<void>((r) => (this.udp ? this.udp.close(() => r()) : r()));
    this.dataTx?.close();
    await this.tun?.close();
  }

  // ---- the periodic loop ----

  private tick(): void {
    if (this.stopped) return;
    const now = Date.now();
    this.run(this.membership.tick(now));
    if (now >= this.nextBeat) {
      this.nextBeat = now + this.cfg.heartbeatMs;
      for (const c of this.byPeer.values()) if (c.peerIdx !== undefined) this.sleeve.send(c, KIND_BEAT, EMPTY);
    }
    this.updateLinks(now);
    this.dial(now);
    if (now >= this.nextGossip) {
      this.nextGossip = now + this.cfg.gossipMs;
      const all = [...this.byPeer.values()];
      const c = all[Math.floor(Math.random() * all.length)];
      if (c) this.sendFullState(c);
      this.names.collect(now, 10 * 60_000);
      if (this.alloc.refreshHint()) this.broadcast({ t: 'ring', state: this.ring.state() });
    }
    if (this.o.tun && !this.tun && !this.tunPending) void this.setupTun();
  }

  private established(c: PeerConnection, now: number): boolean {
    return c.open && c.peerIdx !== undefined && now - c.lastBeatRx < this.cfg.linkTimeoutMs;
  }

  /** Publish which links carry traffic; drop connections whose UDP path has been silent too long. */
  private updateLinks(now: number): void {
    const up: string[] = [];
    for (const [peer, c] of this.byPeer) {
      if (this.established(c, now)) up.push(peer);
      // Closing is slower than un-publishing: a busy peer gets time to answer before the session is torn down.
      else if (now - Math.max(c.lastBeatRx, c.openedAt) > Math.max(4 * this.cfg.linkTimeoutMs, 6000)) c.close('no heartbeats');
    }
    const mine = this.topology.setLocalLinks(up, now);
    if (mine) {
      this.log(`links: ${up.join(',') || '(none)'}`);
      this.broadcast({ t: 'topo', entries: [mine] });
      this.emit('topology');
    }
  }

  private dial(now: number): void {
    const connected = new Set<string>();
    for (const c of this.byPeer.values()) {
      connected.add(`${c.remoteIp}:${c.udpPort}`);
      const m = this.membership.member(c.peer!.name);
      if (m) connected.add(m.addr);
    }
    const want = new Set(this.seeds);
    const retain = this.membership.config.deadRetainMs;
    for (const m of this.membership.members()) {
      if (m.name === this.name || this.byPeer.has(m.name) || m.state === 'left') continue;
      if (m.state === 'dead' && now - m.since > retain) continue;
      // Between two members the smaller name dials; the other waits a little before dialling
      // too (in case the first cannot reach it), so a new peer is not met by a storm of
      // simultaneous connections that then have to be deduplicated.
      if (m.name < this.name && now - m.since < DIAL_DEFER_MS) continue;
      want.add(m.addr);
    }
    want.delete(this.advertise);
    for (const a of connected) want.delete(a);
    // A connection still in its handshake with that host: wait for it rather than racing it.
    const handshaking = new Set([...this.conns].filter((c) => !c.open).map((c) => c.remoteIp));
    for (const a of [...want]) if (handshaking.has(a.split(':')[0]!)) want.delete(a);
    this.maker.want(want, now);
    for (const addr of this.maker.due(now)) this.dialOne(addr);
  }

  private dialOne(addr: string): void {
    if (this.dialing.has(addr)) return;
    const { ip, port } = parseHostPort(addr, 'peer');
    this.dialing.add(addr);
    const s = tcpConnect({ host: ip, port, localAddress: parseHostPort(this.o.listen, 'listen').ip });
    s.setTimeout(2000, () => s.destroy(new Error('connect timed out')));
    s.once('connect', () => {
      s.setTimeout(0);
      this.dialing.delete(addr);
      this.adopt(s, true, addr);
    });
    s.once('error', () => this.dialing.delete(addr));
    s.once('close', () => this.dialing.delete(addr));
  }

  private adopt(s: Socket, initiator: boolean, dialed: string | undefined): void {
    if (this.stopped) {
      s.destroy();
      return;
    }
    const c = new PeerConnection(s, {
      initiator,
      name: this.name,
      uid: this.uid,
      port: parseHostPort(this.advertise, 'advertise').port,
      psk: this.psk,
      handshakeTimeoutMs: this.cfg.handshakeTimeoutMs,
      hooks: {
        ready: (x) => this.onReady(x, dialed),
        message: (x, m) => this.onControl(x, m),
        closed: (x, reason) => this.onClosed(x, reason),
      },
    });
    this.conns.add(c);
  }

  // ---- connections ----

  private onReady(c: PeerConnection, dialed: string | undefined): void {
    const peer = c.peer!.name;
    const existing = this.byPeer.get(peer);
    if (existing) {
      // Both sides dialled at once: keep the connection the smaller name initiated, everywhere.
      const preferred = this.name < peer ? this.name : peer;
      const initiatorOf = (x: PeerConnection): string => (x.initiator ? this.name : peer);
      if (initiatorOf(existing) === preferred && initiatorOf(c) !== preferred && existing.open) {
        c.close('duplicate connection');
        return;
      }
      existing.close('replaced by a newer connection');
    }
    this.byPeer.set(peer, c);
    this.byIdx.set(c.localIdx, c);
    if (dialed) this.maker.succeeded(dialed);
    this.log(`connected to ${peer} at ${c.remoteIp}:${c.udpPort} (${c.initiator ? 'outbound' : 'inbound'})`);
    c.send({ t: 'session', idx: c.localIdx });
    c.send({ t: 'pushpull', rows: this.membership.snapshot(), reply: false });
    this.sendFullState(c);
  }

  private sendFullState(c: PeerConnection): void {
    c.send({ t: 'topo', entries: this.topology.entries() });
    c.send({ t: 'ring', state: this.ring.state() });
    c.send({ t: 'names', records: this.names.all() });
    c.send({ t: 'networks', records: this.networks.all() });
  }

  private onClosed(c: PeerConnection, reason: string): void {
    this.conns.delete(c);
    this.counters.controlBytesOutClosed += c.bytesOut;
    const peer = c.peer?.name;
    if (peer && this.byPeer.get(peer) === c) {
      this.byPeer.delete(peer);
      this.log(`disconnected from ${peer}: ${reason}`);
    }
    this.byIdx.delete(c.localIdx);
    if (reason.startsWith('refused')) {
      this.refusals.push({ addr: c.remoteIp, reason, at: Date.now() });
      if (this.refusals.length > 50) this.refusals.shift();
      this.log(`${c.remoteIp}: ${reason}`);
    }
  }

  /** Send to every open connection except `except`. */
  private broadcast(m: ControlMsg, except?: PeerConnection): void {
    for (const c of this.byPeer.values()) if (c !== except) c.send(m);
  }

  private onControl(c: PeerConnection, m: ControlMsg): void {
    const now = Date.now();
    switch (m.t) {
      case 'session':
        c.peerIdx = m.idx;
        this.sleeve.send(c, KIND_BEAT, EMPTY);
        return;
      case 'pushpull':
        this.run(this.membership.mergeSnapshot(m.rows, c.peer!.name, now));
        if (m.reply) c.send({ t: 'pushpull', rows: this.membership.snapshot(), reply: false });
        return;
      case 'topo': {
        const news = this.topology.merge(m.entries);
        if (news.length > 0) {
          for (const [peer, x] of this.byPeer) {
            if (x === c) continue;
            const entries = news.filter((e) => forwardTo(e, this.name, peer));
            if (entries.length > 0) x.send({ t: 'topo', entries });
          }
          this.emit('topology');
        }
        return;
      }
      case 'ring': {
        let r;
        try {
          r = this.ring.merge(m.state);
        } catch (err) {
          c.close(`ring: ${(err as Error).message}`);
          return;
        }
        for (const x of r.conflicts) {
          this.conflicts.push(x);
          this.log(`ring conflict: ${x}`);
        }
        if (r.changed) {
          this.alloc.refreshHint();
          this.broadcast({ t: 'ring', state: this.ring.state() }, c);
          this.emit('ring');
        }
        return;
      }
      case 'names': {
        // Only from peers we know and that have not left: see MeshNames.merge.
        const news = this.names.merge(m.records, now, (o) => {
          const st = this.membership.member(o)?.state;
          return st !== undefined && st !== 'left';
        });
        if (news.length > 0) {
          this.broadcast({ t: 'names', records: news }, c);
          this.emit('names');
        }
        return;
      }
      case 'networks': {
        const news = this.networks.merge(m.records);
        if (news.length > 0) {
          this.broadcast({ t: 'networks', records: news }, c);
          this.emit('networks', news);
        }
        return;
      }
      case 'space-request': {
        const given = this.alloc.donate(c.peer!.name);
        this.log(given ? `donated ${given} to ${c.peer!.name}` : `asked for space by ${c.peer!.name}: none free`);
        if (given) this.broadcast({ t: 'ring', state: this.ring.state() });
        return;
      }
    }
  }

  // ---- datagrams ----

  private onUdp(msg: Buffer, ip: string, port: number): void {
    const kind = msg[0];
    if (kind === KIND_SWIM) {
      const plain = this.swimBox ? this.swimBox.open(msg.subarray(1)) : msg.subarray(1);
      const pkt = plain && decodeSwim(plain);
      if (!pkt) {
        this.counters.swimRejected++;
        return;
      }
      this.counters.swimIn++;
      this.run(this.membership.receive(`${ip}:${port}`, pkt, Date.now()));
      return;
    }
    if ((kind === KIND_DATA || kind === KIND_BEAT) && msg.length >= 13) {
      const c = this.byIdx.get(msg.readUInt32BE(1));
      if (!c) {
        this.counters.unknownSession++;
        return;
      }
      if (this.sleeve.fromUdp(msg, c)) c.lastBeatRx = Date.now();
    }
  }

  /** Carry out what the membership asked for. */
  private run(outs: Output[]): void {
    for (const o of outs) {
      if (o.kind === 'send') {
        const plain = Buffer.from(JSON.stringify(o.packet));
        const body = this.swimBox ? this.swimBox.seal(plain) : plain;
        const { ip, port } = parseHostPort(o.to, 'member');
        const buf = Buffer.concat([Buffer.of(KIND_SWIM), body]);
        this.counters.swimOut++;
        this.counters.swimBytesOut += buf.length;
        this.udp?.send(buf, port, ip);
      } else if (o.kind === 'push-pull') {
        const c = [...this.byPeer.values()].find((x) => this.membership.member(x.peer!.name)?.addr === o.to);
        c?.send({ t: 'pushpull', rows: this.membership.snapshot(), reply: true });
      } else this.onMember(o.event);
    }
  }

  private onMember(e: MemberEvent): void {
    this.log(`member ${e.member.name}: ${e.type} (incarnation ${e.member.incarnation})`);
    if (e.type === 'forget') this.topology.remove(e.member.name);
    // A peer that left (or was forgotten with `weft mesh forget`, which gossips it as left) loses
    // its names at once everywhere, not only after the dead-retention window; a restarted peer
    // publishes its names again.
    if (e.type === 'forget' || e.type === 'left') this.names.dropPeer(e.member.name);
    this.emit('member', e);
  }

  // ---- the sleeve ----

  private async setupTun(): Promise<void> {
    this.tunPending = true;
    try {
      const addr = await this.allocate(`router:${this.name}`);
      const mtu = this.o.tun!.mtu ?? this.cfg.tunMtu;
      const tun = await TunDevice.open(this.o.tun!.name, { fresh: true });
      try {
        await configureTun(tun.name, {
          cidr: `${addr}/${parseUniverse(this.o.subnet).prefix}`,
          mtu,
          linkGroup: WEFT_LINK_GROUP,
          alias: `weft:mesh:${this.name}`,
        });
      } catch (err) {
        await tun.close();
        throw err;
      }
      tun.start(
        (pkts) => {
          for (const p of pkts) this.sleeve.fromTun(p);
        },
        { mtu, onError: (err) => this.log(`tun: ${err.message}`) },
      );
      this.tun = tun;
      this.tunAddress = addr;
      this.log(`sleeve ${tun.name} up with ${addr}`);
      this.emit('tun', addr);
    } catch (err) {
      this.log(`sleeve not ready: ${(err as Error).message}`);
    } finally {
      this.tunPending = false;
    }
  }

  // ---- API (weft mesh …, the driver, the DNS) ----

  /** Add an address to connect to (weft mesh connect). */
  connect(addr: string): void {
    const { ip, port } = parseHostPort(addr, 'addr');
    this.seeds.add(`${ip}:${port}`);
  }

  /** An address from our ring space for `id`, asking connected peers for space when ours is used up. */
  async allocate(id: string, timeoutMs = 5000): Promise<string> {
    const end = Date.now() + timeoutMs;
    const asked = new Set<string>();
    for (;;) {
      try {
        return this.alloc.allocate(id);
      } catch (err) {
        if (!(err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED')) throw err;
      }
      if (Date.now() > end) {
        // A stalled event loop (a loaded machine) can pass the deadline with the donation already
        // waiting in a socket: timers run before I/O, so let I/O run once and try a last time.
        await new Promise((r) => setImmediate(r));
        if (this.alloc.freeCount() > 0) return this.alloc.allocate(id);
        throw new IpamExhaustedError(`${this.o.subnet}: no reachable peer gave space in ${timeoutMs} ms`);
      }
      const now = Date.now();
      const reachable = [...this.byPeer.keys()].filter((p) => !asked.has(p) && this.established(this.byPeer.get(p)!, now));
      const donor = this.alloc.chooseDonor(reachable);
      if (donor) {
        asked.add(donor);
        this.byPeer.get(donor)!.send({ t: 'space-request' });
      } else if (asked.size > 0 && reachable.length === 0) asked.clear();
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  release(id: string): boolean {
    return this.alloc.release(id);
  }

  /** Publish names for an endpoint (name first, then aliases). */
  registerName(id: string, names: string[], addrs: string[]): void {
    this.broadcast({ t: 'names', records: [this.names.set(id, names, addrs, Date.now())] });
  }

  unregisterName(id: string): boolean {
    const rec = this.names.remove(id, Date.now());
    if (rec) this.broadcast({ t: 'names', records: [rec] });
    return rec !== undefined;
  }

  /** Publish a network made here (version: its creation time) to every peer; true if it was news. */
  publishNetwork(name: string, id: string, spec: MeshNetworkSpec, version: number): boolean {
    const rec = this.networks.publish(name, id, spec, version);
    if (rec) this.sendNetworks([rec]);
    return rec !== undefined;
  }

  /** Tell every peer network `name` (this id) was removed; true if that was news. */
  withdrawNetwork(name: string, id: string): boolean {
    const rec = this.networks.withdraw(name, id, Date.now());
    if (rec) this.sendNetworks([rec]);
    return rec !== undefined;
  }

  private sendNetworks(records: MeshNetworkRecord[]): void {
    this.broadcast({ t: 'networks', records });
    this.emit('networks', records);
  }

  /** Addresses for `name` across the mesh, from peers currently alive. */
  lookup(name: string): string[] {
    return this.names.lookup(name, (origin) => {
      const s = origin === this.name ? 'alive' : this.membership.member(origin)?.state;
      return s === 'alive' || s === 'suspect';
    });
  }

  /**
   * Remove a dead peer for good (weft mesh forget): its ring space becomes ours (Weave's rmpeer;
   * run it on one peer only), its names vanish, everyone hears it left.
   */
  forget(peer: string): { peer: string; addresses: number } {
    const m = this.membership.member(peer);
    const owns = this.ring.ownership().has(peer);
    if (!m && !owns) throw new NotFoundError('mesh peer', peer);
    if (peer === this.name || this.byPeer.has(peer) || m?.state === 'alive') {
      throw new ConflictError('peer', `${peer} is alive; only a dead peer can be forgotten`);
    }
    this.run(this.membership.forget(peer, Date.now()));
    const addresses = this.ring.takeOver(peer);
    this.alloc.refreshHint();
    this.names.dropPeer(peer);
    this.topology.remove(peer);
    this.broadcast({ t: 'ring', state: this.ring.state() });
    this.emit('names');
    this.log(`forgot ${peer}: took over ${addresses} addresses`);
    return { peer, addresses };
  }

  status(): MeshStatus {
    const now = Date.now();
    return {
      name: this.name,
      uid: this.uid,
      address: this.advertise,
      encrypted: this.psk !== undefined,
      sleeve: this.tun ? { device: this.tun.name, address: this.tunAddress!, ...this.tun.stats } : undefined,
      members: this.membership.members().map((m) => ({ name: m.name, addr: m.addr, state: m.state, incarnation: m.incarnation })),
      connections: [...this.byPeer.entries()].map(([peer, c]) => ({
        peer,
        addr: `${c.remoteIp}:${c.udpPort}`,
        outbound: c.initiator,
        established: this.established(c, now),
        encrypted: c.encrypted,
        heartbeatAgeMs: c.lastBeatRx ? now - c.lastBeatRx : undefined,
      })),
      routes: [...this.topology.routes()].map(([dest, r]) => ({ dest, via: r.via, hops: r.hops })),
      ring: {
        universe: this.ring.universe,
        owned: this.ring.rangesOf(this.name).map(([a, b]) => `${numToIp4(a)}-${numToIp4(b - 1)}`),
        ownership: Object.fromEntries(this.ring.ownership()),
        free: this.alloc.freeCount(),
        conflicts: [...this.conflicts],
      },
      names: this.names.all().filter((r) => !r.deleted).length,
      networks: this.networks.all().map((r) => ({ name: r.name, id: r.id, origin: r.origin, deleted: r.deleted })),
      refusals: [...this.refusals],
      counters: {
        ...this.counters,
        controlBytesOut: this.counters.controlBytesOutClosed + [...this.conns].reduce((n, c) => n + c.bytesOut, 0),
        ...this.sleeve.stats,
        ...(this.dataTx
          ? { udpSent: this.dataTx.stats.sent, udpSendDrops: this.dataTx.stats.sendDrops, udpSendBatches: this.dataTx.stats.sendBatches }
          : {}),
      },
    };
  }
}
