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

export async function runChecks(c: CheckContext, only?: CheckId[]): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const [id, check] of CHECKS) {
    if (only && !only.includes(id)) continue;
    c.log(`check ${id}`);
    const claimed = c.adapter.claims[id];
    try {
      const r = await check(c);
      out.push({ ...r, ...(claimed ? { claimed } : {}) });
    } catch (err) {
      // The experiment itself broke: say so in the report instead of guessing an outcome.
      out.push({
        id,
        outcome: 'n-a',
        failed: true,
        evidence: `the experiment failed: ${(err as Error).message.slice(0, 300)}`,
        ...(claimed ? { claimed } : {}),
      });
    }
  }
  return out;
}
