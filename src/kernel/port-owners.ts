/**
 * Sockets of the host's network namespace and the processes that own them, read from /proc:
 * /proc/self/net/{tcp,tcp6,udp,udp6,sctp/eps} (this process's namespace — weftd's, the host
 * where ports are published) and /proc/PID/fd links "socket:[INODE]". Listening TCP sockets,
 * unconnected (bound) UDP sockets and SCTP endpoints count: those receive new traffic a DNAT
 * rule would divert. Parsers are pure; the readers are small.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { HostSocket } from '../firewall/host-listeners.js';

const TCP_LISTEN = 0x0a;
/** TCP_CLOSE: what an unconnected (bound, not connected) UDP socket shows. */
const UDP_UNCONNECTED = 0x07;

/** "0100007F" → "127.0.0.1"; 32 hex digits → an IPv6 address (four little-endian words). */
export function hexToAddress(hex: string): string | undefined {
  if (hex.length === 8) {
    const v = Number.parseInt(hex, 16);
    if (!Number.isFinite(v)) return undefined;
    return [v & 255, (v >>> 8) & 255, (v >>> 16) & 255, v >>> 24].join('.');
  }
  if (hex.length !== 32) return undefined;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(Number.parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.some((b) => !Number.isFinite(b))) return undefined;
  const mapped = bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255;
  if (mapped) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = Array.from({ length: 8 }, (_, i) => ((bytes[i * 2]! << 8) | bytes[i * 2 + 1]!).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** Sockets in a /proc/net/{tcp,udp}[6] text that receive new traffic. */
export function parseProcNet(text: string, protocol: 'tcp' | 'udp', family: 4 | 6): HostSocket[] {
  const out: HostSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const [addrHex, portHex] = f[1]!.split(':');
    const state = Number.parseInt(f[3]!, 16);
    if (protocol === 'tcp' ? state !== TCP_LISTEN : state !== UDP_UNCONNECTED) continue;
    const address = hexToAddress(addrHex ?? '');
    const port = Number.parseInt(portHex ?? '', 16);
    const inode = Number(f[9]);
    if (address === undefined || !Number.isInteger(port) || port === 0) continue;
    out.push({ protocol, family, address, port, inode });
  }
  return out;
}

/**
 * /proc/net/sctp/eps: "ENDPT SOCK STY SST HBKT LPORT UID INODE LADDRS…"; each local address
 * of an endpoint is one socket entry.
 */
export function parseSctpEps(text: string): HostSocket[] {
  const out: HostSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 9) continue;
    const port = Number(f[5]);
    const inode = Number(f[7]);
    if (!Number.isInteger(port) || port === 0) continue;
    for (const a of f.slice(8)) {
      const address = a === '*' ? '0.0.0.0' : a.toLowerCase();
      out.push({ protocol: 'sctp', family: address.includes(':') ? 6 : 4, address, port, inode });
    }
  }
  return out;
}

function readOptional(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    // No such protocol in this kernel (e.g. SCTP not loaded): then it has no sockets.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  }
}

/** Every socket of this process's network namespace that could be diverted by a published port. */
export function readHostSockets(): HostSocket[] {
  return [
    ...parseProcNet(readOptional('/proc/self/net/tcp'), 'tcp', 4),
    ...parseProcNet(readOptional('/proc/self/net/tcp6'), 'tcp', 6),
    ...parseProcNet(readOptional('/proc/self/net/udp'), 'udp', 4),
    ...parseProcNet(readOptional('/proc/self/net/udp6'), 'udp', 6),
    ...parseSctpEps(readOptional('/proc/self/net/sctp/eps')),
  ];
}

/** "pid 1234 (python3)" for the process holding a socket inode, when /proc lets us see it. */
export function socketOwner(inode: number): string | undefined {
  const target = `socket:[${inode}]`;
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return undefined;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile, or not ours to look at
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link !== target) continue;
      let comm = '?';
      try {
        comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      } catch {
        /* gone: the pid is still worth naming */
      }
      return `pid ${pid} (${comm})`;
    }
  }
  return undefined;
}
