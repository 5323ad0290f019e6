/**
 * Semantics shared by the compiler and the CLI/controller: policy order, implicit labels, the
 * default profile, and validation of endpoints and networks handed to the compiler. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { normalizeAddress } from '../ipam/cidr.js';
import { PolicyValidationError } from './policy-errors.js';
import type { Policy, PolicyEndpoint, PolicyInput, PolicyNetwork, Profile } from './policy-types.js';
import { LABEL_KEY_RE } from './selector-parser.js';
import { type Labels, Selector } from './selector.js';

/** The implicit label every endpoint carries: the name of its network. */
export const NETWORK_LABEL = 'weft.network';
/** Label keys users may not set (weft fills them in). */
export const RESERVED_LABEL_PREFIX = 'weft.';

/** Calico's evaluation order: ascending `order` (missing = last), then name. */
export function comparePolicies(a: Policy, b: Policy): number {
  const oa = a.order ?? Number.POSITIVE_INFINITY;
  const ob = b.order ?? Number.POSITIVE_INFINITY;
  if (oa !== ob) return oa < ob ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** The labels selectors see: the endpoint's own plus `weft.network`. */
export function effectiveLabels(ep: PolicyEndpoint): Labels {
  return { ...ep.labels, [NETWORK_LABEL]: ep.network };
}

/** Selector matching the endpoints of one network. */
export function networkSelector(network: string): Selector {
  return new Selector({ kind: 'eq', key: NETWORK_LABEL, value: network });
}

/**
 * The profile of a network nobody configured, as Calico's Docker integration sets it up and as
 * Docker behaves: ingress only from endpoints of the same network (plus published ports),
 * egress anywhere.
 */
export function defaultProfile(network: string): Profile {
  return {
    name: network,
    ingress: [{ action: 'Allow', source: { selector: networkSelector(network) }, destination: {} }],
    egress: [{ action: 'Allow', source: {}, destination: {} }],
    allowPublished: true,
  };
}

/** The profile in force for a network. */
export function profileOf(network: PolicyNetwork): Profile {
  return network.profile ?? defaultProfile(network.name);
}

const ID_RE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,253}$/;
const NETWORK_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * Labels as stored: any string map. Keys a selector cannot name are simply never matched, and
 * `weft.network` is always overridden, so one odd Docker label never stops enforcement.
 */
function labelMap(labels: unknown, field: string): Labels {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw new InvalidArgumentError(field, 'must be a map of strings');
  for (const [k, v] of Object.entries(labels))
    if (typeof v !== 'string') throw new InvalidArgumentError(`${field}.${k}`, 'label values must be strings');
  return labels as Labels;
}

/** For edges taking labels from users (`weft run --label`): throws unless they are valid and not reserved. */
export function validateLabels(labels: unknown, field: string): Labels {
  if (typeof labels !== 'object' || labels === null || Array.isArray(labels))
    throw new InvalidArgumentError(field, 'must be a map of strings');
  for (const [k, v] of Object.entries(labels)) {
    if (!LABEL_KEY_RE.test(k)) throw new InvalidArgumentError(`${field}.${k}`, 'label names are 1-512 of A-Z a-z 0-9 _ . / -');
    if (k.startsWith(RESERVED_LABEL_PREFIX))
      throw new InvalidArgumentError(`${field}.${k}`, `labels starting with "${RESERVED_LABEL_PREFIX}" are set by weft`);
    if (typeof v !== 'string') throw new InvalidArgumentError(`${field}.${k}`, 'label values must be strings');
    if (v.length > 1024) throw new InvalidArgumentError(`${field}.${k}`, 'label values are at most 1024 characters');
  }
  return labels as Labels;
}

