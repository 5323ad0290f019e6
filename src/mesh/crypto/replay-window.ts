/**
 * Anti-replay for datagrams (RFC 6479's sliding bitmap): counters far behind the highest seen
 * are refused, as are repeats inside the window; counters ahead slide the window. UDP may
 * reorder, so a strict "greater than last" check would drop good packets.
 */
export class ReplayWindow {
  private readonly bits: Uint32Array;
  private top = -1;

  constructor(readonly size = 2048) {
    if (size % 32 !== 0 || size < 64) throw new RangeError('replay window size must be a multiple of 32, at least 64');
    this.bits = new Uint32Array(size / 32);
  }

  /** Whether `n` is fresh; if so it is recorded. Call only after the packet authenticated. */
  accept(n: number): boolean {
    if (!Number.isSafeInteger(n) || n < 0) return false;
    const words = this.bits.length;
    if (n > this.top) {
      // Clear the words the window slides over.
      const from = this.top < 0 ? 0 : Math.floor(this.top / 32) + 1;
      const to = Math.floor(n / 32);
      for (let w = from; w <= to && w - from < words; w++) this.bits[w % words] = 0;
      this.top = n;
    } else if (this.top - n >= this.size - 32) {
      return false; // too old to judge: refuse
    }
    const w = Math.floor(n / 32) % words;
    const bit = 1 << (n % 32);
    if ((this.bits[w]! & bit) !== 0) return false;
    this.bits[w]! |= bit;
    return true;
  }
}
