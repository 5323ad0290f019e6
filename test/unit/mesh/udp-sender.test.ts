/**
 * The sleeve's batched UDP sender on the loopback of this process's namespace (a socket on
 * 127.0.0.1 changes nothing on the host): every datagram of a turn leaves in order, in one
 * sendmmsg, and the sender never blocks or throws on a refused send.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { UdpSender } from '../../../src/kernel/udp-sender.js';

async function receiver(): Promise<{ port: number; got: Buffer[]; close(): void }> {
  const s = createSocket({ type: 'udp4', recvBufferSize: 1 << 20 });
  const got: Buffer[] = [];
  s.on('message', (m) => got.push(m));
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  return { port: s.address().port, got, close: () => s.close() };
}

const waitUntil = async (ok: () => boolean, ms: number): Promise<void> => {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`not within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe('UdpSender', () => {
  it('sends the datagrams queued in one turn with one sendmmsg, in order, byte for byte', async () => {
    const rx = await receiver();
    const tx = UdpSender.open('127.0.0.1', 0);
    try {
      assert.ok(tx.port > 0, 'bound to an ephemeral port');
      // Views into one pooled allocation, as the sleeve makes them (non-zero byteOffset).
      const pool = Buffer.allocUnsafe(100 * 64);
      const sent: Buffer[] = [];
      for (let i = 0; i < 100; i++) {
        const b = pool.subarray(i * 64, i * 64 + 20 + (i % 40));
        b.fill(i);
        b.writeUInt32BE(i, 0);
        sent.push(b);
        tx.send(b, rx.port, '127.0.0.1');
      }
      assert.equal(tx.stats.sent, 0, 'nothing leaves before the turn ends');
      await waitUntil(() => rx.got.length === 100, 5000);
      assert.deepEqual(
        rx.got.map((b) => b.toString('hex')),
        sent.map((b) => b.toString('hex')),
      );
      assert.equal(tx.stats.sent, 100);
      assert.equal(tx.stats.sendBatches, 1, 'one sendmmsg for the turn');
      assert.equal(tx.stats.sendDrops, 0);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it('counts a refused datagram and still sends the others of the batch', async () => {
    const rx = await receiver();
    const tx = UdpSender.open('127.0.0.1', 0);
    try {
      tx.send(Buffer.from('a'), rx.port, '127.0.0.1');
      // A datagram over 64 KiB: the kernel refuses it (EMSGSIZE).
      tx.send(Buffer.alloc(70_000), rx.port, '127.0.0.1');
      tx.send(Buffer.from('b'), rx.port, '127.0.0.1');
      tx.flush();
      assert.equal(tx.stats.sendDrops, 1);
      assert.equal(tx.stats.sent, 2);
      await waitUntil(() => rx.got.length === 2, 5000);
      assert.deepEqual(rx.got.map(String), ['a', 'b']);
    } finally {
      tx.close();
      rx.close();
    }
  });

  it('refuses a bad address with a typed error, and a bound port with the errno', () => {
    assert.throws(() => UdpSender.open('127.0.0.300', 0), { name: 'KernelError' });
    const a = UdpSender.open('127.0.0.1', 0);
    try {
      assert.throws(
        () => UdpSender.open('127.0.0.1', a.port),
        (e: Error & { errno?: number }) => e.name === 'KernelError' && e.errno === 98,
      );
    } finally {
      a.close();
    }
  });
});
