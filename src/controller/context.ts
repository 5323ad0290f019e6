/** What every controller operation needs, bundled so the ops can live in small files. */
import type { Records } from '../store/records.js';
import type { DriverRegistry } from '../drivers/registry.js';
import type { KernelPort } from '../kernel/kernel-port.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';

/**
 * Services that follow the model (embedded DNS, firewall, port publishing). Hooks are called
 * after the kernel work of a change succeeded; they must be idempotent.
 */
export interface ControllerHooks {
  networkUp?(net: NetworkRecord): Promise<void>;
  networkDown?(net: NetworkRecord): Promise<void>;
  endpointUp?(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void>;
  endpointDown?(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void>;
  sandboxDown?(sb: SandboxRecord): Promise<void>;
}

export interface ControllerContext {
  records: Records;
  drivers: DriverRegistry;
  kernel: KernelPort;
  config: DaemonConfig;
  hooks: ControllerHooks[];
  /** Prefixes of host routes the default pools must avoid (read from the kernel). */
  hostRoutes(): string[];
}

export async function runHooks<K extends keyof ControllerHooks>(
  ctx: ControllerContext,
  name: K,
  ...args: Parameters<NonNullable<ControllerHooks[K]>>
): Promise<void> {
  for (const h of ctx.hooks) {
    const f = h[name] as ((...a: unknown[]) => Promise<void>) | undefined;
    if (f) await f.apply(h, args);
  }
}
