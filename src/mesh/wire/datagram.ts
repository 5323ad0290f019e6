/**
 * UDP datagrams on the mesh port. The first byte says what follows:
 *   SWIM  [0x10][membership packet: sealed under the mesh key, or JSON without a password]
 *   DATA  [0x20][receiver session u32][counter u64][IP packet, sealed or plain]
 *   BEAT  [0x30][receiver session u32][counter u64][empty payload, sealed or plain]
 * The 13-byte header of DATA/BEAT is the AEAD's additional data; the counter is the nonce.
 */
import { z } from 'zod';
import type { SwimPacket } from '../membership/types.js';

export const KIND_SWIM = 0x10;
export const KIND_DATA = 0x20;
export const KIND_BEAT = 0x30;
export const DATA_HDR = 13;

export function writeDataHeader(out: Buffer, kind: number, receiver: number): void {
  out[0] = kind;
  out.writeUInt32BE(receiver >>> 0, 1);
  out.writeBigUInt64BE(0n, 5);
}

const name = z.string().min(1).max(63);
const update = z.discriminatedUnion('t', [
  z.object({ t: z.literal('alive'), name, inc: z.number().int().nonnegative(), addr: z.string().max(64), meta: z.string().max(64) }),
  z.object({ t: z.literal('suspect'), name, inc: z.number().int().nonnegative(), from: name }),
  z.object({ t: z.literal('dead'), name, inc: z.number().int().nonnegative(), from: name, left: z.boolean() }),
]);
const seq = z.number().int().nonnegative();
const msg = z.discriminatedUnion('t', [
  z.object({ t: z.literal('ping'), seq, target: name, from: name }),
  z.object({ t: z.literal('ack'), seq, from: name }),
  z.object({ t: z.literal('ping-req'), seq, target: name, targetAddr: z.string().max(64), from: name }),
  z.object({ t: z.literal('nack'), seq, from: name }),
]);
const packet = z.object({ msg: msg.optional(), updates: z.array(update).max(256) });

/** A membership packet from the wire, or undefined if malformed. */
export function decodeSwim(b: Buffer): SwimPacket | undefined {
  try {
    const r = packet.safeParse(JSON.parse(b.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
