/**
 * A host's stable identity, kept in its state directory: the id other hosts know it by, and a
 * secret token that lets a restarted weftd prove it is the same host (and take over its own
 * liveness key before the old lease runs out) while a second host given the same id is refused.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { InvalidArgumentError, StoreError } from '../errors.js';

export interface HostIdentity {
  id: string;
  token: string;
}

/** DNS-label-like: lower-case letters, digits and dashes, 1-63 characters. */
const HOST_ID_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function validateHostId(id: unknown, field = 'host-id'): string {
  if (typeof id !== 'string' || !HOST_ID_RE.test(id)) {
    throw new InvalidArgumentError(
      field,
      `${JSON.stringify(id)} is not a valid host id (lower-case letters, digits and dashes, 1-63 characters)`,
    );
  }
  return id;
}

/** A new random id, docker-node-like (25 characters of [a-z0-9]). */
export function newHostId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  return Array.from(randomBytes(25), (b) => alphabet[b % alphabet.length]).join('');
}

/**
 * Load the identity from `<stateDir>/host-id.json`, creating it on first start. A wanted id
 * (`--host-id`) must match a stored one: a state directory belongs to one host.
 */
export function loadHostIdentity(stateDir: string, wanted?: string): HostIdentity {
  if (wanted !== undefined) validateHostId(wanted);
  const file = path.join(stateDir, 'host-id.json');
  let stored: HostIdentity | undefined;
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<HostIdentity>;
    if (typeof parsed.token !== 'string' || parsed.token.length < 16) throw new Error('no token');
    stored = { id: validateHostId(parsed.id, 'host-id.json'), token: parsed.token };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT')
      throw new StoreError(`cannot read host identity ${file}: ${(err as Error).message}`, err);
  }
  if (stored) {
    if (wanted !== undefined && wanted !== stored.id) {
      throw new InvalidArgumentError('host-id', `this state directory belongs to host "${stored.id}", not "${wanted}"`);
    }
    return stored;
  }
  const id: HostIdentity = { id: wanted ?? newHostId(), token: randomBytes(16).toString('hex') };
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, JSON.stringify(id) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
  return id;
}

/**
 * Whether this host has been a member of a cluster before: `<stateDir>/cluster-joined.json`,
 * written after its first successful join. It decides what an unreachable store at start means:
 * for a host that never joined, a misconfiguration (bad input: a clear error, nothing made); for
 * a member restarting during an outage, an outage (weftd starts, its global endpoints keep
 * their kernel state, and it rejoins when the store answers), as dockerd does.
 */
export function hasJoinedBefore(stateDir: string): boolean {
  // cluster-ipam.json: the block journal a member writes, so a host from before this marker counts too.
  return ['cluster-joined.json', 'cluster-ipam.json'].some((name) => {
    const file = path.join(stateDir, name);
    try {
      readFileSync(file, 'utf8');
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw new StoreError(`cannot read ${file}: ${(err as Error).message}`, err);
    }
  });
}

/** Record the first successful join (see hasJoinedBefore). */
export function recordJoined(stateDir: string, hostId: string, storeUrl: string): void {
  const file = path.join(stateDir, 'cluster-joined.json');
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  writeFileSync(`${file}.tmp`, JSON.stringify({ hostId, store: storeUrl, at: new Date().toISOString() }) + '\n', { mode: 0o600 });
  renameSync(`${file}.tmp`, file);
}
