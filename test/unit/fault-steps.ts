/**
 * Fault injection at each kernel step of a controller operation on the fake kernel (shared by
 * controller-faults and macvlan-fake-kernel): count the steps of a fault-free run, then for each
 * step a fresh world, the setup, a fault there, and a check that the operation failed with the
 * injected error and left everything as it was.
 *
 * One thing is allowed to move: the round-robin cursor of a network's addresses
 * (`ipam/<net>/<fam>/last`). Like Docker's IPAM it only moves forward, so a released address is
 * not handed out again at once — also when the claim was rolled back.
 */
import assert from 'node:assert/strict';
import { fakeWorld, dumpStore, listFiles, type FakeWorld } from '../fakes/fake-world.js';
import { INJECTED } from '../fakes/fake-kernel.js';
import type { Controller } from '../../src/controller/controller.js';

export type Setup = (c: Controller, w: FakeWorld) => Promise<void>;
export type Op = (c: Controller, w: FakeWorld) => Promise<unknown>;

export interface WorldState {
  kernel: unknown;
  store: Record<string, string>;
  files: string[];
}

/** The fake kernel, the store (without the address cursors) and the run directory's files. */
export async function stateOf(w: FakeWorld): Promise<WorldState> {
  const store = await dumpStore(w.store);
  for (const k of Object.keys(store)) if (/^ipam\/[^/]+\/[46]\/last$/.test(k)) delete store[k];
  return { kernel: w.kernel.snapshot(), store, files: listFiles(w.runDir) };
}

/** The injected error, alone or among the causes of an AggregateError. */
export function isInjected(err: unknown): boolean {
  if (err instanceof AggregateError) return err.errors.some(isInjected);
  return err instanceof Error && err.message.includes(INJECTED);
}

/** Steps the operation takes on a fault-free run (from a fresh world with the same setup). */
export async function countSteps(setup: Setup, op: Op): Promise<number> {
  const w = await fakeWorld();
  try {
    await setup(w.controller, w);
    const before = w.kernel.steps.length;
    await op(w.controller, w);
    return w.kernel.steps.length - before;
  } finally {
    await w.close();
  }
}

/**
 * For each step of op: a fresh world, the setup, a fault at that step, and a check that nothing
 * changed. `afterFault` runs between the failure and that check (e.g. the repair a leftover
 * calls for). Returns the number of steps.
 */
export async function faultAtEachStep(setup: Setup, op: Op, afterFault?: (w: FakeWorld) => Promise<void>): Promise<number> {
  const n = await countSteps(setup, op);
  assert.ok(n > 0, 'the operation takes kernel steps');
  for (let i = 1; i <= n; i++) {
    const w = await fakeWorld();
    try {
      await setup(w.controller, w);
      const before = await stateOf(w);
      w.kernel.faultAt = w.kernel.steps.length + i;
      await assert.rejects(() => op(w.controller, w), isInjected, `a fault at step ${i} of ${n} makes the operation fail`);
      assert.ok(w.kernel.faulted, `step ${i} was reached`);
      await afterFault?.(w);
      assert.deepEqual(await stateOf(w), before, `after a fault at step ${i}/${n} (${w.kernel.faulted}) everything is as before`);
    } finally {
      await w.close();
    }
  }
  return n;
}
