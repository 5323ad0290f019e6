/**
 * Names that end up in DNS (sandbox names and aliases answered by the embedded DNS, hostnames
 * written to /etc/hosts and set with sethostname) must be valid DNS names, or the name is
 * accepted and then cannot be answered (an encoder error per query) or set. Pure.
 *
 * A label is 1–63 bytes (RFC 1035 §2.3.4), a name at most 253 characters in text form; the
 * characters are the ones weft's names allow ([a-zA-Z0-9_.-]: Docker resolves container names
 * with underscores, so they are kept), and a label neither starts nor ends with a hyphen
 * (RFC 952/1123 host names).
 */
import { InvalidArgumentError } from '../errors.js';
import { validateName } from './validate.js';

export const MAX_LABEL = 63;
export const MAX_NAME = 253;
/** HOST_NAME_MAX: the kernel's limit for sethostname. */
export const MAX_HOSTNAME = 64;

const LABEL_RE = /^[a-zA-Z0-9_](?:[a-zA-Z0-9_-]*[a-zA-Z0-9_])?$/;

/** Check `name` as a DNS name; errors name `field` and the offending label. */
export function validateDnsName(field: string, name: unknown, maxLength = MAX_NAME): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(field, 'must be a non-empty DNS name');
  if (name.length > maxLength)
    throw new InvalidArgumentError(field, `"${name}" is ${name.length} characters; at most ${maxLength} are allowed`);
  for (const label of name.split('.')) {
    if (label.length === 0) throw new InvalidArgumentError(field, `"${name}" has an empty label (leading, trailing or doubled ".")`);
    if (label.length > MAX_LABEL) {
      throw new InvalidArgumentError(
        field,
        `"${name}": label "${label}" is ${label.length} characters; a DNS label is at most ${MAX_LABEL}`,
      );
    }
    if (!LABEL_RE.test(label)) {
      throw new InvalidArgumentError(
        field,
        `"${name}": label "${label}" may only contain [a-zA-Z0-9_-] and must not start or end with "-"`,
      );
    }
  }
  return name;
}

/** A network alias: weft's name rule and a DNS name (it is answered by the embedded DNS). */
export function validateAlias(field: string, alias: unknown): string {
  return validateDnsName(field, validateName(field, alias));
}

/** A sandbox name: weft's name rule, and a DNS name (it is answered on every network it joins). */
export function validateSandboxName(field: string, name: unknown): string {
  return validateDnsName(field, validateName(field, name));
}

/** A hostname: a DNS name the kernel accepts (at most 64 bytes). */
export function validateHostname(field: string, name: unknown): string {
  return validateDnsName(field, name, MAX_HOSTNAME);
}
