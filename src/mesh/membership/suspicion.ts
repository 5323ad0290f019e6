/**
 * One suspicion timer (Lifeguard): it starts at the longest timeout and shortens as distinct
 * peers independently confirm the suspicion, so a well-confirmed failure is declared fast while
 * a lone, possibly-unhealthy accuser must wait long enough for the suspect to refute.
 */
import { suspicionTimeoutMs } from './config.js';

export class Suspicion {
  private readonly confirmers = new Set<string>();
  deadline: number;

  constructor(
    readonly incarnation: number,
    private readonly start: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly expected: number,
    /** The first accuser; its own suspicion is not a confirmation. */
    accuser: string,
  ) {
    this.confirmers.add(accuser);
    this.deadline = start + suspicionTimeoutMs(minMs, maxMs, 0, expected);
  }

  /** Count an independent confirmation; true if it was new (worth re-gossiping). */
  confirm(from: string): boolean {
    if (this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    const n = Math.min(this.confirmers.size - 1, this.expected);
    this.deadline = this.start + suspicionTimeoutMs(this.minMs, this.maxMs, n, this.expected);
    return true;
  }

  get confirmations(): number {
    return this.confirmers.size - 1;
  }
}
