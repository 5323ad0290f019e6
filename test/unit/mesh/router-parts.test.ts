/** The router's pure parts: TCP framing, control validation, dial backoff, and the sleeve's forwarding decisions. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { encodeFrame, FrameReader, MAX_FRAME } from '../../../src/mesh/wire/frames.js';
import { decodeControl, encodeControl } from '../../../src/mesh/wire/control.js';
import { decodeSwim, DATA_HDR, KIND_DATA } from '../../../src/mesh/wire/datagram.js';
import { ConnectionMaker } from '../../../src/mesh/router/connection-maker.js';
import { Sleeve } from '../../../src/mesh/router/sleeve.js';
import type { PeerConnection } from '../../../src/mesh/router/peer-connection.js';
import { ip4ToNum } from '../../../src/mesh/ring/ipv4.js';

/** A minimal IPv4 header (20 bytes) + payload, with a valid checksum. */
function ipPacket(src: string, dst: string, ttl: number, payload = 'x'): Buffer {
  const p = Buffer.alloc(20 + payload.length);
  p[0] = 0x45;
  p.writeUInt16BE(p.length, 2);
  p[8] = ttl;
  p[9] = 17;
  p.writeUInt32BE(ip4ToNum(src), 12);
  p.writeUInt32BE(ip4ToNum(dst), 16);
  p.write(payload, 20);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  p.writeUInt16BE(~sum & 0xffff, 10);
  return p;
}

const checksumOk = (p: Buffer): boolean => {
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += p.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
};

describe('mesh router parts', () => {
  it('frames survive any chunking; an oversized length is refused', () => {
    const frames = [Buffer.from('a'), Buffer.alloc(70_000, 7), Buffer.alloc(0), Buffer.from('tail')];
    const wire = Buffer.concat(frames.map(encodeFrame));
    for (const step of [1, 3, 4096, wire.length]) {
      const r = new FrameReader();
      const got: Buffer[] = [];
      for (let i = 0; i < wire.length; i += step) got.push(...r.push(wire.subarray(i, i + step)));
      assert.deepEqual(got, frames);
    }
    const bad = Buffer.alloc(4);
    bad.writeUInt32BE(MAX_FRAME + 1);
    assert.throws(() => new FrameReader().push(bad), /limit/);
  });

  it('control and membership messages are validated', () => {
    assert.deepEqual(decodeControl(encodeControl({ t: 'session', idx: 5 })), { t: 'session', idx: 5 });
    assert.throws(() => decodeControl(Buffer.from('{"t":"session","idx":0}')), /malformed/);
    assert.throws(() => decodeControl(Buffer.from('{"t":"exec","cmd":"rm"}')), /malformed/);
    assert.throws(() => decodeControl(Buffer.from('nope')), /not JSON/);
    assert.deepEqual(decodeSwim(Buffer.from('{"msg":{"t":"ack","seq":1,"from":"a"},"updates":[]}')), {
      msg: { t: 'ack', seq: 1, from: 'a' },
      updates: [],
    });
    assert.equal(decodeSwim(Buffer.from('{"updates":[{"t":"alive","name":"a","inc":-1,"addr":"x","meta":""}]}')), undefined);
  });

  it('dial backoff doubles up to its cap and restarts after a success', () => {
    const m = new ConnectionMaker(100, 800, () => 1);
    m.want(['a:1'], 0);
    assert.deepEqual(m.due(0), ['a:1']);
    assert.deepEqual(m.due(99), []);
    assert.deepEqual(m.due(100), ['a:1']);
    assert.deepEqual(m.due(299), []);
    assert.deepEqual(m.due(300), ['a:1']);
    assert.deepEqual(m.due(1100), ['a:1'], 'after 400 ms (due at 700)');
    assert.deepEqual(m.due(1900), ['a:1'], 'after 800 ms');
    assert.deepEqual(m.due(2699), []);
    assert.deepEqual(m.due(2700), ['a:1'], 'capped at 800 ms');
    m.succeeded('a:1');
    m.want(['a:1'], 3000);
    assert.deepEqual(m.due(3000), ['a:1']);
    m.want([], 3100);
    assert.deepEqual(m.due(10_000), [], 'no longer wanted');
  });

  it('sleeve: local destinations go direct, others through the next hop; a relay decrements TTL; no route is counted', () => {
    const sent: { to: string; buf: Buffer }[] = [];
    const delivered: Buffer[] = [];
    const link = (name: string, ip: string): PeerConnection =>
      ({ peerIdx: 7, udpPort: 6783, remoteIp: ip, data: undefined }) as unknown as PeerConnection;
    const links = new Map([
      ['b', link('b', '198.18.0.11')],
      ['c', link('c', '198.18.0.12')],
    ]);
    const owners: [string, string][] = [
      ['198.19.0.0', 'a'],
      ['198.19.1.0', 'b'],
      ['198.19.2.0', 'c'],
      ['198.19.3.0', 'd'],
    ];
    const s = new Sleeve({
      self: 'a',
      ownerOf: (n) => [...owners].reverse().find(([start]) => ip4ToNum(start) <= n)?.[1],
      nextHop: (p) => ({ b: 'b', c: 'c', d: 'c' })[p],
      link: (p) => links.get(p),
      sendUdp: (buf, _port, ip) => sent.push({ to: ip, buf: Buffer.from(buf) }),
      deliver: (pkt) => delivered.push(Buffer.from(pkt)),
    });
    s.fromTun(ipPacket('198.19.0.1', '198.19.1.5', 64));
    s.fromTun(ipPacket('198.19.0.1', '198.19.3.5', 64));
    s.fromTun(ipPacket('198.19.0.1', '10.1.1.1', 64));
    s.fromTun(Buffer.from([0x60, 0, 0, 0]));
    assert.deepEqual(
      sent.map((x) => x.to),
      ['198.18.0.11', '198.18.0.12'],
      'b direct, d via c',
    );
    assert.equal(sent[0]!.buf[0], KIND_DATA);
    assert.equal(s.stats.noRoute, 1);
    assert.equal(s.stats.notIpv4, 1);
    // From b: one for us (delivered), one for d (relayed via c with TTL - 1), one with TTL 1 (dropped).
    const frame = (pkt: Buffer): Buffer => Buffer.concat([Buffer.from([KIND_DATA, 0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0]), pkt]);
    sent.length = 0;
    s.fromUdp(frame(ipPacket('198.19.1.5', '198.19.0.1', 64, 'hi')), links.get('b')!);
    s.fromUdp(frame(ipPacket('198.19.1.5', '198.19.3.9', 64)), links.get('b')!);
    s.fromUdp(frame(ipPacket('198.19.1.5', '198.19.3.9', 1)), links.get('b')!);
    assert.equal(delivered.length, 1);
    assert.equal(delivered[0]!.subarray(20).toString(), 'hi');
    assert.equal(sent.length, 1);
    const relayed = sent[0]!.buf.subarray(DATA_HDR);
    assert.equal(sent[0]!.to, '198.18.0.12');
    assert.equal(relayed[8], 63, 'TTL decremented');
    assert.ok(checksumOk(relayed), 'header checksum fixed');
    assert.equal(s.stats.ttlExpired, 1);
  });
});
