/** Mesh sessions: handshake with the shared password, wrong/missing password refused, AEAD tamper and replay checks. */
import { describe, it, before } from 'node:test';
import assert from 'node:assert/strict';
import { Handshake, membershipKey, type SessionKeys } from '../../../src/mesh/crypto/handshake.js';
import { derivePsk } from '../../../src/mesh/crypto/psk.js';
import { DatagramCipher, StaticBox, StreamCipher } from '../../../src/mesh/crypto/ciphers.js';
import { ReplayWindow } from '../../../src/mesh/crypto/replay-window.js';
import { MeshAuthError } from '../../../src/mesh/crypto/errors.js';

let pskA: Buffer;
let pskOther: Buffer;

/** Run the two-message exchange in memory. */
function handshake(pa: Buffer | undefined, pb: Buffer | undefined): { a: SessionKeys; b: SessionKeys } {
  const a = new Handshake({ initiator: true, name: 'a', uid: 'ua', port: 6783, psk: pa });
  const b = new Handshake({ initiator: false, name: 'b', uid: 'ub', port: 6783, psk: pb });
  assert.equal(b.receiveHello(a.hello()).name, 'a');
  assert.equal(a.receiveHello(b.hello()).name, 'b');
  const ka = a.receiveConfirm(b.confirm());
  const kb = b.receiveConfirm(a.confirm());
  return { a: ka, b: kb };
}

const isAuth = (re: RegExp) => (e: unknown) => e instanceof MeshAuthError && e.code === 'WEFT_PERMISSION' && re.test(e.message);