/** Networks by name, validated: names, modes, profiles that belong to them and never Pass. */
export function normalizeNetworks(list: readonly PolicyNetwork[]): Map<string, PolicyNetwork> {
  const networks = new Map<string, PolicyNetwork>();
  list.forEach((n, i) => {
    if (!NETWORK_RE.test(n.name))
      throw new InvalidArgumentError(`networks[${i}].name`, `${JSON.stringify(n.name)} is not a valid network name`);
    if (n.mode !== 'routed' && n.mode !== 'bridged') throw new InvalidArgumentError(`networks[${i}].mode`, 'must be "routed" or "bridged"');
    if (networks.has(n.name)) throw new InvalidArgumentError(`networks[${i}].name`, `network "${n.name}" is listed twice`);
    if (n.profile !== undefined && n.profile.name !== n.name) {
      throw new InvalidArgumentError(
        `networks[${i}].profile`,
        `profile "${n.profile.name}" belongs to network "${n.profile.name}", not "${n.name}"`,
      );
    }
    if (n.profile?.ingress.some((r) => r.action === 'Pass') || n.profile?.egress.some((r) => r.action === 'Pass')) {
      throw new PolicyValidationError([
        { path: `networks[${i}].profile`, message: 'Pass is not allowed in a profile (there is nothing after it)' },
      ]);
    }
    networks.set(n.name, n);
  });
  return networks;
}

/** Policies in evaluation order; names must be unique. */
export function normalizePolicies(list: readonly Policy[]): Policy[] {
  const names = new Set<string>();
  list.forEach((p, i) => {
    if (names.has(p.name)) throw new InvalidArgumentError(`policies[${i}].name`, `policy "${p.name}" is listed twice`);
    names.add(p.name);
  });
  return [...list].sort(comparePolicies);
}

/** One endpoint validated on its own (field = `endpoints[i]`): id, known network, canonical addresses. */
export function normalizeEndpoint(ep: PolicyEndpoint, field: string, networks: ReadonlyMap<string, PolicyNetwork>): PolicyEndpoint {
  if (typeof ep.id !== 'string' || !ID_RE.test(ep.id))
    throw new InvalidArgumentError(`${field}.id`, `${JSON.stringify(ep.id)} is not a valid endpoint id`);
  if (!networks.has(ep.network)) throw new InvalidArgumentError(`${field}.network`, `unknown network "${ep.network}"`);
  if (!Array.isArray(ep.addresses)) throw new InvalidArgumentError(`${field}.addresses`, 'must be an array of addresses');
  const addresses = ep.addresses.map((a, j) => normalizeAddress(a, `${field}.addresses[${j}]`));
  return {
    id: ep.id,
    network: ep.network,
    labels: labelMap(ep.labels, `${field}.labels`),
    addresses: [...new Set(addresses)],
    local: ep.local === true,
  };
}

/** Throws unless ids are unique and every address has one owner. */
export function checkEndpointIdentity(endpoints: readonly PolicyEndpoint[]): void {
  const ids = new Set<string>();
  const owners = new Map<string, string>();
  endpoints.forEach((ep, i) => {
    if (ids.has(ep.id)) throw new InvalidArgumentError(`endpoints[${i}].id`, `endpoint "${ep.id}" is listed twice`);
    ids.add(ep.id);
    for (const a of ep.addresses) {
      const other = owners.get(a);
      if (other !== undefined) throw new InvalidArgumentError(`endpoints[${i}].addresses`, `${a} also belongs to endpoint "${other}"`);
      owners.set(a, ep.id);
    }
  });
}

/**
 * Validate and normalise compiler input: unique names and ids, known networks, canonical
 * addresses, one owner per address, policy names unique. Throws with the offending field.
 */
export function normalizeInput(input: PolicyInput): PolicyInput {
  const networks = normalizeNetworks(input.networks);
  const endpoints = input.endpoints.map((ep, i) => normalizeEndpoint(ep, `endpoints[${i}]`, networks));
  checkEndpointIdentity(endpoints);
  return { policies: normalizePolicies(input.policies), endpoints, networks: [...networks.values()] };
}
