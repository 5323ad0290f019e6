/**
 * The driver contract (CNM, seed 002): validate is pure; setup/teardown act on the kernel.
 * Network-level hooks run when a network is created/removed or reconciled; endpoint-level
 * hooks join/leave one sandbox. teardown tolerates what is already gone.
 */
import type { EndpointRecord, IpamPoolConfig, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { KernelPort } from '../kernel/kernel-port.js';

export interface DriverContext {
  kernel: KernelPort;
}

export interface EndpointContext extends DriverContext {
  network: NetworkRecord;
  endpoint: EndpointRecord;
  sandbox: SandboxRecord;
}

export interface NetworkValidation {
  /** Options normalized (e.g. parsed booleans back to canonical strings). */
  options: Record<string, string>;
  /** Derived state stored with the network (bridge name, mtu…). */
  driverState: Record<string, string>;
  /** The pools with addresses the driver reserves for itself (e.g. macvlan's host shim), if any. */
  ipam?: IpamPoolConfig[];
}

export interface Driver {
  readonly name: string;
  /** Whether endpoints get addresses from IPAM (bridge) or not (host, null). */
  readonly usesIpam: boolean;
  /** Whether this driver's networks may be created by users (host/null exist once). */
  readonly userCreatable: boolean;
  /** Check options; pure. Throws InvalidArgumentError naming the option. */
  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation;
  setup(ctx: DriverContext, net: NetworkRecord): Promise<void>;
  teardown(ctx: DriverContext, net: NetworkRecord): Promise<void>;
  /** Problems with the network's kernel state (empty = healthy). */
  check(ctx: DriverContext, net: NetworkRecord): Promise<string[]>;
  setupEndpoint(ctx: EndpointContext): Promise<void>;
  teardownEndpoint(ctx: EndpointContext): Promise<void>;
  checkEndpoint(ctx: EndpointContext): Promise<string[]>;
  /**
   * Optional: who already holds `address` outside weft's records (macvlan's ARP probe of the
   * LAN), or undefined when it is free. Asked before an address is handed out; a dynamic
   * candidate that is held is skipped, a requested one is refused.
   */
  addressInUse?(ctx: DriverContext, net: NetworkRecord, family: 4 | 6, address: string): Promise<string | undefined>;
  /** Optional: the MAC the kernel imposes on the network's endpoints (macvlan passthru: the parent's). */
  fixedMac?(ctx: DriverContext, net: NetworkRecord): string | undefined;
}
