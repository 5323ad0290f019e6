/**
 * Names of everything in weft's policy table. Fixed objects have plain names; per-policy,
 * per-network and per-selector objects carry a prefix that starts with a letter (nft identifiers
 * must) and the user's name when it is short, or a hash after a '/' (a character policy and
 * network names cannot contain, so a hashed name never collides with a real one). Pure.
 */
import { createHash } from 'node:crypto';
import type { IpVersion } from './policy-types.js';

export const POLICY_TABLE = 'weft-policy';
export const POLICY_FAMILY = 'inet';
/** After weft's forward filter (0) and the user chain (-10): policy only ever narrows. */
export const EGRESS_PRIORITY = 10;
export const INGRESS_PRIORITY = 11;

export type Dir = 'in' | 'eg';
export const DIRS: readonly Dir[] = ['eg', 'in'];

const MAX_NAME_IN_IDENT = 64;

function hash(text: string, len: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, len);
}

function ident(prefix: string, name: string): string {
  return name.length <= MAX_NAME_IN_IDENT ? `${prefix}.${name}` : `${prefix}/${hash(name, 16)}`;
}

export const names = {
  baseChain: (d: Dir): string => (d === 'in' ? 'ingress' : 'egress'),
  policiesChain: (d: Dir): string => `${d}-policies`,
  passChain: (d: Dir): string => `${d}-pass`,
  policyChain: (policy: string, d: Dir): string => `${ident('pol', policy)}.${d}`,
  profileChain: (network: string, d: Dir): string => `${ident('prof', network)}.${d}`,
  /** Local endpoints, for dispatch. */
  localSet: (v: IpVersion): string => `local${v}`,
  /** Local endpoints at least one policy of that direction selects (default deny). */
  isolatedSet: (d: Dir, v: IpVersion): string => `${d}-isol${v}`,
  /** Verdict map: local endpoint address → goto its network's profile chain. */
  profileMap: (d: Dir, v: IpVersion): string => `${d}-prof${v}`,
  /** Local endpoints one policy applies to. */
  appliesSet: (policy: string, v: IpVersion): string => ident(`pa${v}`, policy),
  /** Every endpoint (any host) a rule selector matches; shared by equal selectors. */
  selectorSet: (canonical: string, v: IpVersion): string => `sel${v}.${hash(canonical, 12)}`,
};

/** Text safe inside an nft double-quoted string (comments, log prefixes): no quotes, bounded. */
export function nftString(text: string, max: number): string {
  const clean = text.replace(/["\\]/g, "'").replace(/[^\x20-\x7e]/g, '?');
  return clean.length <= max ? clean : `${clean.slice(0, max - 1)}~`;
}
