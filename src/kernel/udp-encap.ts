/**
 * Userspace UDP encapsulation over a TUN device, Flannel's original `udp` backend: every IPv4
 * packet the kernel routes into the TUN is read (on the TUN's reader thread), its destination
 * looked up in the peer table (which host's subnet holds it) and sent whole as one UDP datagram
 * to that host's port; every datagram received is written back into the TUN. Slow on purpose —
 * two user/kernel crossings per packet per side — and measured in bench/hostsubnet.ts.
 * The TUN and the socket live in this process's network namespace (weftd's, the host's).
 */
import dgram from 'node:dgram';
import { TunDevice } from './tun.js';
import { KernelError } from '../errors.js';

export interface EncapPeer {
  subnet: string;
  address: string;
  port: number;
}

export interface UdpEncapStats {
  encapsulated: number;
  decapsulated: number;
  /** Packets for which no peer holds the destination (or not IPv4). */
  noPeer: number;
}

interface Tunnel {
  tun: TunDevice;
  sock: dgram.Socket;
  port: number;
  peers: { net: number; mask: number; address: string; port: number }[];
  stats: UdpEncapStats;
}

function v4(s: string): number {
  const p = s.split('.').map(Number);
  return ((p[0]! << 24) | (p[1]! << 16) | (p[2]! << 8) | p[3]!) >>> 0;
}

export class UdpEncap {
  private readonly tunnels = new Map<string, Tunnel>();

  constructor(private readonly onError: (err: Error) => void = () => undefined) {}

  /** Open the TUN `name` and a UDP socket on `port` bound to `bindAddress`; idempotent. */
  async ensure(name: string, o: { port: number; mtu: number; bindAddress: string }): Promise<void> {
    const have = this.tunnels.get(name);
    if (have) {
      if (have.port !== o.port) throw new KernelError(`udp encap ${name}`, `already bound to port ${have.port}, not ${o.port}`);
      return;
    }
    const tun = await TunDevice.open(name);
    const sock = dgram.createSocket({ type: 'udp4', recvBufferSize: 4 << 20, sendBufferSize: 4 << 20 });
    try {
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(o.port, o.bindAddress, () => {
          sock.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      sock.close();
      await tun.close();
      throw new KernelError(`udp encap ${name}`, `cannot bind UDP ${o.bindAddress}:${o.port}: ${(err as Error).message}`, { cause: err });
    }
    const t: Tunnel = { tun, sock, port: o.port, peers: [], stats: { encapsulated: 0, decapsulated: 0, noPeer: 0 } };
    sock.on('message', (msg) => {
      t.stats.decapsulated++;
      tun.write(msg);
    });
    sock.on('error', (err) => this.onError(err));
    tun.start(
      (pkts) => {
        for (const p of pkts) {
          if (p.length < 20 || p[0]! >> 4 !== 4) {
            t.stats.noPeer++;
            continue;
          }
          const dst = p.readUInt32BE(16);
          const peer = t.peers.find((x) => (dst & x.mask) >>> 0 === x.net);
          if (!peer) {
            t.stats.noPeer++;
            continue;
          }
          t.stats.encapsulated++;
          // The view is into a shared batch buffer: copy before the send is queued.
          sock.send(Buffer.from(p), peer.port, peer.address);
        }
      },
      { mtu: o.mtu, onError: (err) => this.onError(err) },
    );
    this.tunnels.set(name, t);
  }

  /** Replace the peer table of a tunnel (which host holds which subnet). */
  setPeers(name: string, peers: readonly EncapPeer[]): void {
    const t = this.tunnels.get(name);
    if (!t) throw new KernelError(`udp encap ${name}`, 'no such tunnel');
    t.peers = peers.map((p) => {
      const [addr, len] = p.subnet.split('/');
      const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
      return { net: (v4(addr!) & mask) >>> 0, mask, address: p.address, port: p.port };
    });
  }

  stats(name: string): UdpEncapStats | undefined {
    const t = this.tunnels.get(name);
    return t && { ...t.stats };
  }

  has(name: string): boolean {
    return this.tunnels.has(name);
  }

  /** Close the socket and the TUN (the kernel deletes the device); not open = success. */
  async stop(name: string): Promise<void> {
    const t = this.tunnels.get(name);
    if (!t) return;
    this.tunnels.delete(name);
    t.sock.close();
    await t.tun.close();
  }

  async close(): Promise<void> {
    for (const n of [...this.tunnels.keys()]) await this.stop(n);
  }
}
