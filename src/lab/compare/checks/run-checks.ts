/** Every check, in the seed table's order; a check that throws is reported as failed, not skipped. */
import type { CheckId, CheckResult } from '../compare-types.js';
import type { Check, CheckContext } from './check-context.js';
import { namesCheck, storeCheck, vnicCheck } from './host-checks.js';
import { protocolCheck } from './protocol-check.js';
import { isolationCheck, overlapCheck, subnetRestrictionCheck } from './tenant-checks.js';
import { encryptionCheck, partialCheck } from './wire-checks.js';

export const CHECKS: [CheckId, Check][] = [
  ['isolation', isolationCheck],
  ['protocols', protocolCheck],
  ['names', namesCheck],
  ['store', storeCheck],
  ['encryption', encryptionCheck],
  ['partial', partialCheck],
  ['vnic', vnicCheck],
  ['overlap', overlapCheck],
  ['subnet-restriction', subnetRestrictionCheck],
];

/**
 * Checks that do not disturb each other run side by side, in two lanes: traffic between the
 * main endpoints (protocols, names, vnic, the encryption capture, which looks for its own
 * marker only) and the tenant networks (isolation, overlap, each on its own network). The
 * rest change what everybody depends on and run alone, in order: the store stopped, the
 * underlay cut, a network on the host's own subnet.
 */
export const LANES: CheckId[][] = [
  ['protocols', 'names', 'vnic', 'encryption'],
  ['isolation', 'overlap'],
];
// subnet-restriction last: a network on the hosts' own subnet may take their routes to the store
// or to each other until it is removed, and nothing else should run beside it.
export const ALONE: CheckId[] = ['store', 'partial', 'subnet-restriction'];

async function one(c: CheckContext, id: CheckId): Promise<CheckResult> {
  const check = CHECKS.find(([x]) => x === id)![1];
  c.log(`check ${id}`);
  const claimed = c.adapter.claims[id];
  try {
    const r = await check(c);
    return { ...r, ...(claimed ? { claimed } : {}) };
  } catch (err) {
    // The experiment itself broke: say so in the report instead of guessing an outcome.
    return {
      id,
      outcome: 'n-a',
      failed: true,
      evidence: `the experiment failed: ${(err as Error).message.slice(0, 300)}`,
      ...(claimed ? { claimed } : {}),
    };
  }
}

export async function runChecks(c: CheckContext, only?: CheckId[]): Promise<CheckResult[]> {
  const want = (id: CheckId) => !only || only.includes(id);
  const done = new Map<CheckId, CheckResult>();
  await Promise.all(
    LANES.map(async (lane) => {
      for (const id of lane.filter(want)) done.set(id, await one(c, id));
    }),
  );
  for (const id of ALONE.filter(want)) done.set(id, await one(c, id));
  // The report keeps the seed table's order.
  return CHECKS.flatMap(([id]) => (done.has(id) ? [done.get(id)!] : []));
}
