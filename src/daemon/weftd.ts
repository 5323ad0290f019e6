/**
 * weftd: one per host; the single writer of kernel state. Opens the store, reconciles the
 * kernel with it, serves the REST API, and keeps reconciling (liveness + drift) on a timer.
 * Stopping weftd never tears down networks: live sandboxes keep their traffic.
 */
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Controller } from '../controller/controller.js';
import { openEngine } from './engine.js';
import { buildRoutes, serveRest, type RestServer } from '../api/rest/rest-server.js';
import { createLogger, type Logger } from './logger.js';

export interface Daemon {
  controller: Controller;
  config: DaemonConfig;
  stop(): Promise<void>;
}

export async function startDaemon(config: DaemonConfig, log: Logger = createLogger()): Promise<Daemon> {
  const engine = await openEngine(config);
  const { store, controller } = engine;
  const startedAt = new Date().toISOString();
  let server: RestServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const report = await store.withLock('reconcile', () => controller.start());
    log.info({ ...report }, 'reconciled at start');
    const routes = buildRoutes(controller, {
      doctor: (repair) => store.withLock('reconcile', () => controller.doctor(repair)),
      info: () => ({ version: '0.1.0', pid: process.pid, startedAt, store: store.backend, config: { ...config } }),
    });
    server = await serveRest(config.socketPath, routes, log, () => true);
  } catch (err) {
    await engine.close();
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
      await engine.close();
    },
  };
}
