/**
 * Network namespaces: create (bind-mounted at a path), delete, open, identify. Switching
 * namespaces (setns/unshare) happens only on one dedicated worker thread; the main thread
 * and libuv's pool never leave the process's namespace. The worker is unref'd while idle so
 * it never keeps the process alive, and requests are serialized by id.
 */
import { closeSync, mkdirSync, openSync, statfsSync, statSync, unlinkSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { ConflictError, InvalidArgumentError, KernelError, WeftError } from '../errors.js';
import { libc } from './libc.js';
import { CLONE_NEWNET } from './netlink/constants.js';
import { NSFS_MAGIC, openNsfsFile } from './netns-identity.js';

export { NSFS_MAGIC };
const NS_GET_NSTYPE = 0xb703;
const MNT_DETACH = 2;
const EINVAL = 22;
const ENOENT = 2;

// ---- worker client ----

/** Requests the netns worker understands (see netns-worker.ts). */
export type NetnsRequest =
  | { op: 'socket'; nsFd: number; nonblock: boolean }
  | { op: 'create'; path: string }
  | { op: 'sysctl-read'; nsFd: number; file: string }
  | { op: 'sysctl-write'; nsFd: number; file: string; value: string }
  | { op: 'tun-open'; nsFd: number; name: string }
  | { op: 'bind-sockets'; nsFd: number; address: string; port: number }
  | { op: 'packet-socket'; nsFd: number };

/** How errors cross the thread boundary. */
export interface WireError {
  name: string;
  message: string;
  op?: string;
  errno?: number;
  field?: string;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

let worker: Worker | undefined;
let nextId = 1;
const pending = new Map<number, Pending>();

function rebuildError(e: WireError): Error {
  if (e.name === 'KernelError' && e.op !== undefined) {
    // KernelError prefixes the op itself; strip it from the transported message.
    const msg = e.message.startsWith(`${e.op}: `) ? e.message.slice(e.op.length + 2) : e.message;
    return new KernelError(e.op, msg, e.errno === undefined ? {} : { errno: e.errno });
  }
  if (e.name === 'InvalidArgumentError' && e.field !== undefined) {
    return new InvalidArgumentError(e.field, e.message.slice(e.field.length + 2));
  }
  return new WeftError('WEFT_INTERNAL', `netns worker: ${e.message}`);
}

function failAll(err: Error): void {
  for (const p of pending.values()) p.reject(err);
  pending.clear();
}

function getWorker(): Worker {
  if (worker) return worker;
  const w = new Worker(new URL('./netns-worker.js', import.meta.url));
  w.unref();
  w.on('message', (m: { id: number; ok: boolean; value?: unknown; error?: WireError }) => {
    const p = pending.get(m.id);
    if (!p) return;
    pending.delete(m.id);
    if (pending.size === 0) w.unref();
    if (m.ok) p.resolve(m.value);
    else p.reject(rebuildError(m.error!));
  });
  w.on('error', (err) => {
    if (worker === w) worker = undefined;
    failAll(new WeftError('WEFT_INTERNAL', `netns worker failed: ${err.message}`, { cause: err }));
  });
  w.on('exit', (code) => {
    // The worker exits on purpose if it could not return to its namespace: start afresh.
    if (worker === w) worker = undefined;
    failAll(new WeftError('WEFT_INTERNAL', `netns worker exited (${code})`));
  });
  worker = w;
  return w;
}

/** Run one request on the netns worker. */
export function netnsCall<T>(req: NetnsRequest): Promise<T> {
  const w = getWorker();
  const id = nextId++;
  return new Promise<T>((resolve, reject) => {
    pending.set(id, { resolve: resolve, reject });
    // Keep the process alive only while a request is in flight.
    if (pending.size === 1) w.ref();
    w.postMessage({ id, ...req });
  });
}

/** Stop the worker (tests; the process exits fine without it, it is unref'd). */
export async function stopNetnsWorker(): Promise<void> {
  const w = worker;
  worker = undefined;
  if (w) await w.terminate();
}

// ---- namespaces ----

function checkPath(p: string): string {
  if (!path.isAbsolute(p) || p.includes('\0') || p.split('/').includes('..')) {
    throw new InvalidArgumentError('netns', `"${p}" must be an absolute path without ".."`);
  }
  return p;
}

const isNsfs = (p: string): boolean => {
  try {
    return statfsSync(p).type === NSFS_MAGIC;
  } catch {
    return false;
  }
};

/**
 * A new network namespace bind-mounted at `nsPath`, with `lo` up. The namespace is made on
 * the worker thread (unshare, bring lo up, bind-mount /proc/thread-self/ns/net, setns back).
 */
export async function createNetns(nsPath: string): Promise<void> {
  checkPath(nsPath);
  if (isNsfs(nsPath)) throw new ConflictError('netns', `${nsPath} is already a network namespace`);
  mkdirSync(path.dirname(nsPath), { recursive: true, mode: 0o755 });
  // The mount point: an empty file (a leftover one from a crash is reused).
  closeSync(openSync(nsPath, 'a', 0o444));
  try {
    await netnsCall<void>({ op: 'create', path: nsPath });
  } catch (err) {
    try {
      unlinkSync(nsPath);
    } catch {
      /* best effort */
    }
    throw err;
  }
}

/** Unmount and remove a namespace created by createNetns; a missing one is success. */
export async function deleteNetns(nsPath: string): Promise<void> {
  checkPath(nsPath);
  const c = libc();
  // Stacked mounts (a path mounted twice) need one umount each.
  for (let i = 0; i < 8; i++) {
    if (c.umount2(nsPath, MNT_DETACH) === 0) continue;
    const e = c.errno();
    if (e === EINVAL || e === ENOENT) break;
    throw new KernelError(`netns delete ${nsPath}`, `umount: ${c.lastError()}`, { errno: e });
  }
  try {
    unlinkSync(nsPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new KernelError(`netns delete ${nsPath}`, (err as Error).message, { cause: err });
    }
  }
}

/**
 * fd (O_RDONLY|O_CLOEXEC) of the network namespace at `nsPath`; anything that is not an
 * nsfs network namespace (a plain file, a FIFO, a device, a mount namespace) is refused, and
 * the check never blocks (see netns-identity.ts).
 */
export function openNetnsFd(nsPath: string): number {
  checkPath(nsPath);
  const fd = openNsfsFile(nsPath);
  const c = libc();
  if (c.ioctl(fd, NS_GET_NSTYPE) !== CLONE_NEWNET) {
    closeSync(fd);
    throw new InvalidArgumentError('netns', `${nsPath} is not a network namespace`);
  }
  return fd;
}

/** Inode of the namespace at `nsPath`, or undefined if nothing (or no namespace) is there. */
export function netnsInode(nsPath: string): number | undefined {
  if (!isNsfs(nsPath)) return undefined;
  try {
    return statSync(nsPath).ino;
  } catch {
    return undefined;
  }
}

/** Inode of the calling thread's network namespace. */
export function currentNetnsInode(): number {
  return statSync('/proc/thread-self/ns/net').ino;
}
