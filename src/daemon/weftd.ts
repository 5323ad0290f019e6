/**
 * weftd: one per host; the single writer of kernel state. Opens the store, reconciles the
 * kernel with it, serves the REST API, and keeps reconciling (liveness + drift) on a timer.
 * Stopping weftd never tears down networks: live sandboxes keep their traffic.
 */
import { mkdir } from 'node:fs/promises';
import type { DaemonConfig } from '../config/daemon-config.js';
import { openStore } from '../store/open-store.js';
import { Records } from '../store/records.js';
import { DriverRegistry } from '../drivers/registry.js';
import { RealKernel } from '../kernel/real-kernel.js';
import { Controller } from '../controller/controller.js';
import type { ControllerContext } from '../controller/context.js';
import { buildRoutes, serveRest, type RestServer } from '../api/rest/rest-server.js';
import { createLogger, type Logger } from './logger.js';
import type { Store } from '../store/store.js';

export interface Daemon {
  controller: Controller;
  config: DaemonConfig;
  stop(): Promise<void>;
}

/** Prefixes of routes in the daemon's namespace, so default pools never shadow them. */
function hostRoutesOf(kernel: RealKernel): () => string[] {
  return () =>
    [...kernel.host().routes(4), ...kernel.host().routes(6)]
      .filter((r) => r.dst !== '0.0.0.0/0' && r.dst !== '::/0' && !r.dst.startsWith('fe80:') && !r.dst.startsWith('ff00:'))
      .map((r) => r.dst);
}

export async function startDaemon(config: DaemonConfig, log: Logger = createLogger()): Promise<Daemon> {
  await mkdir(config.stateDir, { recursive: true, mode: 0o700 });
  await mkdir(config.runDir, { recursive: true, mode: 0o711 });
  const store: Store = await openStore(config.storeUrl);
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
  const startedAt = new Date().toISOString();
  let server: RestServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const report = await store.withLock('reconcile', () => controller.start());
    log.info({ ...report }, 'reconciled at start');
    const routes = buildRoutes(controller, {
      info: () => ({ version: '0.1.0', pid: process.pid, startedAt, store: store.backend, config: { ...config } }),
    });
    server = await serveRest(config.socketPath, routes, log, () => true);
  } catch (err) {
    await store.close();
    kernel.close();
    throw err;
  }

  let cycle = 0;
  let busy = false;
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      const full = ++cycle % 5 === 0;
      const r = await store.withLock('reconcile', () => controller.resync(full), { timeoutMs: 2000 });
      if (r.sandboxesReaped.length || r.orphansRemoved.length || r.errors.length) log.info({ ...r }, 'resync');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'resync failed');
    } finally {
      busy = false;
    }
  };
  timer = setInterval(() => void tick(), config.resyncMs);

  log.info({ socket: config.socketPath, store: config.storeUrl, pid: process.pid }, 'weftd ready');
  return {
    controller,
    config,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await server?.close();
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await store.close();
      kernel.close();
    },
  };
}
