/**
 * Finding a free address without reading the whole pool: walk round-robin from the last
 * address handed out and ask the store about one candidate at a time. Allocations are keys
 * (one per address) claimed with a create-only check, so a race costs a retry, never a
 * duplicate. Joins stay O(1) however many endpoints a network has.
 */
import type { ControllerContext } from './context.js';
import type { IpamPoolConfig, NetworkRecord } from '../model/types.js';
import { nextFreeAddress } from '../ipam/allocator.js';
import { keys } from '../store/records.js';

export async function probeFreeAddress(ctx: ControllerContext, net: NetworkRecord, fam: 4 | 6, pool: IpamPoolConfig): Promise<string> {
  const store = ctx.records.storeOf(net.scope);
  const taken = new Set<string>();
  let last = await ctx.records.lastAllocated(net, fam);
  for (;;) {
    // Throws IpamExhaustedError once every candidate is known to be taken.
    const candidate = nextFreeAddress(pool, taken, last);
    if (!(await store.get(keys.ipamAddr(net.id, fam, candidate)))) return candidate;
    taken.add(candidate);
    last = candidate;
  }
}

/** Owner of one address (endpoint id or "ext:…"), or undefined if free. */
export async function ownerOf(ctx: ControllerContext, net: NetworkRecord, fam: 4 | 6, address: string): Promise<string | undefined> {
  const e = await ctx.records.storeOf(net.scope).get(keys.ipamAddr(net.id, fam, address));
  return e === undefined ? undefined : (JSON.parse(e.value) as string);
}
