/**
 * SWIM membership as a pure state machine (no sockets, no clocks): the driver feeds it the time
 * and the datagrams it received, and carries out the sends, full-state exchanges and events it
 * returns. Modelled on SWIM as memberlist runs it:
 *  - each probe period one peer is pinged (shuffled round-robin); without an ack after the
 *    probe timeout, k others are asked to ping it (indirect probes, which also cover partial
 *    connectivity); without any ack by the period's end it becomes suspect;
 *  - a suspicion turns into "dead" after a timeout that scales with log(cluster size) and
 *    shrinks with independent confirmations (Lifeguard);
 *  - a peer that hears it is suspected or dead refutes by raising its incarnation number;
 *  - facts are piggybacked on probes and periodic gossip, each a bounded number of times, and
 *    a periodic full-state exchange (push-pull) repairs whatever gossip missed;
 *  - a failing local peer slows its own probing (Lifeguard's local health awareness);
 *  - dead and left peers are kept (and gossiped to, so they can refute) for a while, then
 *    forgotten.
 */
import { BroadcastQueue } from './broadcast-queue.js';
import { DEFAULT_MEMBERSHIP_CONFIG, retransmitLimit, suspicionMinMs, type MembershipConfig } from './config.js';
import { Suspicion } from './suspicion.js';
import type { Member, MemberEventType, MemberRow, Output, SwimMsg, SwimPacket, Update } from './types.js';

export interface MembershipOptions {
  name: string;
  addr: string;
  /** Per-run identity; a restarted peer has a new one. */
  meta: string;
  now: number;
  config?: Partial<MembershipConfig>;
  /** Uniform [0, 1) source; seeded in tests. */
  random?: () => number;
}

interface Probe {
  seq: number;
  target: string;
  indirectAt: number;
  endAt: number;
  indirectSent: boolean;
  nacksExpected: number;
  nacksGot: number;
}

interface Relay {
  origSeq: number;
  requester: string;
  nackAt: number;
  nackSent: boolean;
}

export class Membership {
  readonly name: string;
  readonly config: Readonly<MembershipConfig>;
  private readonly rand: () => number;
  private readonly table = new Map<string, Member>();
  private readonly queue = new BroadcastQueue();
  private readonly suspicions = new Map<string, Suspicion>();
  private readonly relays = new Map<number, Relay>();
  private probe: Probe | undefined;
  private probeOrder: string[] = [];
  private seq = 0;
  private nextProbeAt: number;
  private nextGossipAt: number;
  private nextPushPullAt: number;
  private nextReconnectAt: number;
  private awarenessScore = 0;
  private leaving = false;
  private out: Output[] = [];

  constructor(o: MembershipOptions) {
    this.name = o.name;
    this.config = { ...DEFAULT_MEMBERSHIP_CONFIG, ...o.config };
    this.rand = o.random ?? Math.random;
    this.table.set(o.name, { name: o.name, addr: o.addr, meta: o.meta, incarnation: 0, state: 'alive', since: o.now });
    this.queue.push({ t: 'alive', name: o.name, inc: 0, addr: o.addr, meta: o.meta });
    // Spread the first probe over one interval so peers started together do not probe in lockstep.
    this.nextProbeAt = o.now + Math.floor(this.rand() * this.config.probeIntervalMs);
    this.nextGossipAt = o.now + this.config.gossipIntervalMs;
    this.nextPushPullAt = o.now + this.config.pushPullIntervalMs;
    this.nextReconnectAt = o.now + this.config.reconnectIntervalMs;
  }

  // ---- queries ----

  /** Every member known, self included. */
  members(): Member[] {
    return [...this.table.values()].map((m) => ({ ...m }));
  }

  member(name: string): Member | undefined {
    const m = this.table.get(name);
    return m && { ...m };
  }

  get self(): Member {
    return { ...this.table.get(this.name)! };
  }

  /** Lifeguard's local health score (0 = healthy). */
  get awareness(): number {
    return this.awarenessScore;
  }

  /** Members counted for timeouts and retransmits: the ones not known to be gone. */
  private liveCount(): number {
    let n = 0;
    for (const m of this.table.values()) if (m.state === 'alive' || m.state === 'suspect') n++;
    return n;
  }

