/**
 * Control messages between connected peers (JSON inside the session's sealed frames). Every
 * message from the wire is validated before use: a peer knowing the password is trusted to be
 * a mesh member, not to send well-formed data.
 */
import { z } from 'zod';
import type { MemberRow } from '../membership/types.js';
import type { PeerLinks } from '../topology/topology.js';
import type { RingState } from '../ring/ring.js';
import type { NameRecord } from '../dns/mesh-names.js';
import type { MeshNetworkRecord } from '../networks/mesh-networks.js';
import { MeshAuthError } from '../crypto/errors.js';

const name = z.string().min(1).max(63);
const row = z.object({
  name,
  addr: z.string().max(64),
  meta: z.string().max(64),
  inc: z.number().int().nonnegative(),
  state: z.enum(['alive', 'suspect', 'dead', 'left']),
});
const links = z.object({ name, version: z.number().int().nonnegative(), links: z.array(name).max(4096) });
const ring = z.object({
  universe: z.string().max(64),
  entries: z.array(z.object({ token: z.number().int().nonnegative(), owner: name, version: z.number().int().nonnegative() })).max(1 << 16),
  hints: z.record(z.object({ free: z.number().int().nonnegative(), version: z.number().int().nonnegative() })),
});
const record = z.object({
  origin: name,
  id: z.string().min(1).max(128),
  names: z.array(z.string().max(253)).max(64),
  addrs: z.array(z.string().max(64)).max(64),
  version: z.number().int().nonnegative(),
  deleted: z.boolean(),
});
const strMap = z.record(z.string().max(256)).refine((m) => Object.keys(m).length <= 256, 'too many keys');
const network = z.object({
  name: z.string().min(1).max(128),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  origin: name,
  version: z.number().int().nonnegative(),
  deleted: z.boolean(),
  spec: z
    .object({ options: strMap, labels: strMap, internal: z.boolean(), subnet: z.string().max(64), gateway: z.string().max(64) })
    .optional(),
});

const control = z.discriminatedUnion('t', [
  z.object({ t: z.literal('session'), idx: z.number().int().min(1).max(0xffffffff) }),
  z.object({ t: z.literal('pushpull'), rows: z.array(row).max(1 << 14), reply: z.boolean() }),
  z.object({ t: z.literal('topo'), entries: z.array(links).max(1 << 14) }),
  z.object({ t: z.literal('ring'), state: ring }),
  z.object({ t: z.literal('names'), records: z.array(record).max(1 << 16) }),
  z.object({ t: z.literal('space-request') }),
  z.object({ t: z.literal('networks'), records: z.array(network).max(4096) }),
]);

export type ControlMsg =
  | { t: 'session'; idx: number }
  | { t: 'pushpull'; rows: MemberRow[]; reply: boolean }
  | { t: 'topo'; entries: PeerLinks[] }
  | { t: 'ring'; state: RingState }
  | { t: 'names'; records: NameRecord[] }
  | { t: 'space-request' }
  | { t: 'networks'; records: MeshNetworkRecord[] };

export function encodeControl(m: ControlMsg): Buffer {
  return Buffer.from(JSON.stringify(m));
}

export function decodeControl(b: Buffer): ControlMsg {
  let v: unknown;
  try {
    v = JSON.parse(b.toString('utf8'));
  } catch {
    throw new MeshAuthError('a control frame is not JSON');
  }
  const r = control.safeParse(v);
  if (!r.success) throw new MeshAuthError(`a control frame is malformed: ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data;
}
