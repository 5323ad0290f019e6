/**
 * Reads packets from a TUN fd on its own thread: poll, then drain up to a batch without
 * blocking, and post the batch (one transferred buffer plus lengths) to the main thread. Under
 * load batches grow, which amortizes the thread hop; idle, it sleeps in poll. A shared flag
 * asks it to stop (checked at least every poll timeout).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { libc } from './libc.js';

const { fd, stop, mtu } = workerData as { fd: number; stop: SharedArrayBuffer; mtu: number };
const stopFlag = new Int32Array(stop);
const c = libc();
const POLLIN = 1;
const EAGAIN = 11;
const EINTR = 4;
const BATCH = 64;
const SLOT = mtu + 64;
const pfd = Buffer.alloc(8);
pfd.writeInt32LE(fd, 0);
pfd.writeInt16LE(POLLIN, 4);
const scratch = Buffer.allocUnsafe(BATCH * SLOT);

while (Atomics.load(stopFlag, 0) === 0) {
  pfd.writeInt16LE(0, 6);
  const r = c.poll(pfd, 1, 100);
  if (r < 0) {
    if (c.errno() === EINTR) continue;
    parentPort!.postMessage({ error: `poll: ${c.lastError()}` });
    break;
  }
  if (r === 0) continue;
  const lens: number[] = [];
  let off = 0;
  while (lens.length < BATCH) {
    const n = Number(c.read(fd, scratch.subarray(off, off + SLOT), SLOT));
    if (n < 0) {
      const e = c.errno();
      if (e === EAGAIN || e === EINTR) break;
      parentPort!.postMessage({ error: `read: ${c.lastError()}` });
      Atomics.store(stopFlag, 0, 1);
      break;
    }
    lens.push(n);
    off += n;
    // Packets are packed back to back; the next read goes right after this one.
  }
  if (lens.length === 0) continue;
  // A copy of just the used bytes is transferred; the scratch buffer stays here for the next batch.
  const out = scratch.buffer.slice(scratch.byteOffset, scratch.byteOffset + off);
  parentPort!.postMessage({ buf: out, lens }, [out]);
}
