/**
 * Which addresses to dial and when (Weave's connection maker): every known peer address that
 * has no open connection is retried with exponential backoff plus jitter, capped low enough
 * that a healed link is used again within seconds.
 */
export interface DialTarget {
  addr: string;
  attempts: number;
  nextAt: number;
}

export class ConnectionMaker {
  private readonly targets = new Map<string, DialTarget>();

  constructor(
    private readonly minMs = 250,
    private readonly maxMs = 2000,
    private readonly random: () => number = Math.random,
  ) {}

  /** The addresses that should be connected now; the rest are dropped. */
  want(addrs: Iterable<string>, now: number): void {
    const keep = new Set(addrs);
    for (const a of this.targets.keys()) if (!keep.has(a)) this.targets.delete(a);
    for (const a of keep) if (!this.targets.has(a)) this.targets.set(a, { addr: a, attempts: 0, nextAt: now });
  }

  /** Addresses due for a dial attempt; each is scheduled for its next retry. */
  due(now: number): string[] {
    const out: string[] = [];
    for (const t of this.targets.values()) {
      if (now < t.nextAt) continue;
      out.push(t.addr);
      const backoff = Math.min(this.maxMs, this.minMs * 2 ** t.attempts);
      t.attempts++;
      t.nextAt = now + backoff / 2 + this.random() * (backoff / 2);
    }
    return out;
  }

  /** A connection to `addr` came up: start from the shortest backoff next time. */
  succeeded(addr: string): void {
    this.targets.delete(addr);
  }
}
