/**
 * Address reservations for owners that are not weft endpoints: the `weft-ipam` CNI plugin
 * (used by other plugins such as the reference bridge) and Docker's IPAM driver. They share
 * the network's allocation keys, so an address is never handed out twice whichever path asks.
 * Owners are strings starting with "ext:" (e.g. "ext:cni:<container>:<ifname>"); the
 * reconciler leaves them alone — their lifetime belongs to the caller (DEL / ReleaseAddress).
 */
import type { ControllerContext } from './context.js';
import type { IpamPoolConfig, NetworkRecord } from '../model/types.js';
import { InvalidArgumentError } from '../errors.js';
import { checkStaticAddress, nextFreeAddress } from '../ipam/allocator.js';
import { json, keys, withRetry } from '../store/records.js';

export const EXTERNAL_OWNER_PREFIX = 'ext:';

const poolOf = (net: NetworkRecord, fam: 4 | 6): IpamPoolConfig | undefined =>
  net.ipam.config.find((p) => (fam === 6) === p.subnet.includes(':'));

function checkOwner(owner: string): void {
  if (!owner.startsWith(EXTERNAL_OWNER_PREFIX) || owner.length > 512)
    throw new InvalidArgumentError('owner', `external owners must start with "${EXTERNAL_OWNER_PREFIX}"`);
}

/**
 * Reserve an address in one family of a network for an external owner. Idempotent: the same
 * owner asking again gets the address it already holds.
 */
export async function reserveAddress(
  ctx: ControllerContext,
  net: NetworkRecord,
  fam: 4 | 6,
  owner: string,
  requested?: string,
): Promise<string> {
  checkOwner(owner);
  if (net.scope === 'global')
    throw new InvalidArgumentError('network', `"${net.name}" is global: its addresses come from cluster blocks, not external reservations`);
  const pool = poolOf(net, fam);
  if (!pool) throw new InvalidArgumentError(fam === 4 ? 'ip' : 'ip6', `network "${net.name}" has no IPv${fam} subnet`);
  return withRetry(async () => {
    const used = await ctx.records.allocations(net, fam);
    for (const [addr, who] of used) if (who === owner && (!requested || requested === addr)) return addr;
    const addr = requested
      ? checkStaticAddress(pool, requested, new Set(used.keys()))
      : nextFreeAddress(pool, new Set(used.keys()), await ctx.records.lastAllocated(net, fam));
    await ctx.records.commitOrConflict(
      {
        checks: [{ key: keys.ipamAddr(net.id, fam, addr), version: 0 }],
        puts: [
          { key: keys.ipamAddr(net.id, fam, addr), value: json(owner) },
          ...(requested ? [] : [{ key: keys.ipamLast(net.id, fam), value: json(addr) }]),
        ],
      },
      `reserve address in ${net.name}`,
      net.scope,
    );
    return addr;
  });
}

/** Release every address the owner holds in a network (missing = success). Returns them. */
export async function releaseOwner(ctx: ControllerContext, net: NetworkRecord, owner: string): Promise<string[]> {
  checkOwner(owner);
  const released: string[] = [];
  const store = ctx.records.storeOf(net.scope);
  for (const fam of [4, 6] as const) {
    for (const e of await store.list(keys.ipamPrefix(net.id, fam))) {
      if (JSON.parse(e.value) !== owner) continue;
      if (await store.commit({ checks: [{ key: e.key, version: e.version }], deletes: [e.key] })) released.push(e.key.split('/').pop()!);
    }
  }
  return released;
}

/** Addresses held by an owner in a network. */
export async function addressesOf(
  ctx: ControllerContext,
  net: NetworkRecord,
  owner: string,
): Promise<{ family: 4 | 6; address: string }[]> {
  const out: { family: 4 | 6; address: string }[] = [];
  for (const fam of [4, 6] as const) {
    for (const [addr, who] of await ctx.records.allocations(net, fam)) if (who === owner) out.push({ family: fam, address: addr });
  }
  return out;
}
