/**
 * What drivers and the controller need from the kernel, as one object handed to them. The
 * real one (`RealKernel`) uses rtnetlink and netns; tests of pure logic can pass a fake.
 */
import type { Rtnl } from './netlink/rtnl.js';

export interface KernelPort {
  /** rtnetlink in the daemon's own ("host") namespace. */
  host(): Rtnl;
  /** rtnetlink in the namespace at path (cached; forget() drops it). */
  inNetns(path: string): Promise<Rtnl>;
  /** fd of the namespace at path (cached with the Rtnl handle). */
  netnsFd(path: string): Promise<number>;
  forget(path: string): void;
  createNetns(path: string): Promise<void>;
  deleteNetns(path: string): Promise<void>;
  netnsInode(path: string): number | undefined;
  /** Write a sysctl (key like "net.ipv4.ip_forward") in the namespace at path, or the host's. */
  setSysctl(netnsPath: string | undefined, key: string, value: string): Promise<void>;
}
