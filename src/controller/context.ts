/**
 * What every controller operation needs, bundled so the ops can live in small files. Private
 * to src/controller: surfaces and daemon services reach the engine through Controller's
 * methods only.
 */
import type { DriverRegistry } from '../drivers/registry.js';
import type { KernelPort } from '../kernel/kernel-port.js';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { DriverContext, DriverServices, EndpointContext, NetworkContext, RemoteEndpoint } from '../drivers/driver.js';
import type { FwPortMapping } from '../firewall/types.js';
import type { ModelRecords } from './scopes.js';
import { createLogger, type Logger } from '../logger.js';

/**
 * Services that follow the model (embedded DNS, firewall, port publishing, drift watching).
 * Hooks are called after the kernel work of a change succeeded; they must be idempotent.
 */
export interface ControllerHooks {
  networkUp?(net: NetworkRecord): Promise<void>;
  networkDown?(net: NetworkRecord): Promise<void>;
  endpointUp?(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void>;
  endpointDown?(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void>;
  sandboxDown?(sb: SandboxRecord): Promise<void>;
  /** An endpoint on another host (global networks), after the network's driver was told. */
  remoteEndpointUp?(net: NetworkRecord, peer: RemoteEndpoint): Promise<void>;
  remoteEndpointDown?(peer: RemoteEndpoint): Promise<void>;
  /** Ports published outside sandbox records (a runtime's endpoint, e.g. `docker run -p`). */
  portsUp?(mappings: FwPortMapping[]): Promise<void>;
  portsDown?(mappings: FwPortMapping[]): Promise<void>;
}

export interface ControllerContext {
  /** Records across scopes (local always, global once a cluster store is configured). */
  records: ModelRecords;
  drivers: DriverRegistry;
  kernel: KernelPort;
  services: DriverServices;
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

export const driverCtx = (ctx: ControllerContext): DriverContext => ({ kernel: ctx.kernel, services: ctx.services });

export const networkCtx = (ctx: ControllerContext, network: NetworkRecord): NetworkContext => ({
  kernel: ctx.kernel,
  services: ctx.services,
  network,
});

export const endpointCtx = (
  ctx: ControllerContext,
  network: NetworkRecord,
  endpoint: EndpointRecord,
  sandbox: SandboxRecord,
): EndpointContext => ({
  kernel: ctx.kernel,
  services: ctx.services,
  network,
  endpoint,
  sandbox,
});

/** Prefixes of the routes in the daemon's namespace, so default pools never shadow them. */
export function hostRoutesOf(kernel: KernelPort): () => string[] {
  return () =>
    [...kernel.host().routes(4), ...kernel.host().routes(6)]
      .filter((r) => r.dst !== '0.0.0.0/0' && r.dst !== '::/0' && !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff00:'))
      .map((r) => r.dst);
}

let fallbackLog: Logger | undefined;

/** Where background failures go: the engine's logger, or stderr in a process built without one. */
export function logOf(ctx: ControllerContext): Logger {
  return ctx.services.log ?? (fallbackLog ??= createLogger('warn'));
}
