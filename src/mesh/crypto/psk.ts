/**
 * The mesh password becomes a 32-byte pre-shared key through Argon2id, once per daemon start, so
 * a captured handshake cannot be brute-forced cheaply. The salt is fixed: every peer must derive
 * the same key from the same password without talking first.
 */
import { sodium } from './sodium.js';
import { InvalidArgumentError } from '../../errors.js';

const SALT = Buffer.alloc(sodium.crypto_pwhash_SALTBYTES);
sodium.crypto_generichash(SALT, Buffer.from('weft mesh password v1'));

/** Argon2id cost: ~0.3 s and 32 MiB on this class of machine. */
export const PSK_OPSLIMIT = 2;
export const PSK_MEMLIMIT = 32 * 1024 * 1024;

/** Derive the pre-shared key (off the event loop). A password must not be empty. */
export function derivePsk(password: string | Buffer): Promise<Buffer> {
  const pw = typeof password === 'string' ? Buffer.from(password, 'utf8') : password;
  if (pw.length === 0) return Promise.reject(new InvalidArgumentError('password', 'the mesh password is empty'));
  const out = sodium.sodium_malloc(32);
  return new Promise((resolve, reject) => {
    sodium.crypto_pwhash_async(out, pw, SALT, PSK_OPSLIMIT, PSK_MEMLIMIT, sodium.crypto_pwhash_ALG_ARGON2ID13, (err: Error | null) =>
      err ? reject(err) : resolve(out),
    );
  });
}