describe('mesh crypto', () => {
  before(async () => {
    pskA = await derivePsk('correct horse battery staple');
    pskOther = await derivePsk('wrong password');
  });

  it('the password-derived key is deterministic; an empty password is refused', async () => {
    assert.ok((await derivePsk('correct horse battery staple')).equals(pskA));
    assert.ok(!pskA.equals(pskOther));
    await assert.rejects(derivePsk(''), /empty/);
  });

  it('same password: both sides derive matching per-direction keys, fresh for every session', () => {
    const { a, b } = handshake(pskA, pskA);
    assert.ok(a.encrypted && b.encrypted);
    assert.ok(a.controlTx.equals(b.controlRx) && a.controlRx.equals(b.controlTx));
    assert.ok(a.dataTx.equals(b.dataRx) && a.dataRx.equals(b.dataTx));
    assert.ok(!a.controlTx.equals(a.controlRx), 'directions differ');
    const again = handshake(pskA, pskA);
    assert.ok(!again.a.dataTx.equals(a.dataTx), 'ephemeral keys: a new session, new keys');
  });

  it('wrong password: the key confirmation fails on both sides', () => {
    const a = new Handshake({ initiator: true, name: 'a', uid: 'ua', port: 1, psk: pskA });
    const b = new Handshake({ initiator: false, name: 'b', uid: 'ub', port: 1, psk: pskOther });
    b.receiveHello(a.hello());
    a.receiveHello(b.hello());
    assert.throws(() => a.receiveConfirm(b.confirm()), isAuth(/does not know the mesh password/));
    assert.throws(() => b.receiveConfirm(a.confirm()), isAuth(/does not know the mesh password/));
  });

  it('a peer without a password is refused by a mesh with one, and the other way round', () => {
    const a = new Handshake({ initiator: true, name: 'a', uid: 'ua', port: 1, psk: pskA });
    const b = new Handshake({ initiator: false, name: 'b', uid: 'ub', port: 1, psk: undefined });
    assert.throws(() => a.receiveHello(b.hello()), isAuth(/has no password/));
    assert.throws(() => b.receiveHello(a.hello()), isAuth(/uses a password/));
  });

  it('without a password on both sides the handshake completes unencrypted', () => {
    const { a } = handshake(undefined, undefined);
    assert.equal(a.encrypted, false);
  });

  it('rejects garbage, other protocols, bad names and its own name', () => {
    const a = new Handshake({ initiator: true, name: 'a', uid: 'ua', port: 1, psk: pskA });
    assert.throws(() => a.receiveHello(Buffer.from('GET / HTTP/1.1')), isAuth(/mesh protocol/));
    const self = new Handshake({ initiator: false, name: 'a', uid: 'x', port: 1, psk: pskA });
    assert.throws(() => a.receiveHello(self.hello()), isAuth(/own name/));
    const forged = JSON.parse(new Handshake({ initiator: false, name: 'b', uid: 'x', port: 1, psk: pskA }).hello().toString()) as Record<
      string,
      unknown
    >;
    assert.throws(() => a.receiveHello(Buffer.from(JSON.stringify({ ...forged, name: '../etc' }))), isAuth(/invalid name/));
    assert.throws(() => a.receiveHello(Buffer.from(JSON.stringify({ ...forged, eph: 'AAAA' }))), isAuth(/invalid key/));
  });

  it('control frames: round trip; a flipped bit, a replay or a reordering is refused', () => {
    const { a, b } = handshake(pskA, pskA);
    const tx = new StreamCipher(a.controlTx, a.controlRx);
    const rx = new StreamCipher(b.controlTx, b.controlRx);
    const f1 = tx.seal(Buffer.from('hello'));
    const f2 = tx.seal(Buffer.from('world'));
    assert.equal(rx.open(f1).toString(), 'hello');
    assert.throws(() => rx.open(f1), isAuth(/failed authentication/), 'replay');
    const bad = Buffer.from(f2);
    bad[2]! ^= 1;
    assert.throws(() => rx.open(bad), isAuth(/failed authentication/), 'tamper');
    assert.equal(rx.open(f2).toString(), 'world');
    const f3 = tx.seal(Buffer.from('3'));
    const f4 = tx.seal(Buffer.from('4'));
    assert.throws(() => rx.open(f4), isAuth(/failed/), 'out of order');
    assert.equal(rx.open(f3).toString(), '3');
  });

  it('data datagrams: round trip, reordering inside the window, replay and tamper (payload or header) dropped and counted', () => {
    const { a, b } = handshake(pskA, pskA);
    const tx = new DatagramCipher(a.dataTx, a.dataRx);
    const rx = new DatagramCipher(b.dataTx, b.dataRx);
    const HDR = 13;
    const mk = (text: string): Buffer => {
      const out = Buffer.alloc(HDR + text.length + 16);
      out[0] = 2;
      out.writeUInt32BE(0xabcdef, 1);
      return out.subarray(0, tx.sealInto(out, HDR, Buffer.from(text)));
    };
    const plain = Buffer.alloc(2048);
    const d = [mk('p0'), mk('p1'), mk('p2')];
    assert.ok(!d[0]!.includes(Buffer.from('p0')), 'payload not in clear');
    assert.equal(plain.subarray(0, rx.openInto(d[2]!, HDR, plain)).toString(), 'p2');
    assert.equal(plain.subarray(0, rx.openInto(d[0]!, HDR, plain)).toString(), 'p0', 'late but inside the window');
    assert.equal(rx.openInto(d[0]!, HDR, plain), -1, 'replay');
    assert.equal(rx.replays, 1);
    const badHdr = Buffer.from(d[1]!);
    badHdr[1]! ^= 0xff;
    assert.equal(rx.openInto(badHdr, HDR, plain), -1, 'header is authenticated');
    const badCounter = Buffer.from(d[1]!);
    badCounter[HDR - 1]! ^= 1;
    assert.equal(rx.openInto(badCounter, HDR, plain), -1, 'counter is authenticated');
    assert.equal(rx.forgeries, 2);
    assert.equal(plain.subarray(0, rx.openInto(d[1]!, HDR, plain)).toString(), 'p1', 'the genuine one still passes');
    const wrongKey = new DatagramCipher(b.dataRx, b.dataTx);
    assert.equal(wrongKey.openInto(mk('x'), HDR, plain), -1);
  });

  it('replay window: fresh, repeated, far ahead, too old', () => {
    const w = new ReplayWindow(64);
    assert.ok(w.accept(0) && w.accept(5) && w.accept(3));
    assert.ok(!w.accept(5) && !w.accept(3));
    assert.ok(w.accept(1000));
    assert.ok(!w.accept(10), 'too far behind');
    assert.ok(w.accept(999) && !w.accept(999));
    assert.ok(!w.accept(-1) && !w.accept(1.5));
  });

  it('membership datagrams: sealed under the mesh key, unreadable with another', () => {
    const box = new StaticBox(membershipKey(pskA));
    const other = new StaticBox(membershipKey(pskOther));
    const s = box.seal(Buffer.from('ping'));
    assert.equal(box.open(s)?.toString(), 'ping');
    assert.equal(other.open(s), undefined);
    const t = Buffer.from(s);
    t[30]! ^= 1;
    assert.equal(box.open(t), undefined);
  });
});
