/**
 * The request target of an API call, checked before routing: malformed percent-encoding,
 * control characters in a path segment, or a target URL cannot parse are the client's
 * mistake (400 naming the problem), never an internal error.
 */
import { InvalidArgumentError } from '../../errors.js';

/** Parse a request-target ("/v1/networks/x?y=1") relative to the API. */
export function parseRequestTarget(raw: string | undefined): URL {
  try {
    return new URL(raw ?? '/', 'http://weft');
  } catch {
    throw new InvalidArgumentError('path', `malformed request target ${JSON.stringify(raw)}`);
  }
}

/** A boolean query parameter ("true"/"1"; absent = false). */
export function parseFlag(value: string | null, field: string): boolean {
  if (value === null || value === '' || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1') return true;
  throw new InvalidArgumentError(field, `expected true or false, got "${value}"`);
}

/** One path segment, percent-decoded. */
export function decodePathSegment(segment: string): string {
  let out: string;
  try {
    out = decodeURIComponent(segment);
  } catch {
    throw new InvalidArgumentError('path', `malformed percent-encoding in path segment "${segment}"`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(out)) throw new InvalidArgumentError('path', `path segment "${segment}" decodes to control characters`);
  return out;
}
