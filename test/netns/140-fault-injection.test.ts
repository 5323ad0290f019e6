/**
 * SIGKILL weftd (and the CLI) at random points while operations run; after every restart the
 * invariant checker must find nothing wrong, and at the end nothing is left in the kernel.
 * CI runs a bounded size (WEFT_FAULT_KILLS, default 40); `npm run faults` runs 500.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runFaultInjection } from '../../src/lab/fault-injection.js';

describe('fault injection', () => {
  it('random SIGKILLs leave no invariant violation and no leak', async () => {
    const kills = Number(process.env.WEFT_FAULT_KILLS ?? 40);
    const seed = Number(process.env.WEFT_FAULT_SEED ?? 20261123);
    const r = await runFaultInjection({ kills, seed, maxMs: 150_000 });
    console.log(
      `fault injection: seed ${seed}, ${r.kills} kill points, ${r.operations} operations (${r.operationErrors} refused or cut), ${r.violations.length} with violations, ${r.leaks.length} leaks, ${r.ms} ms`,
    );
    assert.ok(r.kills >= Math.min(kills, 20), `made ${r.kills} kill points`);
    assert.deepEqual(r.violations, []);
    assert.deepEqual(r.leaks, []);
  });
});
