/**
 * Several store prefixes kept in one map through the agent's mirrors (a full read, then
 * events, a full read again after a lost watch), with a debounced change callback: what the
 * BGP and policy services render their configuration from.
 */
import type { ClusterAgent } from './cluster-agent.js';
import { WeftError } from '../errors.js';

export class MirroredKeys {
  readonly entries = new Map<string, string>();
  private readonly stops: (() => void)[];
  private readonly seen = new Set<string>();
  private readonly ready: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  /** Epoch ms of the first change the pending callback covers. */
  private firstAt = 0;
  private stopped = false;

  /**
   * `onChange` runs (debounced by `debounceMs`) after every change, once the first full read of
   * every prefix arrived, with the epoch ms of the first change it covers.
   */
  constructor(
    agent: Pick<ClusterAgent, 'mirror'>,
    prefixes: readonly string[],
    private readonly onChange: (firstAt: number) => void,
    private readonly debounceMs = 10,
  ) {
    let firstRead!: () => void;
    this.ready = new Promise<void>((resolve) => (firstRead = resolve));
    this.stops = prefixes.map((prefix) =>
      agent.mirror(prefix, {
        onSnapshot: (s) => {
          for (const k of [...this.entries.keys()]) if (k.startsWith(prefix)) this.entries.delete(k);
          for (const e of s.entries) this.entries.set(e.key, e.value);
          this.seen.add(prefix);
          if (this.seen.size === prefixes.length) firstRead();
          this.changed();
        },
        onEvent: (e) => {
          if (e.type === 'put' && e.value !== undefined) this.entries.set(e.key, e.value);
          else this.entries.delete(e.key);
          this.changed();
        },
      }),
    );
  }

  /** Resolves after the first full read of every prefix; a clear timeout error otherwise. */
  async whenRead(what: string, timeoutMs = 10_000): Promise<void> {
    let t: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ready,
      new Promise<never>((_, reject) => {
        t = setTimeout(
          () => reject(new WeftError('WEFT_TIMEOUT', `${what}: no full read of the cluster store within ${timeoutMs} ms`)),
          timeoutMs,
        );
      }),
    ]).finally(() => clearTimeout(t));
  }

  /** Whether a debounced change is still waiting to run. */
  get pending(): boolean {
    return this.timer !== undefined;
  }

  private changed(): void {
    if (this.stopped || this.timer || this.seen.size === 0) return;
    this.firstAt = Date.now();
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.onChange(this.firstAt);
    }, this.debounceMs);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stops.forEach((stop) => stop());
  }
}
