import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as dnsPacket from 'dns-packet';
import type { Packet, RecordType } from 'dns-packet';
import { DnsRecordTable } from '../../src/dns/records.js';
import { decide, rejectQuery, rotateAnswers, truncatedReply, udpLimit } from '../../src/dns/answer.js';

const N = 'n';
const table = (): DnsRecordTable => {
  const t = new DnsRecordTable();
  t.setSubnets(N, ['10.1.0.0/24']);
  t.setEndpoint(N, 'a', { name: 'web', aliases: ['svc'], ipv4: '10.1.0.2' });
  t.setEndpoint(N, 'b', { name: 'api', aliases: ['svc'], ipv4: '10.1.0.3' });
  return t;
};
/** Round-trip through the codec so the test sees what the server sees. */
const q = (name: string, type: RecordType, extra: Partial<Packet> = {}) =>
  dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 7, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type }], ...extra }));
const opts = { ttl: 600, forward: true };
const rcode = (p: Packet): number => (p.flags ?? 0) & 0xf;

describe('answer decisions', () => {
  it('answers local names authoritatively with TTL 600, RD echoed', () => {
    const d = decide(table(), N, q('WEB', 'A'), opts);
    assert.equal(d.kind, 'reply');
    if (d.kind !== 'reply') return;
    const wire = dnsPacket.decode(dnsPacket.encode(d.packet));
    assert.equal(wire.flag_aa, true);
    assert.equal(wire.flag_rd, true);
    assert.equal(wire.id, 7);
    assert.deepEqual(
      wire.answers!.map((a) => [a.name, 'data' in a ? a.data : null, 'ttl' in a ? a.ttl : null]),
      [['WEB', '10.1.0.2', 600]],
    );
  });

  it('gives NODATA for other types of a local name and forwards unknown names', () => {
    const d = decide(table(), N, q('web', 'MX'), opts);
    assert.ok(d.kind === 'reply' && d.packet.answers!.length === 0 && rcode(d.packet) === 0);
    assert.equal(decide(table(), N, q('example.com', 'A'), opts).kind, 'forward');
  });

  it('refuses unknown names on a network that may not forward', () => {
    const d = decide(table(), N, q('example.com', 'A'), { ttl: 600, forward: false });
    assert.ok(d.kind === 'reply' && rcode(d.packet) === 5);
  });

  it('answers PTR locally, NXDOMAIN inside the subnets, forwards outside', () => {
    const t = table();
    const hit = decide(t, N, q('2.0.1.10.in-addr.arpa', 'PTR'), opts);
    assert.ok(hit.kind === 'reply' && hit.packet.answers![0]!.type === 'PTR');
    const miss = decide(t, N, q('99.0.1.10.in-addr.arpa', 'PTR'), opts);
    assert.ok(miss.kind === 'reply' && rcode(miss.packet) === 3);
    assert.equal(decide(t, N, q('8.8.8.8.in-addr.arpa', 'PTR'), opts).kind, 'forward');
  });

  it('offers one rotation per answer for shared aliases', () => {
    const d = decide(table(), N, q('svc', 'A'), opts);
    assert.ok(d.kind === 'reply');
    if (d.kind !== 'reply') return;
    assert.equal(d.rotations, 2);
    const r1 = rotateAnswers(d.packet, 1);
    assert.deepEqual(
      r1.answers!.map((a) => ('data' in a ? a.data : null)),
      d.packet.answers!.map((a) => ('data' in a ? a.data : null)).reverse(),
    );
  });

  it('rejects what is not a single-question QUERY', () => {
    const resp = dnsPacket.decode(dnsPacket.encode({ type: 'response', id: 1, questions: [{ name: 'x', type: 'A' }] }));
    assert.equal(rejectQuery(resp), 'drop');
    const none = dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 1, questions: [] }));
    const r = rejectQuery(none);
    assert.ok(r && r !== 'drop' && rcode(r) === 1);
    const notify = dnsPacket.decode(dnsPacket.encode({ type: 'query', id: 1, flags: 4 << 11, questions: [{ name: 'x', type: 'SOA' }] }));
    const n = rejectQuery(notify);
    assert.ok(n && n !== 'drop' && rcode(n) === 4);
  });

  it('sizes UDP replies by EDNS and truncates by setting TC', () => {
    assert.equal(udpLimit(q('x', 'A')), 512);
    const edns = q('web', 'A', {
      additionals: [
        { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
      ],
    });
    assert.equal(udpLimit(edns), 1232);
    const d = decide(table(), N, edns, opts);
    assert.ok(d.kind === 'reply');
    if (d.kind !== 'reply') return;
    assert.equal(d.packet.additionals![0]!.type, 'OPT', 'EDNS answered with EDNS');
    const tc = dnsPacket.decode(dnsPacket.encode(truncatedReply(d.packet)));
    assert.equal(tc.flag_tc, true);
    assert.equal(tc.answers!.length, 0);
    assert.equal(tc.questions!.length, 1);
  });
});
