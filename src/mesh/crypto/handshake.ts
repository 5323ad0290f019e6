/**
 * The authenticated handshake on a new control connection (after Weave's NaCl sessions, with
 * explicit key confirmation):
 *   1. each side sends a hello: its name, run id, mesh port, whether it uses a password, and a
 *      fresh X25519 public key made for this connection only;
 *   2. both compute the X25519 shared secret and mix it with the password-derived key and a hash
 *      of both hellos into a session master key, from which per-direction control and data keys
 *      and a confirmation key per role are derived;
 *   3. each side sends a MAC over the hellos under its confirmation key; a peer with another
 *      password (or none) derives other keys and its MAC fails: the connection is refused.
 * The ephemeral secrets live only as long as the handshake object, so a later leak of the
 * password does not reveal past sessions (forward secrecy). Without a password on both sides
 * the same exchange runs with an all-zero key: it detects corruption, not impostors.
 */
import { InvalidArgumentError } from '../../errors.js';
import { MeshAuthError } from './errors.js';
import { sodium } from './sodium.js';

export const MESH_PROTOCOL = 'weft-mesh';
export const MESH_PROTOCOL_VERSION = 1;

export interface Hello {
  proto: string;
  v: number;
  name: string;
  uid: string;
  /** The sender's mesh port (TCP and UDP). */
  port: number;
  auth: 'password' | 'none';
  /** X25519 public key, base64. */
  eph: string;
}

export interface SessionKeys {
  encrypted: boolean;
  controlTx: Buffer;
  controlRx: Buffer;
  dataTx: Buffer;
  dataRx: Buffer;
}

const NAME_RE = /^[a-z0-9][a-z0-9.-]{0,62}$/;

function parseHello(bytes: Buffer): Hello {
  let h: unknown;
  try {
    h = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new MeshAuthError('the peer did not speak the mesh protocol');
  }
  const o = h as Partial<Hello>;
  if (o?.proto !== MESH_PROTOCOL) throw new MeshAuthError('the peer did not speak the mesh protocol');
  if (o.v !== MESH_PROTOCOL_VERSION) throw new MeshAuthError(`protocol version ${String(o.v)} (this peer speaks ${MESH_PROTOCOL_VERSION})`);
  if (typeof o.name !== 'string' || !NAME_RE.test(o.name)) throw new MeshAuthError('the peer sent an invalid name');
  if (typeof o.uid !== 'string' || o.uid.length === 0 || o.uid.length > 64) throw new MeshAuthError('the peer sent an invalid run id');
  if (!Number.isInteger(o.port) || o.port! < 1 || o.port! > 65535) throw new MeshAuthError('the peer sent an invalid port');
  if (o.auth !== 'password' && o.auth !== 'none') throw new MeshAuthError('the peer sent an invalid auth mode');
  if (typeof o.eph !== 'string' || Buffer.from(o.eph, 'base64').length !== 32) throw new MeshAuthError('the peer sent an invalid key');
  return o as Hello;
}

/** Check a peer name (the mesh identity): DNS-label-like, ≤ 63 characters. */
export function checkPeerName(name: string): string {
  if (!NAME_RE.test(name)) throw new InvalidArgumentError('name', `"${name}" must be 1–63 characters of a-z, 0-9, "." and "-"`);
  return name;
}

function kdf(master: Buffer, label: string): Buffer {
  const out = sodium.sodium_malloc(32);
  sodium.crypto_generichash(out, Buffer.from(label), master);
  return out;
}

export class Handshake {
  private readonly sk = sodium.sodium_malloc(32);
  private readonly pk = Buffer.alloc(32);
  private readonly ourHello: Buffer;
  private theirHello: Buffer | undefined;
  private peer: Hello | undefined;
  private master: Buffer | undefined;
  private ourConfirm: Buffer | undefined;

