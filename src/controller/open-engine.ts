/**
 * The engine without the daemon around it: store + kernel + drivers + controller, composed in
 * one place. weftd uses it, and so does an entry point that must work while weftd is not
 * running (the CNI plugin's fallback); cross-process safety comes from the store's
 * compare-and-set and named locks. Callers get the controller and nothing else of the inside.
 */
import { mkdir } from 'node:fs/promises';
import type { DaemonConfig } from '../config/daemon-config.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { DriverRegistry, builtinDrivers } from '../drivers/registry.js';
import type { Driver, DriverServices } from '../drivers/driver.js';
import { RealKernel } from '../kernel/real-kernel.js';
import type { KernelPort } from '../kernel/kernel-port.js';
import { Controller } from './controller.js';
import { hostRoutesOf } from './context.js';
import { ModelRecords, RecordScopes } from './scopes.js';
import { ErrorList } from '../errors.js';
import type { ClusterPort } from './cluster-port.js';

export interface Engine {
  controller: Controller;
  close(): Promise<void>;
}

export interface EngineParts {
  config: DaemonConfig;
  store: Store;
  /** Cluster store for global-scope networks (src/store/etcd-*); absent on a single host. */
  globalStore?: Store;
  /** The cluster agent's port (host identity, cluster IPAM); given with globalStore. */
  cluster?: ClusterPort;
  kernel: KernelPort;
  drivers?: readonly Driver[];
  services?: DriverServices;
}

/** A controller over given parts (unit tests pass a memory store and the fake kernel). */
export function buildController(p: EngineParts): Controller {
  return new Controller({
    records: new ModelRecords(new RecordScopes(p.store, p.globalStore, p.cluster)),
    drivers: new DriverRegistry(p.drivers ?? builtinDrivers()),
    kernel: p.kernel,
    services: p.services ?? {},
    config: p.config,
    hooks: [],
    hostRoutes: hostRoutesOf(p.kernel),
  });
}

/** The real engine: the store named by the config, the real kernel, the built-in drivers. */
export async function openEngine(
  config: DaemonConfig,
  opts: { services?: DriverServices; globalStore?: Store; cluster?: ClusterPort; extraDrivers?: readonly Driver[] } = {},
): Promise<Engine> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(config.runDir, { recursive: true, mode: 0o711 });
  const store = await openStore(config.storeUrl);
  const kernel = new RealKernel();
  const controller = buildController({
    config,
    store,
    kernel,
    ...(opts.services ? { services: opts.services } : {}),
    // The cluster store is the cluster service's: it opens and closes it, the engine only uses it.
    ...(opts.globalStore && opts.cluster ? { globalStore: opts.globalStore, cluster: opts.cluster } : {}),
    ...(opts.extraDrivers ? { drivers: [...builtinDrivers(), ...opts.extraDrivers] } : {}),
  });
  return {
    controller,
    async close() {
      controller.stop();
      const errors = new ErrorList('closing the engine');
      await errors.run(() => store.close());
      await errors.run(() => kernel.close());
      errors.throwIfAny();
    },
  };
}