  /** Full state for a push-pull exchange. */
  snapshot(): MemberRow[] {
    return [...this.table.values()].map((m) => ({ name: m.name, addr: m.addr, meta: m.meta, inc: m.incarnation, state: m.state }));
  }

  // ---- inputs ----

  /** Advance timers to `now`. */
  tick(now: number): Output[] {
    this.expireSuspicions(now);
    this.runProbe(now);
    this.runRelays(now);
    this.reapDead(now);
    if (now >= this.nextGossipAt) {
      this.nextGossipAt = now + this.config.gossipIntervalMs;
      this.gossip(now);
    }
    if (this.config.pushPullIntervalMs > 0 && now >= this.nextPushPullAt) {
      this.nextPushPullAt = now + this.config.pushPullIntervalMs;
      const peer = this.pick(1, (m) => m.state === 'alive')[0];
      if (peer) this.out.push({ kind: 'push-pull', to: peer.addr });
    }
    if (this.config.reconnectIntervalMs > 0 && now >= this.nextReconnectAt) {
      this.nextReconnectAt = now + this.config.reconnectIntervalMs;
      // A partition marks the far side dead on both sides; only a full exchange lets each side refute.
      const gone = this.pick(1, (m) => m.state === 'dead' && now - m.since < this.config.deadRetainMs)[0];
      if (gone) this.out.push({ kind: 'push-pull', to: gone.addr });
    }
    return this.flush();
  }

  /** A datagram from `fromAddr`. */
  receive(fromAddr: string, packet: SwimPacket, now: number): Output[] {
    for (const u of packet.updates) this.apply(u, now);
    if (packet.msg) this.handle(fromAddr, packet.msg, now);
    return this.flush();
  }

  /** Merge a peer's full state (push-pull). Remote "dead" only makes a peer suspect: our own probes decide. */
  mergeSnapshot(rows: readonly MemberRow[], from: string, now: number): Output[] {
    for (const r of rows) {
      if (r.state === 'alive') this.apply({ t: 'alive', name: r.name, inc: r.inc, addr: r.addr, meta: r.meta }, now);
      else if (r.state === 'left') this.apply({ t: 'dead', name: r.name, inc: r.inc, from, left: true }, now);
      else this.apply({ t: 'suspect', name: r.name, inc: r.inc, from }, now);
    }
    return this.flush();
  }

  /** Leave on purpose: tell a few peers now; gossip carries the rest. */
  leave(now: number): Output[] {
    const me = this.table.get(this.name)!;
    this.leaving = true;
    me.state = 'left';
    me.since = now;
    this.queue.push({ t: 'dead', name: this.name, inc: me.incarnation, from: this.name, left: true });
    for (const m of this.pick(this.config.gossipNodes * 2, (x) => x.state === 'alive')) this.send(m.addr, undefined);
    return this.flush();
  }

  /**
   * An operator's `forget`: the peer is marked left here and, through gossip, everywhere; it is
   * removed after the usual retention (the record stops stale "alive" gossip from re-adding it).
   * A peer that is in fact alive refutes and comes back.
   */
  forget(name: string, now: number): Output[] {
    const m = this.table.get(name);
    if (m && name !== this.name) this.apply({ t: 'dead', name, inc: m.incarnation, from: this.name, left: true }, now);
    return this.flush();
  }

  // ---- probes ----

  private scaled(ms: number): number {
    return ms * (this.awarenessScore + 1);
  }

  private adjustAwareness(delta: number): void {
    this.awarenessScore = Math.min(this.config.awarenessMax, Math.max(0, this.awarenessScore + delta));
  }

  private nextTarget(): Member | undefined {
    for (let guard = 0; guard < 2; guard++) {
      while (this.probeOrder.length > 0) {
        const m = this.table.get(this.probeOrder.pop()!);
        if (m && m.name !== this.name && (m.state === 'alive' || m.state === 'suspect')) return m;
      }
      this.probeOrder = this.shuffle([...this.table.keys()]);
    }
    return undefined;
  }

