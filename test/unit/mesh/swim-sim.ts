/**
 * A deterministic network for SWIM peers: seeded latency and loss, partitions, crashes, and a
 * reliable (but partition-respecting) push-pull exchange standing in for the TCP stream. Time
 * advances in fixed steps; every peer is ticked each step.
 */
import { Membership } from '../../../src/mesh/membership/membership.js';
import type { MembershipConfig } from '../../../src/mesh/membership/config.js';
import type { MemberEvent, Output, SwimPacket } from '../../../src/mesh/membership/types.js';
import { Prng } from '../../../src/lab/prng.js';

interface InFlight {
  at: number;
  to: string;
  from: string;
  packet: SwimPacket;
}

export interface SimEvent extends MemberEvent {
  at: number;
  observer: string;
}

export class SwimSim {
  now = 0;
  readonly rng: Prng;
  readonly peers = new Map<string, Membership>();
  readonly crashed = new Set<string>();
  readonly events: SimEvent[] = [];
  /** Probability that one datagram is lost. */
  loss = 0;
  /** Pairs that cannot talk (both directions), as "a|b" with a < b. */
  readonly cut = new Set<string>();
  sent = 0;
  bytes = 0;
  private flight: InFlight[] = [];

  constructor(
    seed: number,
    private readonly config: Partial<MembershipConfig> = {},
    private readonly stepMs = 10,
  ) {
    this.rng = new Prng(seed);
  }

  add(name: string): Membership {
    const m = new Membership({
      name,
      addr: name,
      meta: `${name}-${this.now}`,
      now: this.now,
      config: this.config,
      random: () => this.rng.next(),
    });
    this.peers.set(name, m);
    this.crashed.delete(name);
    return m;
  }

  blocked(a: string, b: string): boolean {
    return this.crashed.has(a) || this.crashed.has(b) || this.cut.has(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  /** Cut every link between group x and group y. */
  partition(x: readonly string[], y: readonly string[]): void {
    for (const a of x) for (const b of y) this.cut.add(a < b ? `${a}|${b}` : `${b}|${a}`);
  }

  heal(): void {
    this.cut.clear();
  }

  /** Full state exchange between two peers, if they can reach each other. */
  pushPull(a: string, b: string): boolean {
    const pa = this.peers.get(a);
    const pb = this.peers.get(b);
    if (!pa || !pb || this.blocked(a, b)) return false;
    const rowsA = pa.snapshot();
    const rowsB = pb.snapshot();
    this.bytes += JSON.stringify(rowsA).length + JSON.stringify(rowsB).length;
    this.collect(b, pb.mergeSnapshot(rowsA, a, this.now));
    this.collect(a, pa.mergeSnapshot(rowsB, b, this.now));
    return true;
  }

  private collect(from: string, outs: Output[]): void {
    for (const o of outs) {
      if (o.kind === 'event') this.events.push({ ...o.event, at: this.now, observer: from });
      else if (o.kind === 'push-pull') this.pushPull(from, o.to);
      else {
        this.sent++;
        this.bytes += JSON.stringify(o.packet).length;
        if (this.blocked(from, o.to) || this.rng.chance(this.loss)) continue;
        this.flight.push({ at: this.now + this.rng.int(1, 8), to: o.to, from, packet: o.packet });
      }
    }
  }

  /** Run for `ms` of simulated time; `each` is called after every step. */
  run(ms: number, each?: () => void): void {
    const end = this.now + ms;
    while (this.now < end) {
      this.now += this.stepMs;
      const due = this.flight.filter((f) => f.at <= this.now);
      this.flight = this.flight.filter((f) => f.at > this.now);
      for (const f of due) {
        const p = this.peers.get(f.to);
        if (p && !this.blocked(f.from, f.to)) this.collect(f.to, p.receive(f.from, f.packet, this.now));
      }
      for (const [name, p] of this.peers) if (!this.crashed.has(name)) this.collect(name, p.tick(this.now));
      each?.();
    }
  }

  /** Run until `done` holds (checked each step) or `maxMs` passes; returns the time taken or undefined. */
  runUntil(maxMs: number, done: () => boolean): number | undefined {
    const start = this.now;
    while (this.now - start < maxMs) {
      this.run(this.stepMs);
      if (done()) return this.now - start;
    }
    return undefined;
  }

  /** `name` leaves on purpose. */
  collectLeave(name: string): void {
    this.collect(name, this.peers.get(name)!.leave(this.now));
  }

  /** `observer` forgets `name` (operator action). */
  forgetAt(observer: string, name: string): void {
    this.collect(observer, this.peers.get(observer)!.forget(name, this.now));
  }

  /** What `observer` believes about `name` (undefined if unknown). */
  stateOf(observer: string, name: string): string | undefined {
    return this.peers.get(observer)?.member(name)?.state;
  }

  live(): string[] {
    return [...this.peers.keys()].filter((n) => !this.crashed.has(n));
  }

  /** Every live peer sees every live peer alive. */
  converged(): boolean {
    const live = this.live();
    return live.every((o) => live.every((n) => this.stateOf(o, n) === 'alive'));
  }
}
