/**
 * The engine without the daemon around it: store + kernel + controller. weftd uses it, and so
 * can an entry point that must work while weftd is not running (the CNI plugin's fallback);
 * cross-process safety comes from the store's compare-and-set and named locks.
 */
import { mkdir } from 'node:fs/promises';
import type { DaemonConfig } from '../config/daemon-config.js';
import { openStore } from '../store/open-store.js';
import { Records } from '../store/records.js';
import { DriverRegistry } from '../drivers/registry.js';
import { RealKernel } from '../kernel/real-kernel.js';
import { Controller } from './controller.js';
import type { ControllerContext } from './context.js';
import type { Store } from '../store/store.js';
import { installDockerBridge } from '../api/docker/docker-integration.js';

export interface Engine {
  controller: Controller;
  store: Store;
  kernel: RealKernel;
  close(): Promise<void>;
}

/** Prefixes of routes in this namespace, so default pools never shadow them. */
function hostRoutesOf(kernel: RealKernel): () => string[] {
  return () =>
    [...kernel.host().routes(4), ...kernel.host().routes(6)]
      .filter((r) => r.dst !== '0.0.0.0/0' && r.dst !== '::/0' && !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff00:'))
      .map((r) => r.dst);
}

export async function openEngine(config: DaemonConfig): Promise<Engine> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(config.runDir, { recursive: true, mode: 0o711 });
  const store = await openStore(config.storeUrl);
  const kernel = new RealKernel();
  const ctx: ControllerContext = {
    records: new Records(store),
    drivers: new DriverRegistry(),
    kernel,
    config,
    hooks: [],
    hostRoutes: hostRoutesOf(kernel),
  };
  const controller = new Controller(ctx);
  // Endpoints Docker created (veth made at Join, moved by dockerd) need the Docker-aware bridge
  // driver in every process that may reconcile them, not only in weftd (the CNI fallback too).
  installDockerBridge(controller);
  return {
    controller,
    store,
    kernel,
    async close() {
      await store.close();
      kernel.close();
    },
  };
}
