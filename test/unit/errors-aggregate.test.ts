/** Several failures of one operation: every cause kept, the first one's code at the edge. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorList, KernelError, NotFoundError, asWeftError, combineErrors } from '../../src/errors.js';

describe('errors never vanish', () => {
  it('one failure is kept as it is; several become an AggregateError with all causes', () => {
    const a = new KernelError('link del wfv1', 'EIO');
    assert.equal(combineErrors('x', [a]), a);
    const b = new NotFoundError('sandbox', 's');
    const c = combineErrors('sandbox rm s', [a, b]);
    assert.ok(c instanceof AggregateError);
    assert.deepEqual(c.errors, [a, b]);
    assert.match(c.message, /^sandbox rm s: link del wfv1: EIO; sandbox "s" not found$/);
  });

  it("the REST/CNI/Docker edges see the first failure's code and every message", () => {
    const e = asWeftError(combineErrors('connect', [new KernelError('link add', 'EEXIST'), new Error('rollback: EBUSY')]));
    assert.equal(e.code, 'WEFT_KERNEL');
    assert.match(e.message, /link add: EEXIST; rollback: EBUSY/);
  });

  it('ErrorList runs every step, keeps going past failures, and throws them together', async () => {
    const l = new ErrorList('teardown');
    const ran: number[] = [];
    assert.equal(await l.run(() => ran.push(1)), true);
    assert.equal(
      await l.run(() => {
        throw new Error('two');
      }),
      false,
    );
    assert.equal(await l.run(async () => ran.push(3)), true);
    assert.deepEqual(ran, [1, 3]);
    assert.throws(() => l.throwIfAny(), /two/);
    new ErrorList('nothing failed').throwIfAny();
  });
});
