/** Validators for names and scalar options that reach the kernel or the store. Pure. */
import { InvalidArgumentError } from '../errors.js';

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** Network and sandbox names: Docker's rule, at most 64 characters. */
export function validateName(field: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(field, 'must be a non-empty string');
  if (name.length > 64) throw new InvalidArgumentError(field, `"${name}" is longer than 64 characters`);
  if (!NAME_RE.test(name)) {
    throw new InvalidArgumentError(field, `"${name}" is invalid: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
  }
  return name;
}

const IFNAME_RE = /^[a-zA-Z0-9_.-]+$/;

/** Kernel interface names: 1–15 bytes, no '/', whitespace or ':', not '.' or '..'. */
export function validateIfname(field: string, name: unknown): string {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError(field, 'interface name must be a non-empty string');
  if (Buffer.byteLength(name) > 15) {
    throw new InvalidArgumentError(field, `interface name "${name}" is ${Buffer.byteLength(name)} bytes; the kernel allows at most 15`);
  }
  if (!IFNAME_RE.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError(field, `interface name "${name}" may only contain [a-zA-Z0-9_.-]`);
  }
  return name;
}

/** MTU in the range the kernel accepts for our links (68 is IPv4's minimum; IPv6 needs 1280). */
export function parseMtu(field: string, value: unknown, ipv6 = false): number {
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\d+$/.test(value) ? Number(value) : NaN;
  const min = ipv6 ? 1280 : 68;
  if (!Number.isInteger(n) || n < min || n > 65535) {
    throw new InvalidArgumentError(field, `MTU must be an integer between ${min} and 65535, got "${String(value)}"`);
  }
  return n;
}

/** Docker-style boolean option values. */
export function parseBool(field: string, value: unknown): boolean {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string') {
    const v = value.toLowerCase();
    if (['true', '1', 'yes', 'on'].includes(v)) return true;
    if (['false', '0', 'no', 'off'].includes(v)) return false;
  }
  throw new InvalidArgumentError(field, `expected true or false, got "${String(value)}"`);
}

/** key=value (labels, options, aux addresses). */
export function parseKeyValue(field: string, s: string): [string, string] {
  const i = s.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(field, `expected key=value, got "${s}"`);
  return [s.slice(0, i), s.slice(i + 1)];
}

/** 64-hex ids, or unique prefixes of them. */
export function isIdPrefix(s: string): boolean {
  return /^[0-9a-f]{1,64}$/.test(s);
}

export function validateLabels(field: string, labels: unknown): Record<string, string> {
  if (labels === undefined || labels === null) return {};
  if (typeof labels !== 'object' || Array.isArray(labels)) throw new InvalidArgumentError(field, 'must be an object of strings');
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    if (typeof v !== 'string') throw new InvalidArgumentError(`${field}.${k}`, 'must be a string');
    if (k.length === 0 || k.length > 256) throw new InvalidArgumentError(field, `bad label key "${k}"`);
    out[k] = v;
  }
  return out;
}
