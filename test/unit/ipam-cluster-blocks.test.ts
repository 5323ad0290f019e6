import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  blockAddress,
  blockFromKeyName,
  blockKeyName,
  blockOf,
  claimOrder,
  freeCount,
  freeOffset,
  poolBlocks,
  reservedOffsets,
  resolveClusterPool,
  withoutHost,
  type BlockRecord,
} from '../../src/ipam/cluster-blocks.js';
import { formatCidr } from '../../src/ipam/cidr.js';
import { WeftError } from '../../src/errors.js';

const pool = resolveClusterPool({ id: 'net1', cidr: '10.20.0.0/24', reserved: ['10.20.0.1'] });

describe('cluster IPAM blocks (pure)', () => {
  it('defaults to /26 blocks for IPv4 and /122 for IPv6, never larger than the pool', () => {
    assert.equal(pool.blockPrefix, 26);
    assert.equal(resolveClusterPool({ id: 'v6', cidr: 'fd00:1::/64' }).blockPrefix, 122);
    assert.equal(resolveClusterPool({ id: 'tiny', cidr: '10.0.0.0/28' }).blockPrefix, 28);
    assert.deepEqual(poolBlocks(pool).map(formatCidr), ['10.20.0.0/26', '10.20.0.64/26', '10.20.0.128/26', '10.20.0.192/26']);
  });

  it('refuses bad pools with the field named', () => {
    const bad: [Parameters<typeof resolveClusterPool>[0], string][] = [
      [{ id: 'a/b', cidr: '10.0.0.0/24' }, 'pool'],
      [{ id: 'p', cidr: '10.0.0.1/24' }, 'subnet'],
      [{ id: 'p', cidr: '10.0.0.0/24', blockPrefix: 20 }, 'block-size'],
      [{ id: 'p', cidr: '10.0.0.0/8', blockPrefix: 12 }, 'block-size'],
      [{ id: 'p', cidr: '10.0.0.0/24', reserved: ['10.0.1.1'] }, 'reserved'],
    ];
    for (const [input, field] of bad) {
      assert.throws(
        () => resolveClusterPool(input),
        (e: unknown) => e instanceof WeftError && e.field === field,
      );
    }
  });

  it('maps addresses to blocks and offsets and back', () => {
    assert.deepEqual(blockOf(pool, '10.20.0.70'), { cidr: '10.20.0.64/26', offset: 6 });
    assert.equal(blockOf(pool, '10.21.0.1'), undefined);
    assert.equal(blockAddress('10.20.0.64/26', 6), '10.20.0.70');
    assert.equal(blockKeyName('10.20.0.64/26'), '10.20.0.64-26');
    assert.equal(blockFromKeyName('fd00::40-122'), 'fd00::40/122');
  });

  it('keeps the pool network, broadcast and reserved addresses out of every block', () => {
    assert.deepEqual(
      [...reservedOffsets(pool, '10.20.0.0/26')].sort((a, b) => a - b),
      [0, 1],
    );
    assert.deepEqual([...reservedOffsets(pool, '10.20.0.192/26')], [63]);
    assert.deepEqual([...reservedOffsets(pool, '10.20.0.64/26')], []);
    const first: BlockRecord = { cidr: '10.20.0.0/26', owner: 'h1', allocations: {} };
    assert.equal(freeOffset(pool, first), 2);
    assert.equal(freeCount(pool, first), 62);
    const full: BlockRecord = {
      cidr: '10.20.0.64/26',
      owner: 'h1',
      allocations: Object.fromEntries(Array.from({ length: 64 }, (_, i) => [String(i), { handle: `e${i}`, host: 'h1' }])),
    };
    assert.equal(freeOffset(pool, full), undefined);
    assert.equal(freeCount(pool, full), 0);
  });

  it('orders unclaimed blocks from a host-specific start, so concurrent claimers spread out', () => {
    const claimed = new Set(['10.20.0.0/26']);
    const a = claimOrder(pool, claimed, 'host-a');
    assert.equal(a.length, 3);
    assert.ok(!a.includes('10.20.0.0/26'));
    const starts = new Set(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'].map((h) => claimOrder(pool, new Set(), h)[0]));
    assert.ok(starts.size > 1, 'different hosts start at different blocks');
    assert.deepEqual(claimOrder(pool, new Set(poolBlocks(pool).map(formatCidr)), 'h1'), []);
  });

  // Termination is the test: listing 2^58 blocks would never end.
  it('finds free blocks of a huge IPv6 pool without listing its 2^58 blocks', { timeout: 10_000 }, () => {
    const v6 = resolveClusterPool({ id: 'p6', cidr: 'fd00:71::/64' });
    const first = claimOrder(v6, new Set(), 'h1');
    assert.equal(first.length, 64);
    assert.match(first[0]!, /^fd00:71::.*\/122$/);
    const next = claimOrder(v6, new Set(first), 'h1', 1);
    assert.equal(next.length, 1);
    assert.ok(!first.includes(next[0]!), 'claimed blocks are skipped');
  });

  it('removes a gone host from a block, keeping borrowed addresses of live hosts', () => {
    const b: BlockRecord = {
      cidr: '10.20.0.64/26',
      owner: 'dead',
      allocations: { '1': { handle: 'x', host: 'dead' }, '2': { handle: 'y', host: 'live' } },
    };
    const r = withoutHost(b, 'dead');
    assert.equal(r.removed, 1);
    assert.equal(r.empty, false);
    assert.equal(r.block.owner, null);
    assert.deepEqual(Object.keys(r.block.allocations), ['2']);
    assert.equal(withoutHost(r.block, 'live').empty, true);
  });
});
