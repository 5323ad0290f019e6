/**
 * Phase marks for benchmarks (bench/overlay-convergence.ts): a named moment on a hot path
 * (a request received, an endpoint recorded, a peer programmed) published on the
 * diagnostics channel `weft:phase`. Without a subscriber a mark costs one property check, so
 * the marks stay in production code; weftd subscribes only with WEFT_TRACE_PHASES=1 and then
 * logs one line per mark (src/daemon/main.ts).
 */
import { channel, subscribe, unsubscribe } from 'node:diagnostics_channel';
import { performance } from 'node:perf_hooks';

export interface PhaseMark {
  phase: string;
  /** Wall clock, ms since the epoch with a fraction: comparable across the lab's processes. */
  t: number;
  [field: string]: string | number | undefined;
}

const NAME = 'weft:phase';
const phaseChannel = channel(NAME);

/** Publish a mark; `fields` is only built by the caller's closure when someone listens. */
export function markPhase(phase: string, fields?: () => Record<string, string | number | undefined>): void {
  if (!phaseChannel.hasSubscribers) return;
  phaseChannel.publish({ phase, t: performance.timeOrigin + performance.now(), ...fields?.() } satisfies PhaseMark);
}

/** Call `onMark` for every mark until the returned function is called. */
export function onPhase(onMark: (m: PhaseMark) => void): () => void {
  const listener = (m: unknown): void => onMark(m as PhaseMark);
  subscribe(NAME, listener);
  return () => void unsubscribe(NAME, listener);
}
