/**
 * A TUN device (L3, IFF_TUN | IFF_NO_PI: each read or write is one IP packet) for the mesh
 * sleeve. Created in a named namespace through the netns worker, or in this process's own one.
 * Reads happen on a dedicated reader thread that posts packet batches to the event loop;
 * writes are one non-blocking write(2) each, from the caller's thread. The device is not
 * persistent: closing the fd removes it.
 */
import { closeSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { ConflictError, KernelError } from '../errors.js';
import { libc } from './libc.js';
import { netnsCall, openNetnsFd } from './netns.js';
import { checkIfName, openTunHere } from './tun-open.js';

export interface TunStats {
  rxPackets: number;
  txPackets: number;
  /** Writes refused by the kernel (queue full, device down). */
  txDrops: number;
}

export class TunDevice {
  private reader: Worker | undefined;
  private readonly stop = new SharedArrayBuffer(4);
  private closed = false;
  readonly stats: TunStats = { rxPackets: 0, txPackets: 0, txDrops: 0 };

  private constructor(
    readonly name: string,
    readonly fd: number,
  ) {}

  /**
   * Create (open) the device `name`; in `netnsPath` if given, else in this process's namespace.
   * `fresh`: refuse when a link of that name exists already — TUNSETIFF would otherwise attach
   * to someone else's persistent TUN device (and configureTun would then change it).
   */
  static async open(name: string, o: { netnsPath?: string; fresh?: boolean } = {}): Promise<TunDevice> {
    checkIfName(name);
    if (o.fresh) {
      const { Rtnl } = await import('./netlink/rtnl.js');
      const rt = o.netnsPath ? await Rtnl.open(o.netnsPath) : Rtnl.current();
      try {
        const l = rt.link(name);
        if (l) throw new ConflictError('tun', `interface "${name}" exists (${l.kind ?? 'device'}); weft will not attach to or modify it`);
      } finally {
        if (o.netnsPath) rt.close();
      }
    }
    if (!o.netnsPath) return new TunDevice(name, openTunHere(name));
    const nsFd = openNetnsFd(o.netnsPath);
    try {
      return new TunDevice(name, await netnsCall<number>({ op: 'tun-open', nsFd, name }));
    } finally {
      closeSync(nsFd);
    }
  }

  /** Start delivering packets; `onBatch` gets views into one buffer (copy what you keep). */
  start(onBatch: (packets: Buffer[]) => void, o: { mtu: number; onError?: (err: Error) => void }): void {
    if (this.reader || this.closed) return;
    const w = new Worker(new URL('./tun-reader-worker.js', import.meta.url), { workerData: { fd: this.fd, stop: this.stop, mtu: o.mtu } });
    w.on('message', (m: { buf?: ArrayBuffer; lens?: number[]; error?: string }) => {
      if (m.error !== undefined) {
        o.onError?.(new KernelError(`tun read ${this.name}`, m.error));
        return;
      }
      const buf = Buffer.from(m.buf!);
      const pkts: Buffer[] = [];
      let off = 0;
      for (const n of m.lens!) {
        pkts.push(buf.subarray(off, off + n));
        off += n;
      }
      this.stats.rxPackets += pkts.length;
      onBatch(pkts);
    });
    w.on('error', (err) => o.onError?.(err));
    this.reader = w;
  }

  /** Inject one IP packet; false if the kernel refused it (full queue, device down: counted, dropped). */
  write(pkt: Buffer): boolean {
    if (libc().write(this.fd, pkt, pkt.length) === pkt.length) {
      this.stats.txPackets++;
      return true;
    }
    this.stats.txDrops++;
    return false;
  }

  /** Stop reading and close the fd (the kernel then deletes the device). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(new Int32Array(this.stop), 0, 1);
    if (this.reader) {
      const r = this.reader;
      this.reader = undefined;
      await new Promise<void>((resolve) => {
        r.once('exit', () => resolve());
        // The reader notices the flag within one poll timeout; terminate covers a stuck read.
        setTimeout(() => void r.terminate(), 500).unref();
      });
    }
    libc().close(this.fd);
  }
}

/**
 * Give a TUN device its owner's mark (link group and alias, when given), its mesh address (the prefix makes the whole mesh range route into it),
 * MTU, and bring it up; in `netnsPath` or this process's namespace. IPv6 link-local generation
 * is turned off: the sleeve carries IPv4 only.
 */
export async function configureTun(
  name: string,
  o: { cidr: string; mtu: number; netnsPath?: string; linkGroup?: number; alias?: string },
): Promise<number> {
  const { Rtnl } = await import('./netlink/rtnl.js');
  const rt = o.netnsPath ? await Rtnl.open(o.netnsPath) : Rtnl.current();
  try {
    const link = rt.link(name);
    if (!link) throw new KernelError(`tun configure ${name}`, 'the device does not exist');
    // The owner's mark first, so the device is never seen configured without it.
    if (o.linkGroup !== undefined || o.alias !== undefined)
      rt.setLink(link.index, { ...(o.linkGroup !== undefined ? { linkGroup: o.linkGroup } : {}), ...(o.alias ? { alias: o.alias } : {}) });
    rt.setLink(link.index, { mtu: o.mtu, ipv6AddrGenNone: true });
    rt.addAddress(link.index, o.cidr, { replace: true });
    rt.setLink(link.index, { up: true });
    return link.index;
  } finally {
    if (o.netnsPath) rt.close();
  }
}
