/**
 * Labels in the `weft.` namespace carry meaning to weft itself (which sandbox a CNI container
 * owns, which sandboxes are Docker's, who created a network). They are set only by weft's own
 * integrations; an API client may not set them, or it could make CNI's GC collect a sandbox
 * it never made, or change how a driver treats a sandbox. Docker reserves com.docker.* alike.
 */
import { InvalidArgumentError } from '../errors.js';

export const RESERVED_LABEL_PREFIX = 'weft.';

/** Throws when a request body's `labels` object uses a reserved key. */
export function assertNoReservedLabels(body: unknown, field = 'labels'): void {
  const labels = (body as { labels?: unknown } | undefined)?.labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) return; // shape checked later
  const bad = Object.keys(labels).find((k) => k.toLowerCase().startsWith(RESERVED_LABEL_PREFIX));
  if (bad !== undefined)
    throw new InvalidArgumentError(`${field}.${bad}`, `labels starting with "${RESERVED_LABEL_PREFIX}" are reserved for weft`);
}
