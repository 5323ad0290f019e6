/** Credentials of the process at the other end of a connected unix socket (SO_PEERCRED). */
import type { Socket } from 'node:net';
import { libc } from './libc.js';

const SOL_SOCKET = 1;
const SO_PEERCRED = 17;

export interface PeerCred {
  pid: number;
  uid: number;
  gid: number;
}

/** The fd behind a Node socket (unix sockets are libuv pipes; the fd is on the handle). */
function fdOf(sock: Socket): number | undefined {
  const handle = (sock as unknown as { _handle?: { fd?: number } })._handle;
  return typeof handle?.fd === 'number' && handle.fd >= 0 ? handle.fd : undefined;
}

/** Peer credentials, or undefined if they cannot be read (then callers must refuse). */
export function peerCred(sock: Socket): PeerCred | undefined {
  const fd = fdOf(sock);
  if (fd === undefined) return undefined;
  const buf = Buffer.alloc(12);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(12);
  if (libc().getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) !== 0) return undefined;
  return { pid: buf.readInt32LE(0), uid: buf.readUInt32LE(4), gid: buf.readUInt32LE(8) };
}
