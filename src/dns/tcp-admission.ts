/**
 * Who may hold a TCP connection to the embedded DNS. Each source may hold a few at most; when
 * the listener is full, a newcomer from a source holding fewer than the busiest one takes the
 * busiest source's oldest connection — one sandbox holding hundreds of idle connections can
 * no longer starve every other sandbox's TCP queries. Pure bookkeeping; the server closes what
 * it is told to.
 */

export interface TcpLimits {
  /** Connections one source may hold. */
  perSource: number;
  /** Connections the listener holds in all. */
  total: number;
}

export class TcpAdmission<C> {
  private readonly bySource = new Map<string, C[]>();
  private readonly sourceOf = new Map<C, string>();

  constructor(private readonly limits: TcpLimits) {}

  /**
   * Admit a connection from `source`: { admit: false } to refuse it, or { admit: true, evict }
   * with a connection the caller must close to make room (the busiest source's oldest).
   */
  admit(source: string, conn: C): { admit: false } | { admit: true; evict?: C } {
    const held = this.holders(source);
    if (held >= this.limits.perSource) return { admit: false };
    let evict: C | undefined;
    if (this.sourceOf.size >= this.limits.total) {
      let busiest: C[] | undefined;
      for (const list of this.bySource.values()) if (!busiest || list.length > busiest.length) busiest = list;
      // Only a source that would still hold more than the newcomer gives way.
      if (!busiest || busiest.length <= held + 1) return { admit: false };
      evict = busiest[0]!;
      this.release(evict);
    }
    const list = this.bySource.get(source) ?? [];
    list.push(conn);
    this.bySource.set(source, list);
    this.sourceOf.set(conn, source);
    return evict === undefined ? { admit: true } : { admit: true, evict };
  }

  /** Forget a connection (closed by either side); unknown ones are fine. */
  release(conn: C): void {
    const source = this.sourceOf.get(conn);
    if (source === undefined) return;
    this.sourceOf.delete(conn);
    const list = this.bySource.get(source)!;
    list.splice(list.indexOf(conn), 1);
    if (list.length === 0) this.bySource.delete(source);
  }

  get size(): number {
    return this.sourceOf.size;
  }

  holders(source: string): number {
    return this.bySource.get(source)?.length ?? 0;
  }
}
