/**
 * What one agent believes about the cluster's hosts, as a pure state machine. Inputs are the
 * store's host keys (the record `hosts/<id>` and the leased liveness key `hosts/<id>/alive`)
 * and the clock; outputs are transitions:
 *   hostUp    a host's liveness key appeared (registration, or back after an outage)
 *   hostDown  its liveness key vanished (lease expired or revoked): its endpoints stay in
 *             every view for the grace period, because a brief partition must not cost them
 *   hostGone  still down after the grace: its endpoints leave every view, its blocks are reclaimed
 */
export interface HostRecord {
  id: string;
  name: string;
  address: string;
  /** The host's IPv6 underlay address beside an IPv4 `address` (IPv6 BGP sessions, IPv6 next hops). */
  address6?: string;
  registeredAt: string;
  /** Set by the first agent that saw the host go down (ms since epoch). */
  downSince?: number;
}

export interface AliveRecord {
  token: string;
  address: string;
  pid: number;
  lease: string;
  since: number;
}

export type HostState = 'up' | 'down';

export interface HostView {
  id: string;
  name: string;
  address: string;
  state: HostState;
  /** up: when it came up (as this agent saw it); down: since when it is down. */
  since: number;
  registeredAt: string;
  lease?: string;
}

export type HostTransition = { type: 'hostUp' | 'hostDown' | 'hostGone'; host: HostView };

interface Entry {
  record?: HostRecord;
  alive?: AliveRecord;
  view?: HostView;
  /** Its grace ran out: removed from the views until its liveness key returns. */
  gone?: boolean;
}

export class HostStateCore {
  private readonly hosts = new Map<string, Entry>();

  constructor(readonly graceMs: number) {}

  private entry(id: string): Entry {
    let e = this.hosts.get(id);
    if (!e) this.hosts.set(id, (e = {}));
    return e;
  }

  /** A host record was written (or read in a full resync). */
  setRecord(r: HostRecord, now: number): HostTransition[] {
    this.entry(r.id).record = r;
    return this.settle(r.id, now);
  }

  /** A host record was deleted: the host is gone for everyone. */
  deleteRecord(id: string, now: number): HostTransition[] {
    const e = this.hosts.get(id);
    if (!e) return [];
    delete e.record;
    return this.settle(id, now);
  }

  setAlive(id: string, a: AliveRecord, now: number): HostTransition[] {
    this.entry(id).alive = a;
    return this.settle(id, now);
  }

  deleteAlive(id: string, now: number): HostTransition[] {
    const e = this.hosts.get(id);
    if (!e) return [];
    delete e.alive;
    return this.settle(id, now);
  }

  /**
   * Replace everything with a full read (after a lost watch): transitions are computed against
   * what this agent believed, so nothing is emitted twice and nothing is missed.
   */
  resync(records: HostRecord[], alive: Map<string, AliveRecord>, now: number): HostTransition[] {
    const ids = new Set([...this.hosts.keys(), ...records.map((r) => r.id), ...alive.keys()]);
    const byId = new Map(records.map((r) => [r.id, r]));
    const out: HostTransition[] = [];
    for (const id of ids) {
      const e = this.entry(id);
      const r = byId.get(id);
      const a = alive.get(id);
      if (r) e.record = r;
      else delete e.record;
      if (a) e.alive = a;
      else delete e.alive;
      out.push(...this.settle(id, now));
    }
    return out;
  }

  /** Hosts whose grace ran out by `now`. */
  tick(now: number): HostTransition[] {
    const out: HostTransition[] = [];
    for (const id of [...this.hosts.keys()]) out.push(...this.settle(id, now));
    return out;
  }

  /** When the next host's grace ends (for a timer), or undefined. */
  nextDeadline(): number | undefined {
    let next: number | undefined;
    for (const e of this.hosts.values()) {
      if (e.view?.state !== 'down') continue;
      const at = e.view.since + this.graceMs;
      if (next === undefined || at < next) next = at;
    }
    return next;
  }

  views(): HostView[] {
    return [...this.hosts.values()]
      .flatMap((e) => (e.view ? [{ ...e.view }] : []))
      .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
  }

  view(id: string): HostView | undefined {
    const v = this.hosts.get(id)?.view;
    return v ? { ...v } : undefined;
  }

  private settle(id: string, now: number): HostTransition[] {
    const e = this.hosts.get(id);
    if (!e) return [];
    const prev = e.view;
    if (!e.record && !e.alive) {
      // Its record was deleted: the host left the cluster (cleaned up after its grace).
      this.hosts.delete(id);
      return prev ? [{ type: 'hostGone', host: { ...prev } }] : [];
    }
    if (e.alive) {
      e.gone = false;
      const r = e.record;
      e.view = {
        id,
        name: r?.name ?? id,
        address: e.alive.address,
        registeredAt: r?.registeredAt ?? new Date(e.alive.since).toISOString(),
        state: 'up',
        since: prev?.state === 'up' ? prev.since : now,
        lease: e.alive.lease,
      };
      return prev?.state === 'up' ? [] : [{ type: 'hostUp', host: { ...e.view } }];
    }
    // Down (record, no liveness). Once gone, stay quiet until it comes back.
    if (e.gone) return [];
    const r = e.record!;
    const since = prev?.state === 'down' ? prev.since : (r.downSince ?? now);
    const view: HostView = { id, name: r.name, address: r.address, registeredAt: r.registeredAt, state: 'down', since };
    const down: HostTransition[] = prev?.state === 'down' ? [] : [{ type: 'hostDown', host: { ...view } }];
    if (now - since >= this.graceMs) {
      e.gone = true;
      delete e.view;
      return [...down, { type: 'hostGone', host: { ...view } }];
    }
    e.view = view;
    return down;
  }
}