  constructor(
    private readonly o: {
      initiator: boolean;
      name: string;
      uid: string;
      port: number;
      /** The password-derived key, or undefined for a mesh without a password. */
      psk: Buffer | undefined;
    },
  ) {
    sodium.randombytes_buf(this.sk);
    sodium.crypto_scalarmult_base(this.pk, this.sk);
    const hello: Hello = {
      proto: MESH_PROTOCOL,
      v: MESH_PROTOCOL_VERSION,
      name: checkPeerName(o.name),
      uid: o.uid,
      port: o.port,
      auth: o.psk ? 'password' : 'none',
      eph: this.pk.toString('base64'),
    };
    this.ourHello = Buffer.from(JSON.stringify(hello));
  }

  /** Our hello frame. */
  hello(): Buffer {
    return this.ourHello;
  }

  /** The peer's hello: validates it, derives the session master key. Throws MeshAuthError. */
  receiveHello(bytes: Buffer): Hello {
    const h = parseHello(bytes);
    const ourAuth = this.o.psk ? 'password' : 'none';
    if (h.auth !== ourAuth) {
      throw new MeshAuthError(
        h.auth === 'none' ? 'the peer has no password; this mesh requires one' : 'the peer uses a password; this peer has none',
      );
    }
    if (h.name === this.o.name) throw new MeshAuthError(`the peer uses this peer's own name "${h.name}"`);
    const shared = sodium.sodium_malloc(32);
    sodium.crypto_scalarmult(shared, this.sk, Buffer.from(h.eph, 'base64'));
    if (shared.every((b) => b === 0)) throw new MeshAuthError('the peer sent a weak key');
    const [first, second] = this.o.initiator ? [this.ourHello, bytes] : [bytes, this.ourHello];
    const transcript = Buffer.alloc(32);
    sodium.crypto_generichash_batch(transcript, [lengthPrefix(first), first, lengthPrefix(second), second]);
    this.master = sodium.sodium_malloc(32);
    sodium.crypto_generichash_batch(this.master, [Buffer.from('weft mesh session v1'), shared, transcript], this.o.psk ?? Buffer.alloc(32));
    sodium.sodium_memzero(shared);
    sodium.sodium_memzero(this.sk);
    this.theirHello = bytes;
    this.peer = h;
    this.ourConfirm = this.mac(this.o.initiator ? 'initiator' : 'responder');
    return h;
  }

  private mac(role: 'initiator' | 'responder'): Buffer {
    if (!this.master || !this.theirHello) throw new MeshAuthError('confirmation before hello');
    const out = Buffer.alloc(32);
    sodium.crypto_generichash(out, Buffer.from(`confirm ${role}`), kdf(this.master, 'confirm'));
    return out;
  }

  /** Our key confirmation (send after receiveHello). */
  confirm(): Buffer {
    if (!this.ourConfirm) throw new MeshAuthError('confirmation before hello');
    return this.ourConfirm;
  }

  /** Check the peer's confirmation; on success, the session keys. A wrong password fails here. */
  receiveConfirm(mac: Buffer): SessionKeys {
    const expected = this.mac(this.o.initiator ? 'responder' : 'initiator');
    if (mac.length !== expected.length || !sodium.sodium_memcmp(mac, expected)) {
      throw new MeshAuthError(this.o.psk ? 'the peer does not know the mesh password' : 'the handshake was corrupted');
    }
    const m = this.master!;
    const [tx, rx] = this.o.initiator ? ['i2r', 'r2i'] : ['r2i', 'i2r'];
    const keys: SessionKeys = {
      encrypted: this.o.psk !== undefined,
      controlTx: kdf(m, `control ${tx}`),
      controlRx: kdf(m, `control ${rx}`),
      dataTx: kdf(m, `data ${tx}`),
      dataRx: kdf(m, `data ${rx}`),
    };
    sodium.sodium_memzero(m);
    return keys;
  }

  get peerHello(): Hello | undefined {
    return this.peer;
  }
}

function lengthPrefix(b: Buffer): Buffer {
  const p = Buffer.alloc(4);
  p.writeUInt32BE(b.length);
  return p;
}

/** The key for membership datagrams between any two peers of the mesh (no session between them). */
export function membershipKey(psk: Buffer): Buffer {
  return kdf(psk, 'membership datagrams v1');
}
