/**
 * Namespace files from user input, opened without ever blocking the daemon, and identified.
 *
 * A path given as a network namespace (weft attach --netns, CNI_NETNS, Docker's SandboxKey)
 * may be anything: a FIFO (open(O_RDONLY) blocks until a writer appears — on the main thread
 * that stops the whole API and every network's DNS), a device (open has side effects), a
 * socket, a directory. So the path is first opened with O_PATH, which never blocks and never
 * runs a driver's open; the file is checked to be on nsfs through that handle; only then is
 * the very same inode reopened for reading through /proc/self/fd (not the path again, which
 * could have been swapped meanwhile).
 *
 * Identity is (st_dev, st_ino) of the nsfs inode: the host's own namespace — weftd's, and
 * pid 1's as weftd sees it — must never be wired into a network.
 */
import { closeSync, fstatSync, openSync, statSync, type Stats } from 'node:fs';
import { InvalidArgumentError, KernelError, NotFoundError } from '../errors.js';
import { libc } from './libc.js';

export const NSFS_MAGIC = 0x6e736673;
/** O_PATH (Linux, every architecture weft runs on); Node does not export it. */
const O_PATH = 0o10000000;
const O_NONBLOCK = 0o4000;
const O_RDONLY = 0;

export interface NetnsIdentity {
  dev: number;
  ino: number;
}

export const sameNetns = (a: NetnsIdentity | undefined, b: NetnsIdentity | undefined): boolean =>
  a !== undefined && b !== undefined && a.dev === b.dev && a.ino === b.ino;

/** What a non-namespace file is, for the error message. */
function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  if (st.isSymbolicLink()) return 'a symbolic link';
  return 'a regular file';
}

function fsTypeOf(fd: number): number | undefined {
  const buf = Buffer.alloc(120); // struct statfs; f_type is the first (long) field
  return libc().fstatfs(fd, buf) === 0 ? Number(buf.readBigInt64LE(0)) : undefined;
}

/**
 * A readable fd (O_RDONLY|O_CLOEXEC) of the nsfs file at `p`, opened without blocking; a path
 * that is not a namespace file is refused with a clear error (`field` names the input).
 */
export function openNsfsFile(p: string, field = 'netns'): number {
  let pathFd: number;
  try {
    pathFd = openSync(p, O_PATH); // libuv adds O_CLOEXEC; O_PATH never blocks, never calls open()
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') throw new NotFoundError(field, p);
    throw new KernelError(`netns open ${p}`, (err as Error).message, { cause: err });
  }
  try {
    const type = fsTypeOf(pathFd);
    if (type !== NSFS_MAGIC) {
      const what = type === undefined ? 'a file whose filesystem cannot be read' : kindOf(fstatSync(pathFd));
      throw new InvalidArgumentError(field, `${p} is ${what}, not a namespace file`);
    }
    // The same inode, now for reading (setns needs a real open file). O_NONBLOCK is harmless here.
    return openSync(`/proc/self/fd/${pathFd}`, O_RDONLY | O_NONBLOCK);
  } finally {
    closeSync(pathFd);
  }
}

/** Identity of the namespace behind an open fd. */
export function netnsIdentityOfFd(fd: number): NetnsIdentity {
  const st = fstatSync(fd);
  return { dev: st.dev, ino: st.ino };
}

function identityOfPath(p: string): NetnsIdentity | undefined {
  try {
    // stat never opens the file: safe for any path. /proc/…/ns/net resolves to the nsfs inode.
    const st = statSync(p);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return undefined;
  }
}

/**
 * The namespaces that are the host from weftd's point of view: its own (where it programs
 * bridges and NAT) and pid 1's. Attaching either would add an interface and a default route
 * to the host itself, and a detach would take the host's default route away.
 */
export function hostNetnsIdentities(): Array<{ what: string; id: NetnsIdentity }> {
  const out: Array<{ what: string; id: NetnsIdentity }> = [];
  const own = identityOfPath('/proc/self/ns/net');
  if (own) out.push({ what: "weftd's own network namespace (the host's)", id: own });
  const init = identityOfPath('/proc/1/ns/net');
  if (init && !sameNetns(init, own)) out.push({ what: "pid 1's network namespace (the host's)", id: init });
  return out;
}
