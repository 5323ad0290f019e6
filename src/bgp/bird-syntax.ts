/**
 * Small pieces of BIRD 2 configuration syntax: symbol names, quoted strings, prefix sets.
 * Inputs are already validated; these functions still refuse anything that could break out of
 * the construct they build, so a renderer bug cannot inject configuration. Pure.
 */
import { WeftError } from '../errors.js';

/** A BIRD symbol from a prefix and free text: letters, digits and "_", at most 64 characters. */
export function birdSymbol(prefix: string, text: string): string {
  const s = `${prefix}_${text.replace(/[^A-Za-z0-9]/g, '_')}`;
  if (!/^[A-Za-z][A-Za-z0-9_]{0,63}$/.test(s)) throw new WeftError('WEFT_INTERNAL', `cannot make a BIRD symbol of "${s}"`);
  return s;
}

/** A double-quoted BIRD string; quotes, backslashes and line breaks are refused, not escaped. */
export function birdString(text: string): string {
  if (/["\\\n\r\0]/.test(text)) throw new WeftError('WEFT_INTERNAL', `cannot quote ${JSON.stringify(text)} for BIRD`);
  return `"${text}"`;
}

/** A prefix set matching each prefix and everything more specific ("[ 10.0.0.0/16+ ]"). */
export function prefixSetOrMore(prefixes: readonly string[]): string {
  return `[ ${prefixes.map((p) => `${p}+`).join(', ')} ]`;
}
