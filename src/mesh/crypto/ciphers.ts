/**
 * ChaCha20-Poly1305 (IETF) for the mesh: a stream cipher for control frames over TCP (ordered,
 * so the nonce is a per-direction counter both sides track) and a datagram cipher for UDP data
 * (the counter travels in the clear header, is authenticated as additional data, and is checked
 * against a replay window). Each direction has its own key, so a nonce is never reused.
 */
import { MeshAuthError } from './errors.js';
import { ReplayWindow } from './replay-window.js';
import { sodium } from './sodium.js';

export const TAG_BYTES = 16;
const nonceFor = (nonce: Buffer, counter: number): Buffer => {
  nonce.writeUInt32LE(0, 0);
  nonce.writeBigUInt64LE(BigInt(counter), 4);
  return nonce;
};

/** Control frames: seal/open in order. */
export class StreamCipher {
  private txCount = 0;
  private rxCount = 0;
  private readonly txNonce = Buffer.alloc(12);
  private readonly rxNonce = Buffer.alloc(12);

  constructor(
    private readonly txKey: Buffer,
    private readonly rxKey: Buffer,
  ) {}

  seal(plain: Buffer): Buffer {
    const out = Buffer.allocUnsafe(plain.length + TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(out, plain, null, null, nonceFor(this.txNonce, this.txCount++), this.txKey);
    return out;
  }

  /** Throws MeshAuthError on a forged, reordered or replayed frame. */
  open(sealed: Buffer): Buffer {
    if (sealed.length < TAG_BYTES) throw new MeshAuthError('control frame too short');
    const out = Buffer.allocUnsafe(sealed.length - TAG_BYTES);
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(out, null, sealed, null, nonceFor(this.rxNonce, this.rxCount), this.rxKey);
    } catch {
      throw new MeshAuthError('control frame failed authentication');
    }
    this.rxCount++;
    return out;
  }
}

/**
 * Data datagrams laid out as [header … counter(8)] [ciphertext+tag]: the header (which ends
 * with the 8-byte counter) is the additional data.
 */
export class DatagramCipher {
  private txCount = 0;
  private readonly txNonce = Buffer.alloc(12);
  private readonly rxNonce = Buffer.alloc(12);
  private readonly window = new ReplayWindow();
  replays = 0;
  forgeries = 0;

  constructor(
    private readonly txKey: Buffer,
    private readonly rxKey: Buffer,
  ) {}

  /** Seal `plain` after the `hdrLen`-byte header already in `out`; returns the datagram length. */
  sealInto(out: Buffer, hdrLen: number, plain: Buffer): number {
    const n = this.txCount++;
    out.writeBigUInt64BE(BigInt(n), hdrLen - 8);
    const ct = out.subarray(hdrLen, hdrLen + plain.length + TAG_BYTES);
    sodium.crypto_aead_chacha20poly1305_ietf_encrypt(ct, plain, out.subarray(0, hdrLen), null, nonceFor(this.txNonce, n), this.txKey);
    return hdrLen + plain.length + TAG_BYTES;
  }

  /** Open a datagram into `out`; returns the plaintext length, or -1 (forged or replayed: counted, dropped). */
  openInto(frame: Buffer, hdrLen: number, out: Buffer): number {
    if (frame.length < hdrLen + TAG_BYTES) {
      this.forgeries++;
      return -1;
    }
    const n = Number(frame.readBigUInt64BE(hdrLen - 8));
    const len = frame.length - hdrLen - TAG_BYTES;
    try {
      sodium.crypto_aead_chacha20poly1305_ietf_decrypt(
        out.subarray(0, len),
        null,
        frame.subarray(hdrLen),
        frame.subarray(0, hdrLen),
        nonceFor(this.rxNonce, n),
        this.rxKey,
      );
    } catch {
      this.forgeries++;
      return -1;
    }
    // Only an authentic counter may move the window.
    if (!this.window.accept(n)) {
      this.replays++;
      return -1;
    }
    return len;
  }
}

/**
 * Small self-contained messages under one static key (XChaCha20-Poly1305 with a random 24-byte
 * nonce, safe without coordination between senders): used for membership probes between any
 * two peers, which share only the password-derived key.
 */
export class StaticBox {
  constructor(private readonly key: Buffer) {}

  seal(plain: Buffer): Buffer {
    const out = Buffer.allocUnsafe(24 + plain.length + TAG_BYTES);
    const nonce = out.subarray(0, 24);
    sodium.randombytes_buf(nonce);
    sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(out.subarray(24), plain, null, null, nonce, this.key);
    return out;
  }

  /** undefined when it does not authenticate. */
  open(sealed: Buffer): Buffer | undefined {
    if (sealed.length < 24 + TAG_BYTES) return undefined;
    const out = Buffer.allocUnsafe(sealed.length - 24 - TAG_BYTES);
    try {
      sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(out, null, sealed.subarray(24), null, sealed.subarray(0, 24), this.key);
    } catch {
      return undefined;
    }
    return out;
  }
}
