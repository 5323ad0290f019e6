/**
 * Work limits per client address: a token bucket per source, so one sandbox (or anyone outside
 * the network) cannot take the embedded DNS's time from the others. Only work costs tokens —
 * cache hits are answered from pre-encoded replies for free — and a source that runs out is
 * answered nothing until its bucket refills (a flood is dropped, never amplified). Memory is
 * bounded: the least recently seen source is forgotten first. Pure apart from the clock.
 */

export interface RateLimit {
  /** Sustained tokens per second. */
  perSecond: number;
  /** Bucket size: what a quiet source may spend at once. */
  burst: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

export class SourceLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private denied = 0;

  constructor(
    private readonly limit: RateLimit,
    private readonly maxSources = 16_384,
  ) {}

  /** Spend one token of `source`; false when it has none left (the caller drops the work). */
  take(source: string, now: number = performance.now()): boolean {
    let b = this.buckets.get(source);
    if (b) {
      // Most recently seen sources stay at the end of the map (the eviction order).
      this.buckets.delete(source);
      b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.at) / 1000) * this.limit.perSecond);
      b.at = now;
    } else {
      if (this.buckets.size >= this.maxSources) this.buckets.delete(this.buckets.keys().next().value!);
      b = { tokens: this.limit.burst, at: now };
    }
    this.buckets.set(source, b);
    if (b.tokens < 1) {
      this.denied++;
      return false;
    }
    b.tokens -= 1;
    return true;
  }

  /** Requests refused since the start (for stats). */
  get refused(): number {
    return this.denied;
  }

  get sources(): number {
    return this.buckets.size;
  }
}
