/** KernelPort on the real kernel: rtnetlink handles and namespace fds cached per path. */
import { closeSync } from 'node:fs';
import type { HostSocket, KernelPort, NetlinkPort, NetnsIdentity, StopOutcome } from './kernel-port.js';
import { Rtnl } from './netlink/rtnl.js';
import { createNetns, deleteNetns, netnsCall, netnsInode, openNetnsFd } from './netns.js';
import type { BoundSockets } from './netns-sockets.js';
import { readSysctlIn, writeSysctlIn } from './sysctl.js';
import { isAlive, processStartTime } from './proc.js';
import { requireLinkKind, type OptionalLinkKind } from './link-support.js';
import { arpProbe, type ArpProbeOptions } from './arp-probe.js';
import { waitForDad } from './ipv6-dad.js';
import { announceOn, type NeighbourAnnouncement } from './neighbour-announce.js';
import { libc } from './libc.js';
import { stopProcess } from './process-stop.js';
import { hostNetnsIdentities, netnsIdentityOfFd } from './netns-identity.js';
import { readHostSockets, socketOwner } from './port-owners.js';

interface NsEntry {
  fd: number;
  inode: number | undefined;
  rtnl?: Rtnl;
  /** Send-only packet socket of the namespace (neighbour announcements), made on first use. */
  packet?: number;
}

export class RealKernel implements KernelPort {
  private readonly ns = new Map<string, NsEntry>();

  host(): NetlinkPort {
    return Rtnl.current();
  }

  private entry(path: string): NsEntry {
    const ino = netnsInode(path);
    let e = this.ns.get(path);
    // A path can be re-used by a new namespace (a sandbox re-created): re-open then.
    if (e && e.inode !== ino) {
      this.forget(path);
      e = undefined;
    }
    if (!e) {
      e = { fd: openNetnsFd(path), inode: ino };
      this.ns.set(path, e);
    }
    return e;
  }

  async inNetns(path: string): Promise<NetlinkPort> {
    const e = this.entry(path);
    // The handle uses the entry's namespace fd: one fd per namespace, not one per user of it.
    if (!e.rtnl) e.rtnl = await Rtnl.inNetnsFd(e.fd, path);
    return e.rtnl;
  }

  async netnsFd(path: string): Promise<number> {
    return this.entry(path).fd;
  }

  forget(path: string): void {
    const e = this.ns.get(path);
    if (!e) return;
    this.ns.delete(path);
    e.rtnl?.close();
    for (const fd of [e.packet, e.fd]) {
      if (fd === undefined) continue;
      try {
        closeSync(fd);
      } catch {
        /* already closed */
      }
    }
  }

  createNetns(path: string): Promise<void> {
    return createNetns(path);
  }

  async deleteNetns(path: string): Promise<void> {
    this.forget(path);
    await deleteNetns(path);
  }

  netnsInode(path: string): number | undefined {
    return netnsInode(path);
  }

  async bindInNetns(path: string, address: string, port: number): Promise<BoundSockets> {
    return netnsCall<BoundSockets>({ op: 'bind-sockets', nsFd: this.entry(path).fd, address, port });
  }

  setSysctl(netnsPath: string | undefined, key: string, value: string): Promise<void> {
    return writeSysctlIn(netnsPath, key, value);
  }

  readSysctl(netnsPath: string | undefined, key: string): Promise<string> {
    return readSysctlIn(netnsPath, key);
  }

  processStartTime(pid: number): string | undefined {
    return processStartTime(pid);
  }

  isAlive(pid: number, startTime?: string): boolean {
    return isAlive(pid, startTime);
  }

  requireLinkKind(kind: OptionalLinkKind): Promise<void> {
    return requireLinkKind(kind);
  }

  /** The probe's socket is opened by this process, which lives in the host namespace. */
  arpProbe(o: ArpProbeOptions): Promise<string | undefined> {
    return arpProbe(o);
  }

  /** The namespace's send-only packet socket: made once on the netns worker, then used without a thread hop. */
  private async packetSocket(path: string): Promise<number> {
    const e = this.entry(path);
    if (e.packet !== undefined) return e.packet;
    const fd = await netnsCall<number>({ op: 'packet-socket', nsFd: e.fd });
    if (this.ns.get(path) !== e) {
      closeSync(fd); // the namespace was forgotten meanwhile: ask for the current one's
      return this.packetSocket(path);
    }
    if (e.packet !== undefined)
      closeSync(fd); // a concurrent call made one first
    else e.packet = fd;
    return e.packet;
  }

  async announceNeighbours(netnsPath: string, ifindex: number, sourceMac: string, entries: NeighbourAnnouncement[]): Promise<void> {
    if (entries.length === 0) return;
    announceOn(libc(), await this.packetSocket(netnsPath), ifindex, sourceMac, entries);
  }

  async waitForDad(netnsPath: string, index: number, cidr: string, timeoutMs: number): Promise<'ok' | 'duplicate'> {
    return waitForDad(await this.inNetns(netnsPath), index, cidr, timeoutMs);
  }

  stopProcess(pid: number, startTime: string | undefined, graceMs: number): Promise<StopOutcome> {
    return stopProcess(pid, startTime, graceMs);
  }

  async netnsIdentity(path: string): Promise<NetnsIdentity> {
    return netnsIdentityOfFd(this.entry(path).fd);
  }

  hostNetns(): { what: string; id: NetnsIdentity }[] {
    return hostNetnsIdentities();
  }

  hostSockets(): HostSocket[] {
    return readHostSockets();
  }

  socketOwner(inode: number): string | undefined {
    return socketOwner(inode);
  }

  close(): void {
    for (const p of [...this.ns.keys()]) this.forget(p);
  }
}
