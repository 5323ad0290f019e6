/**
 * IPv4 address conflict detection (RFC 5227 ARP probes) from one interface of the calling
 * process's network namespace: a raw AF_PACKET socket bound to the interface sends ARP
 * requests with sender address 0.0.0.0 (so no neighbour cache anywhere learns anything) and
 * listens for a host that claims the address — a reply, any ARP from that address, or another
 * prober asking for it at the same time. Bounded: a few probes, then a fixed listening window.
 * Event driven: the socket is polled by libuv, nothing blocks the event loop.
 */
import koffi from 'koffi';
import { KernelError } from '../errors.js';
import { libc } from './libc.js';
import { bytesToMac, ipToBytes, macToBytes } from './netlink/ip-bytes.js';
import { AF_PACKET, ARPOP_REPLY, ARPOP_REQUEST, arpRequestFrame, ETH_P_ARP, linkAddr, SOCK_CLOEXEC, SOCK_RAW } from './packet-frames.js';

const SOCK_NONBLOCK = 0o4000;
const MSG_DONTWAIT = 0x40;
const EINTR = 4;

export interface ArpProbeOptions {
  /** Interface to probe from (in the calling process's namespace); it must be up. */
  ifindex: number;
  /** Its MAC, the probes' sender hardware address. */
  mac: string;
  /** IPv4 address to look for. */
  address: string;
  /** Probes to send (default 3). */
  probes?: number;
  /** Time between probes (default 100 ms). */
  intervalMs?: number;
  /** Total time to listen, from the first probe (default 500 ms). */
  timeoutMs?: number;
}

/** An RFC 5227 probe: who-has `ip`, tell 0.0.0.0 (at `mac`), broadcast. */
export function arpProbeFrame(mac: Uint8Array, ip: Uint8Array): Buffer {
  return arpRequestFrame(mac, mac, new Uint8Array(4), ip); // sender IP 0.0.0.0: nobody learns anything
}

/**
 * The MAC of whoever an ARP frame shows holding (or probing for) `ip`, unless it is us. Pure.
 */
export function claimantOf(frame: Buffer, len: number, ownMac: Uint8Array, ip: Uint8Array): string | undefined {
  if (len < 42 || frame.readUInt16BE(12) !== ETH_P_ARP || frame.readUInt16BE(16) !== 0x0800) return undefined;
  const op = frame.readUInt16BE(20);
  const sha = frame.subarray(22, 28);
  if (sha.equals(Buffer.from(ownMac))) return undefined;
  const spa = frame.subarray(28, 32);
  const tpa = frame.subarray(38, 42);
  const ipb = Buffer.from(ip);
  if ((op === ARPOP_REPLY || op === ARPOP_REQUEST) && spa.equals(ipb)) return bytesToMac(sha);
  // Someone else probing for the same address right now (RFC 5227 §2.1.1).
  if (op === ARPOP_REQUEST && spa.readUInt32BE(0) === 0 && tpa.equals(ipb)) return bytesToMac(sha);
  return undefined;
}

/**
 * Probe for `address`. Resolves with the MAC of a host that holds it, or undefined when
 * nobody answered within the window.
 */
export function arpProbe(o: ArpProbeOptions): Promise<string | undefined> {
  const ip = ipToBytes(o.address, 'address');
  if (ip.length !== 4) throw new KernelError('arp probe', `${o.address} is not an IPv4 address`);
  const mac = macToBytes(o.mac, 'mac');
  const c = libc();
  const fd = c.socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, ((ETH_P_ARP & 0xff) << 8) | (ETH_P_ARP >> 8));
  if (fd < 0) throw new KernelError('arp probe socket', c.lastError(), { errno: c.errno() });
  const sa = linkAddr(o.ifindex);
  if (c.bind(fd, sa, sa.length) !== 0) {
    const e = c.errno();
    const msg = c.lastError();
    c.close(fd);
    throw new KernelError(`arp probe bind ifindex ${o.ifindex}`, msg, { errno: e });
  }
  const frame = arpProbeFrame(mac, ip);
  const buf = Buffer.alloc(2048);
  const probes = o.probes ?? 3;
  const interval = o.intervalMs ?? 100;
  const timeout = o.timeoutMs ?? 500;

  return new Promise((resolve, reject) => {
    const timers: NodeJS.Timeout[] = [];
    let done = false;
    const finish = (err: Error | undefined, holder?: string): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      handle.stop();
      handle.close();
      c.close(fd);
      if (err) reject(err);
      else resolve(holder);
    };
    const drain = (): void => {
      while (!done) {
        const n = c.recv(fd, buf, buf.length, MSG_DONTWAIT);
        if (n < 0) {
          if (c.errno() === EINTR) continue;
          return; // EAGAIN: nothing more for now
        }
        const holder = claimantOf(buf, n, mac, ip);
        if (holder) return finish(undefined, holder);
      }
    };
    const handle = koffi.node.poll(fd, { readable: true }, drain);
    const send = (): void => {
      if (done) return;
      if (c.sendto(fd, frame, frame.length, 0, sa, sa.length) < 0) {
        finish(new KernelError(`arp probe send ifindex ${o.ifindex}`, c.lastError(), { errno: c.errno() }));
      }
    };
    for (let i = 0; i < probes; i++) timers.push(setTimeout(send, i * interval));
    timers.push(setTimeout(() => finish(undefined, undefined), Math.max(timeout, (probes - 1) * interval + 50)));
  });
}
