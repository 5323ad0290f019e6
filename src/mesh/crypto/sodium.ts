/**
 * The few libsodium calls the mesh uses, typed here (the community typings lack the IETF
 * ChaCha20-Poly1305 functions). sodium-native loads its prebuilt binary for linux-x64.
 */
import { createRequire } from 'node:module';

export interface SodiumApi {
  crypto_aead_chacha20poly1305_ietf_ABYTES: number;
  crypto_aead_chacha20poly1305_ietf_NPUBBYTES: number;
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer): number;
  /** Throws when the tag does not verify. */
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer): number;
  crypto_aead_xchacha20poly1305_ietf_NPUBBYTES: number;
  crypto_aead_xchacha20poly1305_ietf_encrypt(c: Buffer, m: Buffer, ad: Buffer | null, nsec: null, npub: Buffer, k: Buffer): number;
  crypto_aead_xchacha20poly1305_ietf_decrypt(m: Buffer, nsec: null, c: Buffer, ad: Buffer | null, npub: Buffer, k: Buffer): number;
  crypto_scalarmult_BYTES: number;
  crypto_scalarmult_SCALARBYTES: number;
  crypto_scalarmult_base(pk: Buffer, sk: Buffer): void;
  crypto_scalarmult(shared: Buffer, sk: Buffer, pk: Buffer): void;
  crypto_generichash(out: Buffer, input: Buffer, key?: Buffer): void;
  crypto_generichash_batch(out: Buffer, inputs: Buffer[], key?: Buffer): void;
  crypto_pwhash_SALTBYTES: number;
  crypto_pwhash_ALG_ARGON2ID13: number;
  crypto_pwhash_async(out: Buffer, pw: Buffer, salt: Buffer, ops: number, mem: number, alg: number, cb: (err: Error | null) => void): void;
  randombytes_buf(b: Buffer): void;
  sodium_memcmp(a: Buffer, b: Buffer): boolean;
  sodium_malloc(n: number): Buffer;
  sodium_memzero(b: Buffer): void;
}

const require = createRequire(import.meta.url);
export const sodium = require('sodium-native') as SodiumApi;