  private runProbe(now: number): void {
    const p = this.probe;
    if (p && !p.indirectSent && now >= p.indirectAt) {
      p.indirectSent = true;
      const target = this.table.get(p.target);
      if (target) {
        const helpers = this.pick(this.config.indirectChecks, (m) => m.state === 'alive' && m.name !== p.target);
        p.nacksExpected = helpers.length;
        for (const h of helpers) {
          this.send(h.addr, { t: 'ping-req', seq: p.seq, target: target.name, targetAddr: target.addr, from: this.name });
        }
      }
    }
    if (p && now >= p.endAt) {
      this.probe = undefined;
      // Missing nacks mean our own messages are not getting through: that is our health, not theirs.
      this.adjustAwareness(p.nacksExpected > 0 ? p.nacksExpected - p.nacksGot : 1);
      const target = this.table.get(p.target);
      if (target && target.state !== 'dead' && target.state !== 'left') {
        this.apply({ t: 'suspect', name: target.name, inc: target.incarnation, from: this.name }, now);
      }
    }
    if (now < this.nextProbeAt || this.leaving) return;
    this.nextProbeAt = now + this.scaled(this.config.probeIntervalMs);
    const target = this.nextTarget();
    if (!target) return;
    const seq = ++this.seq;
    this.probe = {
      seq,
      target: target.name,
      indirectAt: now + this.scaled(this.config.probeTimeoutMs),
      endAt: this.nextProbeAt,
      indirectSent: false,
      nacksExpected: 0,
      nacksGot: 0,
    };
    this.send(target.addr, { t: 'ping', seq, target: target.name, from: this.name });
  }

  private runRelays(now: number): void {
    for (const [seq, r] of this.relays) {
      if (!r.nackSent && now >= r.nackAt) {
        r.nackSent = true;
        this.send(r.requester, { t: 'nack', seq: r.origSeq, from: this.name });
      }
      // A late ack is still worth forwarding for one more timeout; after that, forget the relay.
      if (now >= r.nackAt + this.config.probeTimeoutMs) this.relays.delete(seq);
    }
  }

  private handle(fromAddr: string, msg: SwimMsg, now: number): void {
    switch (msg.t) {
      case 'ping':
        // A ping meant for a previous owner of this address is not ours to answer.
        if (msg.target === this.name) this.send(fromAddr, { t: 'ack', seq: msg.seq, from: this.name });
        return;
      case 'ping-req': {
        const seq = ++this.seq;
        this.relays.set(seq, { origSeq: msg.seq, requester: fromAddr, nackAt: now + this.config.probeTimeoutMs, nackSent: false });
        this.send(msg.targetAddr, { t: 'ping', seq, target: msg.target, from: this.name });
        return;
      }
      case 'ack': {
        const relay = this.relays.get(msg.seq);
        if (relay) {
          this.relays.delete(msg.seq);
          this.send(relay.requester, { t: 'ack', seq: relay.origSeq, from: msg.from });
          return;
        }
        if (this.probe?.seq === msg.seq) {
          this.probe = undefined;
          this.adjustAwareness(-1);
        }
        return;
      }
      case 'nack':
        if (this.probe?.seq === msg.seq) this.probe.nacksGot++;
        return;
    }
  }

  // ---- dissemination ----

  private send(to: string, msg: SwimMsg | undefined): void {
    const updates = this.queue.take(this.config.piggybackBudget, retransmitLimit(this.config.retransmitMult, this.liveCount()));
    if (!msg && updates.length === 0) return;
    this.out.push({ kind: 'send', to, packet: msg ? { msg, updates } : { updates } });
  }

  private gossip(now: number): void {
    if (this.queue.size === 0) return;
    // Recently dead peers still get gossip, so a live-but-cut-off one can hear and refute.
    const targets = this.pick(
      this.config.gossipNodes,
      (m) => m.state === 'alive' || m.state === 'suspect' || (m.state === 'dead' && now - m.since < this.config.deadRetainMs),
    );
    for (const t of targets) this.send(t.addr, undefined);
  }

  // ---- applying facts ----

  private event(type: MemberEventType, m: Member): void {
    this.out.push({ kind: 'event', event: { type, member: { ...m } } });
  }

  private refute(inc: number): void {
    const me = this.table.get(this.name)!;
    me.incarnation = Math.max(me.incarnation, inc) + 1;
    this.adjustAwareness(1);
    this.queue.push({ t: 'alive', name: me.name, inc: me.incarnation, addr: me.addr, meta: me.meta });
  }

