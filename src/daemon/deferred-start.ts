/**
 * A store-driven service (BGP, policy) of a weftd that started without its cluster store: it
 * starts when the store first answers, and a start that fails then (BIRD does not come up, the
 * first policy transaction is refused) is logged with its error and tried again after a delay
 * that doubles from 1 s up to 30 s, until it runs or weftd stops. Its state is what `GET
 * /v1/info` shows and, while it keeps failing, a `weft doctor` violation. At a start with the
 * store reachable weftd starts these services directly (a failure then fails the start).
 */
import { asWeftError, WeftError } from '../errors.js';
import type { Logger } from '../logger.js';

/** The retry's clock: injected by unit tests, so no test waits for or measures real time. */
export interface RetryTimer {
  /** Run fn once after ms; returns the function that cancels it. */
  after(ms: number, fn: () => void): () => void;
}

export const realTimer: RetryTimer = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref(); // weftd's server keeps the process alive; a pending retry must not
    return () => clearTimeout(t);
  },
};

export interface RetryPolicy {
  /** Delay after the first failure (ms). */
  firstMs: number;
  /** Longest delay (ms): a start failing for hours costs one attempt per this. */
  maxMs: number;
}

export const DEFERRED_RETRY: RetryPolicy = { firstMs: 1000, maxMs: 30_000 };

/** Delay before the next attempt after `failures` failed ones (≥ 1): doubling, capped. */
export function backoffMs(failures: number, p: RetryPolicy = DEFERRED_RETRY): number {
  return Math.min(p.firstMs * 2 ** Math.min(Math.max(failures, 1) - 1, 30), p.maxMs);
}

export type DeferredState = 'waiting-for-store' | 'starting' | 'retrying' | 'running' | 'stopped';

export interface DeferredStatus {
  service: string;
  state: DeferredState;
  /** Failed attempts so far. */
  failures: number;
  /** The last attempt's error, while it has not run since. */
  lastError?: string;
  /** The delay before the pending attempt (ms), while retrying. */
  retryInMs?: number;
}

export interface DeferredStartOptions<S> {
  /** As logs and doctor name it: 'BGP', 'policy'. */
  what: string;
  start: () => Promise<S>;
  /** Receives the running service (weftd keeps it and stops it with itself). */
  adopt: (s: S) => void;
  log: Logger;
  timer?: RetryTimer;
  policy?: RetryPolicy;
}

/** What weftd keeps of each deferred start (whatever service it starts). */
export interface DeferredHandle {
  status(): DeferredStatus;
  violations(): string[];
  /** While it keeps failing: an error with the last failure's code, saying so (for its routes). */
  failure(): WeftError | undefined;
  cancel(): void;
}

export class DeferredStart<S extends { stop(): Promise<void> }> implements DeferredHandle {
  private state: DeferredState = 'waiting-for-store';
  private failures = 0;
  private lastError: string | undefined;
  private lastCause: unknown;
  private retryInMs: number | undefined;
  private cancelRetry: (() => void) | undefined;
  private cancelled = false;
  private readonly timer: RetryTimer;
  private readonly policy: RetryPolicy;

  constructor(private readonly o: DeferredStartOptions<S>) {
    this.timer = o.timer ?? realTimer;
    this.policy = o.policy ?? DEFERRED_RETRY;
  }

  /** The store answered: the first attempt, now. Later calls (another storeUp) do nothing. */
  begin(): void {
    if (this.state !== 'waiting-for-store' || this.cancelled) return;
    this.attempt();
  }

  private attempt(): void {
    this.state = 'starting';
    this.retryInMs = undefined;
    this.o.start().then(
      (s) => this.started(s),
      (err: unknown) => this.failed(err),
    );
  }

  private started(s: S): void {
    const { what, log } = this.o;
    if (this.cancelled) {
      // weftd stopped while this start ran: nobody will stop the service but us.
      s.stop().catch((err: unknown) => log.warn({ service: what, err: String(err) }, `stopping ${what} failed`));
      return;
    }
    if (this.failures > 0) log.info({ service: what, failures: this.failures }, `${what} started after ${this.failures} failed attempt(s)`);
    this.state = 'running';
    this.lastError = undefined;
    this.o.adopt(s);
  }

  private failed(err: unknown): void {
    const { what, log } = this.o;
    const msg = err instanceof Error ? err.message : String(err);
    if (this.cancelled) {
      log.warn({ service: what, err: msg }, `${what} could not start (weftd is stopping)`);
      return;
    }
    this.failures++;
    this.lastError = msg;
    this.lastCause = err;
    this.retryInMs = backoffMs(this.failures, this.policy);
    this.state = 'retrying';
    log.error(
      { service: what, failures: this.failures, err: msg, retryInMs: this.retryInMs },
      `${what} could not start after the cluster store answered; retrying`,
    );
    this.cancelRetry = this.timer.after(this.retryInMs, () => {
      this.cancelRetry = undefined;
      if (!this.cancelled) this.attempt();
    });
  }

  status(): DeferredStatus {
    return {
      service: this.o.what,
      state: this.state,
      failures: this.failures,
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(this.retryInMs !== undefined ? { retryInMs: this.retryInMs } : {}),
    };
  }

  /** What `weft doctor` reports while the service has failed and does not run yet. */
  violations(): string[] {
    if (this.state === 'running' || this.state === 'stopped' || this.failures === 0) return [];
    return [
      `${this.o.what} is not running: its start failed ${this.failures} time(s) after the cluster store answered` +
        ` (last error: ${this.lastError ?? 'unknown'})` +
        (this.state === 'retrying' ? `; next attempt ${this.retryInMs} ms after that failure` : `; attempt under way`),
    ];
  }

  failure(): WeftError | undefined {
    const [why] = this.violations();
    if (why === undefined) return undefined;
    const cause = asWeftError(this.lastCause);
    return new WeftError(cause.code, why, { ...(cause.field === undefined ? {} : { field: cause.field }), cause: this.lastCause });
  }

  /** weftd stops: no further attempt; a start under way is stopped when it finishes. */
  cancel(): void {
    this.cancelled = true;
    this.cancelRetry?.();
    this.cancelRetry = undefined;
    if (this.state !== 'running') this.state = 'stopped';
  }
}
