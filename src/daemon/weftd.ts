/**
 * weftd: one per host; the single writer of kernel state. Opens the store, reconciles the
 * kernel with it, serves the REST API, and keeps reconciling (liveness + drift) on a timer.
 * Stopping weftd never tears down networks: live sandboxes keep their traffic.
 */
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Controller } from '../controller/controller.js';
import { openEngine } from './engine.js';
import type { IncomingMessage } from 'node:http';
import { peerCred } from '../kernel/peer-cred.js';
import { FirewallService } from './firewall-service.js';
import { DriftWatcher } from './drift-watcher.js';
import { DnsService } from './dns-service.js';
import { NftFirewall } from '../firewall/nft-firewall.js';
import { NoneFirewall } from '../firewall/none-firewall.js';
import { buildRoutes, serveRest, type RestServer } from '../api/rest/rest-server.js';
import { createLogger, type Logger } from './logger.js';
import { registerCniRoutes } from '../api/cni/cni-routes.js';
import { dockerPortMappings } from '../api/docker/docker-records.js';
import { startDockerIntegration, type DockerIntegration } from '../api/docker/docker-integration.js';
import { acquireStateLock } from '../kernel/state-lock.js';

/** Options beyond DaemonConfig. dockerPluginSocket: where to serve Docker's plugin API (unset = off). */
export interface DaemonOptions {
  dockerPluginSocket?: string;
}

export interface Daemon {
  controller: Controller;
  config: DaemonConfig;
  stop(): Promise<void>;
}

/**
 * Only root may use the API: the socket is 0600 in a 0700 directory, and the peer's
 * credentials are checked on every request as a second line (a socket passed to another
 * process, or a directory made laxer by hand, must not open the API to other users).
 */
function rootOnly(req: IncomingMessage): boolean {
  const cred = peerCred(req.socket);
  return cred !== undefined && cred.uid === 0;
}

export async function startDaemon(config: DaemonConfig, log: Logger = createLogger(), opts: DaemonOptions = {}): Promise<Daemon> {
  // Before the store or the kernel is touched: a second daemon on this state must not start.
  const stateLock = acquireStateLock(config);
  let engine;
  try {
    engine = await openEngine(config);
  } catch (err) {
    stateLock.release();
    throw err;
  }
  const { store, controller } = engine;
  let docker: DockerIntegration | undefined;
  const startedAt = new Date().toISOString();
  let server: RestServer | undefined;
  let timer: NodeJS.Timeout | undefined;
  // Ports Docker published through the plugin are part of the firewall's state too.
  const firewall = new FirewallService(config.firewall === 'nftables' ? new NftFirewall() : new NoneFirewall(), controller.ctx, log, () =>
    dockerPortMappings(store),
  );
  const dns = new DnsService(config.dnsUpstreams, log);
  const drift = new DriftWatcher(
    controller.ctx,
    () => controller.resync(true),
    (id) => controller.resyncSandbox(id),
  );
  try {
    await firewall.init();
    controller.addHooks(firewall);
    await drift.start();
    controller.addHooks(drift);
    controller.addHooks(dns);
    const report = await controller.start();
    log.info({ ...report }, 'reconciled at start');
    const routes = buildRoutes(controller, {
      doctor: (repair) => controller.doctor(repair),
      info: () => ({
        version: '0.1.0',
        pid: process.pid,
        startedAt,
        store: store.backend,
        firewall: firewall.fw.name,
        config: { ...config },
      }),
    });
    registerCniRoutes(routes, controller); // POST /v1/cni for the CNI plugin's compiled entry point
    docker = await startDockerIntegration(controller, routes, log, { pluginSocket: opts.dockerPluginSocket, firewall: firewall.fw });
    server = await serveRest(config.socketPath, routes, log, rootOnly);
  } catch (err) {
    await docker?.stop();
    drift.stop();
    firewall.stop();
    await dns.close();
    await engine.close();
    stateLock.release();
    throw err;
  }

  let busy = false;
  let lastFull = Date.now();
  const tick = async (): Promise<void> => {
    if (busy) return;
    busy = true;
    try {
      // Liveness every tick (cheap). Drift is repaired from kernel events as it happens; the
      // full kernel pass is a slow safety net for anything an event could not tell us.
      const full = Date.now() - lastFull >= config.fullResyncMs;
      if (full) lastFull = Date.now();
      const r = await controller.resync(full);
      if (r.sandboxesReaped.length || r.orphansRemoved.length || r.errors.length) log.info({ ...r }, 'resync');
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'resync failed');
    } finally {
      busy = false;
    }
  };
  timer = setInterval(() => void tick(), config.resyncMs);
  firewall.watch(Math.min(1000, config.resyncMs));

  log.info({ socket: config.socketPath, store: config.storeUrl, pid: process.pid }, 'weftd ready');
  return {
    controller,
    config,
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      firewall.stop();
      drift.stop();
      await dns.close();
      await docker?.stop();
      await server?.close();
      while (busy) await new Promise((r) => setTimeout(r, 10));
      await engine.close();
      stateLock.release();
    },
  };
}
