/**
 * Taking and giving back the path of a listening unix socket without harming whoever else
 * uses it. A socket file left by a dead daemon is removed; a socket something still answers
 * on, or a path that is not a socket at all, is refused and left alone. On close only the
 * socket this process created is unlinked (another daemon may have taken the path since).
 */
import net from 'node:net';
import { lstatSync, unlinkSync } from 'node:fs';
import { chmod } from 'node:fs/promises';
import { ConflictError } from '../errors.js';

const PROBE_TIMEOUT_MS = 1000;

/** 'live' if something accepts connections on the socket, 'stale' if nothing listens. */
export function probeUnixSocket(p: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<'live' | 'stale' | 'gone'> {
  return new Promise((resolve) => {
    const s = net.connect({ path: p });
    const done = (v: 'live' | 'stale' | 'gone'): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    // A listener too busy to accept within the timeout is still alive: never unlink it.
    const timer = setTimeout(() => done('live'), timeoutMs);
    s.once('connect', () => done('live'));
    s.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ENOENT' ? 'gone' : err.code === 'ECONNREFUSED' ? 'stale' : 'live'));
  });
}

/**
 * Make `p` free for a new listening socket: nothing there, or a stale socket (removed). Throws
 * a ConflictError naming `field` when a live socket or a non-socket file is at the path.
 */
export async function claimSocketPath(p: string, field = 'socket'): Promise<void> {
  let st;
  try {
    st = lstatSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!st.isSocket()) throw new ConflictError(field, `${p} exists and is not a socket; weftd will not remove it`);
  const state = await probeUnixSocket(p);
  if (state === 'live') throw new ConflictError(field, `another process is serving on ${p}; weftd will not take over a live socket`);
  if (state === 'stale') {
    try {
      unlinkSync(p);
    } catch (err) {
      // Removed meanwhile by someone else: the path is free, which is all we need.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}

/**
 * Listen on `p` (claimed first) with the socket readable and writable by its owner only; returns
 * the socket's inode, for releaseSocketPath.
 */
export async function listenPrivate(server: net.Server, p: string): Promise<number | undefined> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(p, () => resolve());
  });
  await chmod(p, 0o600);
  return socketInode(p);
}

/** Inode of the socket at `p` (after listen), to recognise it at release time. */
export function socketInode(p: string): number | undefined {
  try {
    const st = lstatSync(p);
    return st.isSocket() ? st.ino : undefined;
  } catch {
    return undefined;
  }
}

/** Unlink `p` only if it is still the socket this process created (inode `ino`). */
export function releaseSocketPath(p: string, ino: number | undefined): void {
  if (ino === undefined || socketInode(p) !== ino) return;
  try {
    unlinkSync(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
