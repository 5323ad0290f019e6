/**
 * Invariants the underlay drivers (macvlan, ipvlan) share: the parent is there and up, each
 * endpoint's child is in its sandbox as recorded, and no link with one of the driver's names
 * outlives its record. Each comes with its repair, the driver's own ensure operation.
 */
import type { EndpointContext, HostContext, Invariant, ModelView, NetworkContext } from '../driver.js';
import type { IfnameScheme } from '../ifnames.js';
import { parentProblems } from './parent-link.js';
import { childProblems, type ChildKind } from './underlay-child.js';

/** `<driver>.parent`: a given parent exists and is up; one weft made is re-made or brought up by the repair. */
export function parentInvariant(driver: string, repair: (c: NetworkContext) => Promise<void>): Invariant<NetworkContext> {
  return {
    id: `${driver}.parent`,
    holds: "the network's parent interface exists and is up (weft re-makes a parent it made; a given one is the operator's)",
    async check(c) {
      return parentProblems(c.kernel.host(), c.network);
    },
    repair,
  };
}

/**
 * `<driver>.child`: the endpoint's child is in its sandbox, of the driver's kind and mode, up,
 * with its addresses and default route. A runtime-placed child is the runtime's (as a bridge's).
 */
export function childInvariant(
  kind: ChildKind,
  opts: { defaultViaDevice?: (c: EndpointContext) => boolean },
  repair: (c: EndpointContext) => Promise<void>,
): Invariant<EndpointContext> {
  return {
    id: `${kind}.child`,
    holds: `the endpoint's ${kind} child is in its sandbox in the network's mode, up, with its addresses and default route`,
    async check(c) {
      if (c.endpoint.placement === 'runtime') return [];
      return childProblems(c, kind, { defaultViaDevice: opts.defaultViaDevice?.(c) ?? false });
    },
    repair,
  };
}

/** One name scheme a driver sweeps: links of that kind with such a name that no record wants. */
export interface Sweep {
  scheme: IfnameScheme;
  kind: string;
  wanted(m: ModelView): ReadonlySet<string>;
}

function orphans(c: HostContext, sweeps: readonly Sweep[]): { index: number; name: string }[] {
  const wanted = sweeps.map((s) => s.wanted(c.model));
  return c.kernel
    .host()
    .links()
    .filter((l) => sweeps.some((s, i) => s.scheme.pattern.test(l.name) && l.kind === s.kind && !wanted[i]!.has(l.name)));
}

/** `<driver>.no-orphans` over the driver's name schemes (crash leftovers: only names from ifnames.ts). */
export function noOrphansInvariant(driver: string, holds: string, sweeps: readonly Sweep[]): Invariant<HostContext> {
  return {
    id: `${driver}.no-orphans`,
    holds,
    async check(c) {
      return orphans(c, sweeps).map((l) => `link ${l.name} looks like weft's but has no record`);
    },
    async repair(c) {
      // A parent goes with its children; no record wants either.
      for (const l of orphans(c, sweeps)) c.kernel.host().deleteLink(l.index, { ignoreMissing: true });
    },
  };
}
