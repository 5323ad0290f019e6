/**
 * From the cluster store's keys to one host's PolicyInput (src/policy): what every host
 * compiles for its own endpoints. Pure: the policy service mirrors the prefixes into a map and
 * calls this on every change. A record that does not parse is skipped and reported; it never
 * stops the other policies from being enforced.
 *   policies/<name>             a Calico v3 resource (policyToResource)
 *   profiles/<network>          a Calico v3 Profile (profileToResource)
 *   endpoints/<network>/<id>    { hostId, network (name), driver, ipv4?, ipv6?, labels? }
 * Endpoint records are the cluster's global endpoints; fields are read tolerantly (`host` for
 * `hostId`, `networkName` for `network`, addresses with or without prefix) so the record shape
 * can grow without breaking enforcement.
 */
import { parsePolicyValue, type Policy, type PolicyEndpoint, type PolicyInput, type PolicyNetwork, type Profile } from '../policy/index.js';
import { byKey, parseObject, str, type SkippedKey } from './view-entries.js';

export const POLICY_KEYS = {
  policies: 'policies/',
  policy: (name: string) => `policies/${name}`,
  profiles: 'profiles/',
  profile: (network: string) => `profiles/${network}`,
  endpoints: 'endpoints/',
} as const;

export const POLICY_VIEW_PREFIXES = [POLICY_KEYS.policies, POLICY_KEYS.profiles, POLICY_KEYS.endpoints] as const;

/** What a host publishes per endpoint for policy (and what the view reads back). */
export interface PolicyEndpointRecord {
  id: string;
  hostId: string;
  network: string;
  driver: string;
  ipv4?: string;
  ipv6?: string;
  labels?: Record<string, string>;
}

export interface PolicyViewResult {
  input: PolicyInput;
  skipped: SkippedKey[];
}

const bare = (a: string | undefined): string | undefined => a?.split('/')[0];

/** Network modes as the policy compiler sees them: the routed driver's veths, or a bridge. */
const modeOf = (driver: string | undefined): PolicyNetwork['mode'] => (driver === 'routed' ? 'routed' : 'bridged');

/** What one store entry contributes (kept per key by a memo while its value is unchanged). */
type ParsedEntry =
  | { kind: 'policy'; policies: Policy[]; profiles: Profile[] }
  | { kind: 'endpoint'; ep: PolicyEndpoint; mode: PolicyNetwork['mode'] }
  | { kind: 'skip'; reason: string }
  | { kind: 'other' };

/**
 * Parsed entries by key, with the value they were parsed from. A host re-reads its whole view on
 * every change; with a memo only the entries whose value changed are parsed again (a policy is
 * a zod validation, an endpoint a JSON parse), so one change costs one parse, not one per key.
 */
export type PolicyViewMemo = Map<string, { value: string; parsed: ParsedEntry }>;

function parseEntry(localHost: string, key: string, value: string): ParsedEntry {
  if (key.startsWith(POLICY_KEYS.policies) || key.startsWith(POLICY_KEYS.profiles)) {
    const r = parseObject(value);
    if (!r) return { kind: 'skip', reason: 'not a JSON object' };
    try {
      const doc = parsePolicyValue(r);
      return { kind: 'policy', policies: doc.policies, profiles: doc.profiles };
    } catch (err) {
      return { kind: 'skip', reason: (err as Error).message };
    }
  }
  if (key.startsWith(POLICY_KEYS.endpoints)) {
    const r = parseObject(value);
    const hostId = str(r?.hostId) ?? str(r?.host);
    const network = str(r?.network) ?? str(r?.networkName);
    const addresses = [bare(str(r?.ipv4)), bare(str(r?.ipv6))].filter((a): a is string => a !== undefined);
    if (!r || !hostId || !network || addresses.length === 0)
      return { kind: 'skip', reason: 'endpoint record without host, network name or address' };
    const labels = typeof r.labels === 'object' && r.labels !== null ? (r.labels as Record<string, string>) : {};
    const ep = { id: str(r.id) ?? key.slice(key.lastIndexOf('/') + 1), network, labels, addresses, local: hostId === localHost };
    return { kind: 'endpoint', ep, mode: modeOf(str(r.driver)) };
  }
  return { kind: 'other' };
}

/**
 * One host's PolicyInput from the mirrored entries. Pass the same `memo` on every call (one per
 * host: `local` depends on `localHost`) to parse only what changed since the last call.
 */
export function policyInputFromEntries(localHost: string, entries: ReadonlyMap<string, string>, memo?: PolicyViewMemo): PolicyViewResult {
  const skipped: SkippedKey[] = [];
  const policies: Policy[] = [];
  const profiles = new Map<string, Profile>();
  const endpoints: PolicyEndpoint[] = [];
  const networks = new Map<string, PolicyNetwork>();
  if (memo) for (const k of [...memo.keys()]) if (!entries.has(k)) memo.delete(k);
  for (const [key, value] of byKey(entries)) {
    let parsed: ParsedEntry;
    const hit = memo?.get(key);
    if (hit && hit.value === value) parsed = hit.parsed;
    else {
      parsed = parseEntry(localHost, key, value);
      memo?.set(key, { value, parsed });
    }
    if (parsed.kind === 'skip') skipped.push({ key, reason: parsed.reason });
    else if (parsed.kind === 'policy') {
      policies.push(...parsed.policies);
      for (const p of parsed.profiles) profiles.set(p.name, p);
    } else if (parsed.kind === 'endpoint') {
      endpoints.push(parsed.ep);
      if (!networks.has(parsed.ep.network)) networks.set(parsed.ep.network, { name: parsed.ep.network, mode: parsed.mode });
    }
  }
  // Network objects are built fresh each call: the profile is attached to them below.
  for (const [name, profile] of profiles) {
    const n = networks.get(name);
    if (n) n.profile = profile;
  }
  return { input: { policies, endpoints, networks: [...networks.values()] }, skipped };
}
