/**
 * The one thread of weft that changes network namespace. Each request enters a namespace
 * (setns or unshare), does its small job, and returns to the original namespace before the
 * next request is read. If it cannot return, the thread exits (the main thread starts a new
 * one): a worker stuck in a foreign namespace must never serve another request.
 */
import { readFileSync, writeFileSync, openSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { KernelError, WeftError } from '../errors.js';
import { libc } from './libc.js';
import { CLONE_NEWNET } from './netlink/constants.js';
import { Rtnl, routeSocketHere } from './netlink/rtnl.js';
import type { NetnsRequest, WireError } from './netns.js';
import { openTunHere } from './tun-open.js';
import { bindHere } from './netns-sockets.js';
import { packetSocketHere } from './neighbour-announce.js';

const MS_BIND = 4096;
const c = libc();
/** Where this thread belongs; opened once, before any switch. */
const home = openSync('/proc/thread-self/ns/net', 'r');

function backHome(): void {
  if (c.setns(home, CLONE_NEWNET) !== 0) {
    process.stderr.write(`weft netns worker: cannot return to its namespace: ${c.lastError()}\n`);
    process.exit(1);
  }
}

/** Run `fn` inside the namespace behind `nsFd`, always coming back. */
function inNetns<T>(nsFd: number, op: string, fn: () => T): T {
  if (c.setns(nsFd, CLONE_NEWNET) !== 0) throw new KernelError(op, `setns: ${c.lastError()}`, { errno: c.errno() });
  try {
    return fn();
  } finally {
    backHome();
  }
}

function create(path: string): void {
  const op = `netns create ${path}`;
  if (c.unshare(CLONE_NEWNET) !== 0) throw new KernelError(op, `unshare: ${c.lastError()}`, { errno: c.errno() });
  try {
    const rt = Rtnl.adopt(routeSocketHere(), path);
    try {
      rt.setLink(1, { up: true }); // lo is always ifindex 1 in a new namespace
    } finally {
      rt.close();
    }
    if (c.mount('/proc/thread-self/ns/net', path, 'none', MS_BIND, null) !== 0) {
      throw new KernelError(op, `bind mount: ${c.lastError()}`, { errno: c.errno() });
    }
  } finally {
    // Leaving drops the last reference unless the bind mount holds one.
    backHome();
  }
}

/** fs errors of /proc/sys become KernelErrors naming the sysctl. */
function sysctlFs<T>(op: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new KernelError(op, e.code ?? e.message, { cause: err, ...(typeof e.errno === 'number' ? { errno: -e.errno } : {}) });
  }
}

function handle(req: NetnsRequest): unknown {
  switch (req.op) {
    case 'socket':
      return inNetns(req.nsFd, 'netlink socket', () => routeSocketHere(req.nonblock));
    case 'create':
      return create(req.path);
    case 'sysctl-read':
      // /proc/sys/net shows the namespace of the thread that opens the file.
      return inNetns(req.nsFd, `sysctl read ${req.file}`, () => sysctlFs(`sysctl read ${req.file}`, () => readFileSync(req.file, 'utf8')));
    case 'tun-open':
      // The device is made in the namespace of the thread that opens it; the fd works from any thread.
      return inNetns(req.nsFd, `tun open ${req.name}`, () => openTunHere(req.name));
    case 'bind-sockets':
      // A socket stays in the namespace it was made in; the fds work from the main thread.
      return inNetns(req.nsFd, `bind ${req.address}:${req.port}`, () => bindHere(c, req.address, req.port));
    case 'packet-socket':
      // A packet socket sends on the links of the namespace it was made in.
      return inNetns(req.nsFd, 'packet socket', () => packetSocketHere(c));
    case 'sysctl-write':
      return inNetns(req.nsFd, `sysctl write ${req.file}`, () =>
        sysctlFs(`sysctl write ${req.file}`, () => writeFileSync(req.file, req.value)),
      );
  }
}

function toWire(err: unknown): WireError {
  if (err instanceof KernelError) {
    return { name: 'KernelError', message: err.message, op: err.op, ...(err.errno === undefined ? {} : { errno: err.errno }) };
  }
  if (err instanceof WeftError) return { name: err.name, message: err.message, ...(err.field ? { field: err.field } : {}) };
  const e = err as NodeJS.ErrnoException;
  return { name: 'Error', message: e?.message ?? String(err) };
}

parentPort!.on('message', (msg: NetnsRequest & { id: number }) => {
  try {
    const value = handle(msg);
    parentPort!.postMessage({ id: msg.id, ok: true, value });
  } catch (err) {
    parentPort!.postMessage({ id: msg.id, ok: false, error: toWire(err) });
  }
});
