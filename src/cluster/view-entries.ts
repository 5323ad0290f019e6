/**
 * Reading the mirrored store entries the cluster's per-host views are built from (bgp-view,
 * policy-view). Pure and tolerant: a value that is not what a view expects is `undefined`, for
 * the view to report as a skipped key rather than fail on.
 */

export type Json = Record<string, unknown>;

/** A key a view passed over, with why. */
export interface SkippedKey {
  key: string;
  reason: string;
}

/** The value as a JSON object, or undefined when it is not valid JSON or not an object. */
export function parseObject(value: string): Json | undefined {
  try {
    const v: unknown = JSON.parse(value);
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined; // reported by the caller as a skipped key
  }
}

/** A non-empty string field, or undefined. */
export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** The entries in key order (code-unit order, the same on every host), so a view does not depend on arrival order. */
export const byKey = (entries: ReadonlyMap<string, string>): [string, string][] =>
  [...entries].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
