/** The embedded DNS's guards, pure: header screening, header-only replies, per-source buckets, TCP fairness. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import { headerOnlyReply, readHeader, screen } from '../../src/dns/header-guard.js';
import { SourceLimiter } from '../../src/dns/source-limiter.js';
import { TcpAdmission } from '../../src/dns/tcp-admission.js';
import { RCODE } from '../../src/dns/answer.js';

const query = (extra: Partial<dnsPacket.Packet> = {}): Buffer =>
  dnsPacket.encode({ type: 'query', id: 0x1234, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name: 'web', type: 'A' }], ...extra });

describe('header screening', () => {
  it('lets a proper single-question query through to decoding', () => {
    assert.equal(screen(query()), 'decode');
    const edns = query({
      additionals: [
        { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
      ],
    });
    assert.equal(screen(edns), 'decode');
  });
  it('rejects counts the packet cannot hold, from the header alone and fast', () => {
    const junk = Buffer.alloc(12, 0xff);
    junk[2] = 0x01;
    junk[3] = 0;
    assert.deepEqual(screen(junk), { rcode: RCODE.FORMERR });
    // A header claiming 65535 records of each kind is judged from its 12 bytes: the same verdict
    // whatever follows, so nothing past the header is read (its cost: bench/dns-flood.ts).
    assert.deepEqual(screen(Buffer.concat([junk, Buffer.alloc(500, 0xab)])), { rcode: RCODE.FORMERR });
    const noQuestion = query();
    noQuestion.writeUInt16BE(0, 4);
    assert.deepEqual(screen(noQuestion), { rcode: RCODE.FORMERR });
    const claimsMore = query();
    claimsMore.writeUInt16BE(3, 10); // three additional records that are not there
    assert.deepEqual(screen(claimsMore), { rcode: RCODE.FORMERR });
  });
  it('drops responses and runts, answers other opcodes NOTIMP', () => {
    assert.equal(screen(Buffer.alloc(11)), 'drop');
    assert.equal(screen(dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'x', type: 'A' }] })), 'drop');
    const notify = query();
    notify[2] = (4 << 3) | 0x01;
    assert.deepEqual(screen(notify), { rcode: RCODE.NOTIMP });
  });
  it('builds a valid header-only reply with the query id and RD', () => {
    const r = headerOnlyReply(query(), RCODE.REFUSED);
    assert.equal(r.length, 12);
    const d = dnsPacket.decode(r);
    assert.equal(d.id, 0x1234);
    assert.equal(d.type, 'response');
    assert.equal((d as unknown as { rcode: string }).rcode, 'REFUSED');
    assert.equal(d.flag_rd, true);
    assert.equal(readHeader(r)!.response, true);
  });
});

describe('per-source work limits', () => {
  it('allows a burst, then the sustained rate, per source', () => {
    const l = new SourceLimiter({ perSecond: 10, burst: 5 });
    let t = 0;
    const ok = (src: string): boolean => l.take(src, t);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => ok('a')),
      [true, true, true, true, true, false],
    );
    assert.equal(ok('b'), true, 'another source has its own bucket');
    t = 100; // 100 ms: one more token for a
    assert.equal(ok('a'), true);
    assert.equal(ok('a'), false);
    assert.equal(l.refused, 2);
  });
  it('bounds memory by forgetting the least recently seen source', () => {
    const l = new SourceLimiter({ perSecond: 1, burst: 1 }, 3);
    for (const s of ['a', 'b', 'c']) l.take(s, 0);
    l.take('a', 0); // a is now the most recent
    l.take('d', 0); // evicts b
    assert.equal(l.sources, 3);
    assert.equal(l.take('b', 0), true, 'b starts afresh');
  });
});

describe('TCP admission', () => {
  it('caps connections per source', () => {
    const a = new TcpAdmission<number>({ perSource: 2, total: 10 });
    assert.deepEqual(a.admit('x', 1), { admit: true });
    assert.deepEqual(a.admit('x', 2), { admit: true });
    assert.deepEqual(a.admit('x', 3), { admit: false });
    a.release(1);
    assert.deepEqual(a.admit('x', 3), { admit: true });
  });
  it('a full listener makes the busiest source give up its oldest connection to a newcomer', () => {
    const a = new TcpAdmission<string>({ perSource: 8, total: 4 });
    for (const c of ['h1', 'h2', 'h3', 'h4']) a.admit('hog', c);
    assert.deepEqual(a.admit('quiet', 'q1'), { admit: true, evict: 'h1' });
    assert.equal(a.holders('hog'), 3);
    assert.equal(a.size, 4);
    // Sources with equal shares do not evict each other.
    const b = new TcpAdmission<string>({ perSource: 8, total: 2 });
    b.admit('x', 'x1');
    b.admit('y', 'y1');
    assert.deepEqual(b.admit('z', 'z1'), { admit: false });
  });
});
