/** Mesh DNS model: gossip merge, aliases, tombstones, restarts, dead/forgotten peers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { MeshNames } from '../../../src/mesh/dns/mesh-names.js';

const sync = (...ns: MeshNames[]): void => {
  for (let r = 0; r < 3; r++) for (const a of ns) for (const b of ns) if (a !== b) b.merge(a.all(), 0);
};

describe('mesh names', () => {
  it('every peer answers for the whole mesh, aliases included, case-insensitively', () => {
    const a = new MeshNames('a');
    const b = new MeshNames('b');
    a.set('c1', ['web', 'www'], ['10.32.0.5'], 1);
    b.set('c2', ['Web'], ['10.32.1.5'], 1);
    b.set('c3', ['db'], ['10.32.1.6'], 1);
    sync(a, b);
    for (const p of [a, b]) {
      assert.deepEqual(p.lookup('web'), ['10.32.0.5', '10.32.1.5']);
      assert.deepEqual(p.lookup('WWW.'), ['10.32.0.5']);
      assert.deepEqual(p.lookup('db'), ['10.32.1.6']);
      assert.deepEqual(p.lookup('nope'), []);
      assert.deepEqual(p.lookup('bad..name'), []);
      assert.deepEqual(p.reverse('10.32.0.5'), ['web']);
    }
  });

  it('a removal is a tombstone: a stale copy does not bring the name back; tombstones are collected later', () => {
    const a = new MeshNames('a');
    const b = new MeshNames('b');
    a.set('c1', ['web'], ['10.32.0.5'], 1);
    sync(a, b);
    const stale = b.all();
    a.remove('c1', 2);
    assert.equal(a.remove('c1', 3), undefined, 'removing twice is a no-op');
    sync(a, b);
    b.merge(stale, 5);
    assert.deepEqual(b.lookup('web'), []);
    b.collect(10, 1);
    assert.equal(b.all().length, 0);
  });

  it('records of a peer that is not alive are hidden, and dropped when it is forgotten', () => {
    const a = new MeshNames('a');
    const b = new MeshNames('b');
    b.set('c2', ['db'], ['10.32.1.6'], 1);
    sync(a, b);
    assert.deepEqual(
      a.lookup('db', (o) => o !== 'b'),
      [],
    );
    assert.equal(a.dropPeer('b'), 1);
    assert.deepEqual(a.lookup('db'), []);
  });

  it('a forgotten peer’s records are not taken back from a peer that has not heard yet', () => {
    const a = new MeshNames('a');
    const b = new MeshNames('b');
    const c = new MeshNames('c');
    b.set('c2', ['db'], ['10.32.1.6'], 1);
    sync(a, b, c);
    assert.equal(a.dropPeer('b'), 1, 'a forgets b');
    const gone = (o: string): boolean => o !== 'b';
    assert.deepEqual(a.merge(c.all(), 5, gone), [], 'c still gossips b’s record: not news for a');
    assert.equal(a.all().length, 0);
    assert.equal(a.merge(c.all(), 5).length, 1, 'without the check the record would come back (and never be dropped again)');
    a.set('c1', ['web'], ['10.32.0.5'], 6);
    const own = a.all();
    const fresh = new MeshNames('a');
    assert.equal(fresh.merge(own, 7, () => false).length, 1, 'records about ourselves are never skipped (a restart outbids them)');
  });

  it('a restarted peer outbids records of its previous run', () => {
    const a1 = new MeshNames('a');
    const b = new MeshNames('b');
    a1.set('old', ['ghost'], ['10.32.0.9'], 100);
    sync(a1, b);
    const a2 = new MeshNames('a'); // restarted: knows nothing
    const news = a2.merge(b.all(), 200);
    assert.equal(news.length, 1);
    assert.equal(news[0]!.deleted, true, 'it buries its old record');
    sync(a2, b);
    assert.deepEqual(b.lookup('ghost'), []);
  });

  it('refuses invalid names', () => {
    const a = new MeshNames('a');
    assert.throws(() => a.set('x', ['bad name'], [], 1), /not a valid DNS name/);
    assert.throws(() => a.set('x', [], [], 1), /at least one name/);
  });
});
