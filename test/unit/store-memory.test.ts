import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/memory-store.js';
import { LockQueue } from '../../src/store/lock-queue.js';
import { runStoreConformance } from './store-conformance.js';

runStoreConformance('memory', async () => new MemoryStore());

describe('memory store specifics', () => {
  it('grants a contended lock in arrival order', async () => {
    const s = new MemoryStore();
    const order: number[] = [];
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    const first = s.withLock('L', () => gate);
    const rest = [1, 2, 3, 4].map((i) => s.withLock('L', async () => void order.push(i)));
    open();
    await Promise.all([first, ...rest]);
    assert.deepEqual(order, [1, 2, 3, 4]);
    await s.close();
  });

  it('a timed-out waiter leaves the queue without blocking the next one', async () => {
    const q = new LockQueue();
    const release = await q.acquire('L', 100);
    const late = q.acquire('L', 20);
    const patient = q.acquire('L', 2000);
    await assert.rejects(late, { code: 'WEFT_TIMEOUT' });
    release();
    const release2 = await patient;
    assert.equal(q.isHeld('L'), true);
    release2();
    release2(); // idempotent
    assert.equal(q.isHeld('L'), false);
  });

  it('does not deliver watch events re-entrantly inside commit', async () => {
    const s = new MemoryStore();
    let delivered = 0;
    s.watch('', () => delivered++);
    const p = s.commit({ puts: [{ key: 'k', value: '1' }] });
    assert.equal(delivered, 0);
    await p;
    await new Promise((r) => setImmediate(r));
    assert.equal(delivered, 1);
    await s.close();
  });
});
