/** Length-prefixed frames on a TCP stream: a 4-byte big-endian length, then the payload. */
import { InvalidArgumentError } from '../../errors.js';

export const MAX_FRAME = 4 * 1024 * 1024;

export function encodeFrame(payload: Buffer): Buffer {
  if (payload.length > MAX_FRAME) throw new InvalidArgumentError('frame', `${payload.length} bytes exceeds ${MAX_FRAME}`);
  const hdr = Buffer.allocUnsafe(4);
  hdr.writeUInt32BE(payload.length);
  return Buffer.concat([hdr, payload]);
}

/** Accumulates stream chunks and yields whole frames; a length over the limit is a protocol error. */
export class FrameReader {
  private chunks: Buffer[] = [];
  private size = 0;

  push(chunk: Buffer): Buffer[] {
    this.chunks.push(chunk);
    this.size += chunk.length;
    const out: Buffer[] = [];
    for (;;) {
      if (this.size < 4) break;
      const head = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
      this.chunks = [head];
      const len = head.readUInt32BE(0);
      if (len > MAX_FRAME) throw new InvalidArgumentError('frame', `peer announced a ${len}-byte frame (limit ${MAX_FRAME})`);
      if (this.size < 4 + len) break;
      out.push(head.subarray(4, 4 + len));
      const rest = head.subarray(4 + len);
      this.chunks = rest.length > 0 ? [rest] : [];
      this.size = rest.length;
    }
    return out;
  }
}
