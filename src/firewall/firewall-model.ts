/**
 * The in-memory model a backend keeps: validated, canonical, conflict-free. Every change is
 * checked here before any nft script is built, so bad input changes nothing. Pure.
 */
import { ConflictError, InvalidArgumentError, NotFoundError } from '../errors.js';
import { cidrOverlaps, parseCidr } from '../ipam/cidr.js';
import { assertNoConflicts } from './port-conflicts.js';
import type { FirewallState, FwNetwork, FwPortMapping } from './types.js';
import { normalizeNetwork, normalizePortMapping, portKey } from './validate.js';

function sameNetwork(a: FwNetwork, b: FwNetwork): boolean {
  return JSON.stringify(normalizeNetwork(a)) === JSON.stringify(normalizeNetwork(b));
}

/**
 * Validate `n` against the networks already in the model. Returns the canonical network, or
 * undefined when an identical one is already there (add is an ensure).
 */
export function admitNetwork(networks: readonly FwNetwork[], raw: FwNetwork): FwNetwork | undefined {
  const n = normalizeNetwork(raw);
  const same = networks.find((x) => x.id === n.id);
  if (same) {
    if (sameNetwork(same, n)) return undefined;
    throw new ConflictError('network.id', `network ${n.id} is already set up with different settings; remove it first`);
  }
  const byBridge = networks.find((x) => x.bridge === n.bridge);
  if (byBridge) throw new ConflictError('network.bridge', `bridge ${n.bridge} already belongs to network ${byBridge.id}`);
  for (const s of [...n.subnets4, ...n.subnets6]) {
    const c = parseCidr(s, 'network.subnets');
    for (const other of networks) {
      const hit = [...other.subnets4, ...other.subnets6].find((o) => cidrOverlaps(c, parseCidr(o, 'network.subnets')));
      if (hit) throw new ConflictError('network.subnets', `subnet ${s} overlaps ${hit} of network ${other.id}`);
    }
  }
  return n;
}

/**
 * Validate mappings against the model: canonical form, known network, no host-port conflict.
 * Returns only the ones not already published (publishing twice is a no-op).
 */
export function admitPorts(state: FirewallState, raw: readonly FwPortMapping[]): FwPortMapping[] {
  if (!Array.isArray(raw)) throw new InvalidArgumentError('ports', 'must be an array');
  const have = new Set(state.ports.map(portKey));
  const fresh: FwPortMapping[] = [];
  raw.forEach((r: FwPortMapping, i) => {
    const m = normalizePortMapping(r, `ports[${i}]`);
    if (!state.networks.some((n) => n.id === m.networkId)) throw new NotFoundError('network', m.networkId);
    const k = portKey(m);
    if (!have.has(k)) {
      have.add(k);
      fresh.push(m);
    }
  });
  assertNoConflicts(state.ports, fresh, state.networks);
  return fresh;
}

/** A full state validated from scratch (what init() accepts). */
export function normalizeState(state: FirewallState): FirewallState {
  if (typeof state !== 'object' || state === null || !Array.isArray(state.networks) || !Array.isArray(state.ports)) {
    throw new InvalidArgumentError('state', 'must be {networks: [], ports: []}');
  }
  const networks: FwNetwork[] = [];
  for (const n of state.networks) {
    const ok = admitNetwork(networks, n);
    if (ok) networks.push(ok);
  }
  const ports = admitPorts({ networks, ports: [] }, state.ports);
  return { networks, ports };
}
