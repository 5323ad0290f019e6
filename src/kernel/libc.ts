/**
 * koffi bindings to the few libc calls weft needs. Loaded lazily, once per thread (a worker
 * thread gets its own instance). Every function returns the raw libc result; callers read
 * `errno()` right after a failure, before any other libc call can overwrite it.
 */
import koffi from 'koffi';
import { describeErrno } from './netlink/netlink-error.js';

export interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, addr: Buffer, len: number): number;
  send(fd: number, buf: Buffer, len: number, flags: number): number;
  sendto(fd: number, buf: Buffer, len: number, flags: number, addr: Buffer | null, alen: number): number;
  recv(fd: number, buf: Buffer, len: number, flags: number): number;
  /** sendmmsg(2) over an array of struct mmsghdr (64 bytes each on x86-64). */
  sendmmsg(fd: number, msgs: Buffer, vlen: number, flags: number): number;
  close(fd: number): number;
  setsockopt(fd: number, level: number, name: number, val: Buffer, len: number): number;
  getsockname(fd: number, addr: Buffer, lenPtr: Buffer): number;
  getsockopt(fd: number, level: number, name: number, val: Buffer, lenPtr: Buffer): number;
  setns(fd: number, nstype: number): number;
  unshare(flags: number): number;
  mount(src: string | null, target: string, fstype: string | null, flags: number, data: null): number;
  umount2(target: string, flags: number): number;
  /** ioctl without a third argument (NS_GET_NSTYPE and friends). */
  ioctl(fd: number, req: number): number;
  /** ioctl with a pointer argument (TUNSETIFF and friends). */
  ioctlPtr(fd: number, req: number, arg: Buffer): number;
  open(path: string, flags: number): number;
  read(fd: number, buf: Buffer, len: number): number;
  write(fd: number, buf: Buffer, len: number): number;
  /** poll(2) on an array of struct pollfd (8 bytes each). */
  poll(fds: Buffer, nfds: number, timeoutMs: number): number;
  fstatfs(fd: number, buf: Buffer): number;
  /** flock(2): advisory whole-file lock (LOCK_EX | LOCK_NB …). */
  flock(fd: number, op: number): number;
  sethostname(name: string, len: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  execvp(file: string, argv: (string | null)[]): number;
  getpid(): number;
  gettid(): number;
  strerror(errnum: number): string;
  /** errno of the last failed call on this thread. */
  errno(): number;
  /** "File exists (EEXIST)" for the current errno. */
  lastError(): string;
}

let cached: Libc | undefined;

/** The libc bindings of this thread (loaded on first use). */
export function libc(): Libc {
  if (cached) return cached;
  const lib = koffi.load('libc.so.6');
  const strerror = lib.func('const char *strerror(int errnum)') as (e: number) => string;
  const errno = (): number => koffi.errno();
  const ioctl = lib.func('int ioctl(int fd, unsigned long req, ...)') as (fd: number, req: number) => number;
  const fcntl = lib.func('int fcntl(int fd, int cmd, ...)') as (fd: number, cmd: number, t: string, a: number) => number;
  cached = {
    socket: lib.func('int socket(int domain, int type, int protocol)'),
    bind: lib.func('int bind(int fd, const void *addr, uint32_t len)'),
    send: lib.func('long send(int fd, const void *buf, size_t len, int flags)'),
    sendto: lib.func('long sendto(int fd, const void *buf, size_t len, int flags, const void *addr, uint32_t alen)'),
    recv: lib.func('long recv(int fd, void *buf, size_t len, int flags)'),
    sendmmsg: lib.func('int sendmmsg(int fd, void *msgs, unsigned int vlen, int flags)'),
    close: lib.func('int close(int fd)'),
    setsockopt: lib.func('int setsockopt(int fd, int level, int name, const void *val, uint32_t len)'),
    getsockname: lib.func('int getsockname(int fd, void *addr, void *lenPtr)'),
    getsockopt: lib.func('int getsockopt(int fd, int level, int name, void *val, void *lenPtr)'),
    setns: lib.func('int setns(int fd, int nstype)'),
    unshare: lib.func('int unshare(int flags)'),
    mount: lib.func('int mount(const char *src, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    umount2: lib.func('int umount2(const char *target, int flags)'),
    ioctl: (fd, req) => ioctl(fd, req),
    ioctlPtr: (fd, req, arg) => (ioctl as unknown as (fd: number, req: number, t: string, a: Buffer) => number)(fd, req, 'uint8_t *', arg),
    open: (
      (open: (p: string, f: number, t: string, m: number) => number) => (p: string, f: number) =>
        open(p, f, 'int', 0)
    )(lib.func('int open(const char *path, int flags, ...)')),
    read: lib.func('long read(int fd, void *buf, size_t len)'),
    write: lib.func('long write(int fd, const void *buf, size_t len)'),
    poll: lib.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    fstatfs: lib.func('int fstatfs(int fd, void *buf)'),
    flock: lib.func('int flock(int fd, int op)'),
    sethostname: lib.func('int sethostname(const char *name, size_t len)'),
    fcntl: (fd, cmd, arg) => fcntl(fd, cmd, 'int', arg),
    execvp: lib.func('int execvp(const char *file, const char **argv)'),
    getpid: lib.func('int getpid()'),
    gettid: lib.func('int gettid()'),
    strerror,
    errno,
    lastError: () => describeErrno(errno(), strerror),
  };
  return cached;
}
