/**
 * Who can reach whom (Weave's topology gossip). Each peer publishes the peers it holds an
 * established connection to, under a version only it raises; everyone merges by highest
 * version and routes over the resulting graph. A link between two other peers counts only when
 * both ends report it (a half-open link carries nothing); our own links count as soon as we know
 * them. From that graph each destination gets a next hop: itself when directly connected,
 * otherwise the first hop of a shortest path (partial connectivity: A→C through B).
 */

/** One peer's published connections. */
export interface PeerLinks {
  name: string;
  version: number;
  links: string[];
}

export interface Route {
  /** The connected peer to hand traffic for this destination to (the destination itself if direct). */
  via: string;
  hops: number;
}

/** Shortest-path next hops from `self`; ties go to the alphabetically first neighbour, so every run agrees. */
export function computeRoutes(self: string, peers: ReadonlyMap<string, PeerLinks>): Map<string, Route> {
  const claims = (a: string, b: string): boolean => peers.get(a)?.links.includes(b) ?? false;
  const neighbours = (p: string): string[] => {
    const own = peers.get(p)?.links ?? [];
    return own.filter((q) => q !== p && (p === self || claims(q, p))).sort();
  };
  const routes = new Map<string, Route>();
  const queue: string[] = [];
  for (const n of neighbours(self)) {
    if (routes.has(n)) continue;
    routes.set(n, { via: n, hops: 1 });
    queue.push(n);
  }
  while (queue.length > 0) {
    const cur = queue.shift()!;
    const r = routes.get(cur)!;
    for (const n of neighbours(cur)) {
      if (n === self || routes.has(n)) continue;
      routes.set(n, { via: r.via, hops: r.hops + 1 });
      queue.push(n);
    }
  }
  return routes;
}

/**
 * Whether `self` passes a gossiped `entry` on to `neighbour` (Weave gossips topology along the
 * origin's broadcast tree, not to everyone). The origin sends its own entry to every peer it has
 * a connection with, and its entry names only peers it is linked to: those have it first-hand,
 * so forwarding to them too made each change cost n² messages in a full mesh (a join of one
 * peer at 16 peers: thousands of sealed frames in a burst, enough to starve the routers' event
 * loops on a loaded machine). Our own entry goes to everyone. Peers that miss an update (a
 * connection replaced in between) get it from the full-state exchange on every new connection
 * and the periodic one.
 */
export function forwardTo(entry: PeerLinks, self: string, neighbour: string): boolean {
  return entry.name === self || (entry.name !== neighbour && !entry.links.includes(neighbour));
}

export class Topology {
  private readonly peers = new Map<string, PeerLinks>();
  private cache: Map<string, Route> | undefined;

  constructor(readonly self: string) {
    this.peers.set(self, { name: self, version: 0, links: [] });
  }

  /**
   * Our own established connections changed. Returns our new entry to gossip, or undefined if
   * nothing changed. Versions follow the clock so a restarted peer outbids its previous run.
   */
  setLocalLinks(links: readonly string[], now: number): PeerLinks | undefined {
    const cur = this.peers.get(this.self)!;
    const next = [...new Set(links)].filter((l) => l !== this.self).sort();
    if (cur.version > 0 && next.join(',') === cur.links.join(',')) return undefined;
    const entry = { name: this.self, version: Math.max(cur.version + 1, Math.floor(now)), links: next };
    this.peers.set(this.self, entry);
    this.cache = undefined;
    return entry;
  }

  /** Merge gossiped entries; returns the ones that were news (to pass on). Our own entry is ours alone. */
  merge(entries: readonly PeerLinks[]): PeerLinks[] {
    const news: PeerLinks[] = [];
    for (const e of entries) {
      if (e.name === this.self) {
        // An older run of ours published a higher version: jump past it so our current view wins.
        const own = this.peers.get(this.self)!;
        if (e.version > own.version) {
          const bumped = { ...own, version: e.version + 1 };
          this.peers.set(this.self, bumped);
          news.push(bumped);
        }
        continue;
      }
      const cur = this.peers.get(e.name);
      if (cur && cur.version >= e.version) continue;
      const entry = { name: e.name, version: e.version, links: [...e.links].sort() };
      this.peers.set(e.name, entry);
      news.push(entry);
    }
    if (news.length > 0) this.cache = undefined;
    return news;
  }

  /** Drop a forgotten peer's entry. */
  remove(name: string): void {
    if (name === this.self) return;
    if (this.peers.delete(name)) this.cache = undefined;
  }

  entries(): PeerLinks[] {
    return [...this.peers.values()].map((p) => ({ ...p, links: [...p.links] }));
  }

  entry(name: string): PeerLinks | undefined {
    const p = this.peers.get(name);
    return p && { ...p, links: [...p.links] };
  }

  routes(): Map<string, Route> {
    this.cache ??= computeRoutes(this.self, this.peers);
    return this.cache;
  }

  /** Next hop towards `dest`, or undefined when unreachable. */
  nextHop(dest: string): string | undefined {
    return this.routes().get(dest)?.via;
  }
}