  private apply(u: Update, now: number): void {
    if (u.name === this.name) return this.applyAboutSelf(u);
    const m = this.table.get(u.name);
    switch (u.t) {
      case 'alive': {
        if (!m) {
          const added: Member = { name: u.name, addr: u.addr, meta: u.meta, incarnation: u.inc, state: 'alive', since: now };
          this.table.set(u.name, added);
          this.queue.push(u);
          return this.event('join', added);
        }
        if (u.inc <= m.incarnation) return;
        const was = m.state;
        const moved = m.addr !== u.addr || m.meta !== u.meta;
        Object.assign(m, { addr: u.addr, meta: u.meta, incarnation: u.inc, state: 'alive', since: was === 'alive' ? m.since : now });
        this.suspicions.delete(u.name);
        this.queue.push(u);
        if (was === 'dead' || was === 'left') return this.event('join', m);
        if (was === 'suspect') return this.event('alive', m);
        if (moved) this.event('update', m);
        return;
      }
      case 'suspect': {
        if (!m || m.state === 'dead' || m.state === 'left' || u.inc < m.incarnation) return;
        if (m.state === 'suspect' && u.inc === m.incarnation) {
          if (this.suspicions.get(u.name)?.confirm(u.from)) this.queue.push(u);
          return;
        }
        m.state = 'suspect';
        m.incarnation = u.inc;
        m.since = now;
        const n = this.liveCount();
        const min = suspicionMinMs(this.config, n);
        const expected = Math.max(0, Math.min(this.config.suspicionMult - 2, n - 2));
        this.suspicions.set(u.name, new Suspicion(u.inc, now, min, min * this.config.suspicionMaxTimeoutMult, expected, u.from));
        this.queue.push(u);
        return this.event('suspect', m);
      }
      case 'dead': {
        if (!m || u.inc < m.incarnation) return;
        if (m.state === 'left' || (m.state === 'dead' && !u.left)) return;
        m.state = u.left ? 'left' : 'dead';
        m.incarnation = u.inc;
        m.since = now;
        this.suspicions.delete(u.name);
        this.queue.push(u);
        return this.event(m.state, m);
      }
    }
  }

  private applyAboutSelf(u: Update): void {
    const me = this.table.get(this.name)!;
    if (this.leaving) return;
    if (u.t === 'alive') {
      // An older run of this peer with a higher incarnation is still remembered: outbid it.
      if (u.inc > me.incarnation || (u.inc === me.incarnation && u.meta !== me.meta)) this.refute(u.inc);
      return;
    }
    if (u.inc >= me.incarnation) this.refute(u.inc);
  }

  private expireSuspicions(now: number): void {
    for (const [name, s] of this.suspicions) {
      if (now < s.deadline) continue;
      this.suspicions.delete(name);
      const m = this.table.get(name);
      if (m?.state === 'suspect' && m.incarnation === s.incarnation) {
        this.apply({ t: 'dead', name, inc: s.incarnation, from: this.name, left: false }, now);
      }
    }
  }

  private reapDead(now: number): void {
    for (const m of [...this.table.values()]) {
      if ((m.state === 'dead' || m.state === 'left') && m.name !== this.name && now - m.since >= this.config.deadRetainMs) {
        this.remove(m.name);
      }
    }
  }

  private remove(name: string): void {
    const m = this.table.get(name);
    if (!m) return;
    this.table.delete(name);
    this.suspicions.delete(name);
    this.event('forget', m);
  }

  // ---- helpers ----

  private flush(): Output[] {
    const o = this.out;
    this.out = [];
    return o;
  }

  private shuffle<T>(xs: T[]): T[] {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(this.rand() * (i + 1));
      [xs[i], xs[j]] = [xs[j]!, xs[i]!];
    }
    return xs;
  }

  /** Up to n random other members matching `ok`. */
  private pick(n: number, ok: (m: Member) => boolean): Member[] {
    const pool = [...this.table.values()].filter((m) => m.name !== this.name && ok(m));
    return this.shuffle(pool).slice(0, n);
  }
}
