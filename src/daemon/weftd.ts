/**
 * weftd: one per host; the single writer of kernel state. Opens the store, reconciles the
 * kernel with it, serves the REST API, and keeps reconciling (liveness + drift) on a timer.
 * Stopping weftd never tears down networks: live sandboxes keep their traffic.
 */
import type { DaemonConfig } from '../config/daemon-config.js';
import type { Controller } from '../controller/controller.js';
import { claimEngineState, openEngine } from '../controller/open-engine.js';
import type { IncomingMessage } from 'node:http';
import { peerCred } from '../kernel/peer-cred.js';
import { FirewallService } from './firewall-service.js';
import { DnsService } from './dns-service.js';
import { NftFirewall } from '../firewall/nft-firewall.js';
import { NoneFirewall } from '../firewall/none-firewall.js';
import { KernelForwarding } from '../firewall/kernel-forwarding.js';
import { DockerUserChain } from '../firewall/docker-user-chain.js';
import type { FirewallBackend } from '../firewall/types.js';
import type { HostIntegration } from '../firewall/host-integration.js';
import { buildRoutes, prepareRestSocket, serveRest, type RestServer } from '../api/rest/rest-server.js';
import { createLogger, type Logger } from '../logger.js';
import { registerCniRoutes } from '../api/cni/cni-routes.js';
import { startDockerIntegration, type DockerIntegration } from '../api/docker/docker-integration.js';
import { ErrorList, type WeftError } from '../errors.js';
import { joinCluster, startOperations, type Operations } from './operations.js';
import type { ClusterService } from '../cluster/cluster-service.js';
import { ClusterNullDriver } from '../drivers/cluster-null/cluster-null-driver.js';
import { BgpService, bgpRunDir, registerBgpRoutes } from './bgp-service.js';
import { PolicyService, registerPolicyRoutes } from './policy-service.js';
import { registerMeshRoutes } from './mesh-service.js';
import { startMesh, syncMeshNames, syncMeshNetworks } from '../mesh/mesh-host.js';
import { DeferredStart, type DeferredHandle, type DeferredStatus } from './deferred-start.js';

/** Options beyond DaemonConfig. dockerPluginSocket: where to serve Docker's plugin API (unset = off). */
export interface DaemonOptions {
  dockerPluginSocket?: string;
}

export interface Daemon {
  controller: Controller;
  config: DaemonConfig;
  /**
   * Resolves if this weftd can no longer run as configured: started during a store outage, it
   * found its host id held by another live host when the store answered. The caller reports it
   * and stops, as a start refused for the same reason does (main.ts: log it, exit 1).
   */
  failed: Promise<WeftError>;
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

/** The firewall backend and the host integrations it needs (with `none`, weft leaves the kernel's forwarding alone). */
function firewallOf(config: DaemonConfig): { fw: FirewallBackend; integrations: HostIntegration[] } {
  return config.firewall === 'nftables'
    ? { fw: new NftFirewall(), integrations: [new KernelForwarding(), new DockerUserChain()] }
    : { fw: new NoneFirewall(), integrations: [new DockerUserChain()] };
}

export async function startDaemon(config: DaemonConfig, log: Logger = createLogger(), opts: DaemonOptions = {}): Promise<Daemon> {
  const { fw, integrations } = firewallOf(config);
  // First of all: one daemon per state. A second one is refused, naming the first's pid, before
  // it joins the cluster or touches the store or the kernel.
  const state = claimEngineState(config);
  let cluster: Awaited<ReturnType<typeof joinCluster>>;
  let engine: Awaited<ReturnType<typeof openEngine>>;
  let mesh: Awaited<ReturnType<typeof startMesh>>;
  try {
    cluster = await joinCluster(config, log); // a refused join leaves the host untouched (an absent store is waited for)
    mesh = await startMesh(config, log);
  } catch (err) {
    const undo = new ErrorList('weftd start failed, and undoing its start failed too');
    undo.add(err);
    await undo.run(() => mesh?.stop());
    await undo.run(() => cluster?.stop());
    state.release();
    throw undo.combined();
    throw err;
  }
  try {
    engine = await openEngine(config, {
      services: {
        firewall: fw,
        log,
        runDir: config.runDir,
        ...(cluster ? { cluster: cluster.driverService(), udpEncap: cluster.udpEncap, wireguard: cluster.wireguard } : {}),
        ...(mesh ? { mesh: mesh.service } : {}),
      },
      ...(cluster ? cluster.engineParts() : {}),
      // A global driver without a dataplane, for the cluster lab tests and benchmark only.
      ...(process.env.WEFT_TEST_DRIVERS === '1' ? { extraDrivers: [new ClusterNullDriver()] } : {}),
      state,
    });
  } catch (err) {
    const undo = new ErrorList('weftd start failed, and leaving the cluster failed too');
    undo.add(err);
    await undo.run(() => mesh?.stop());
    await undo.run(() => cluster?.stop());
    state.release();
    throw undo.combined();
  }
  const { controller } = engine;
  let fail!: (err: WeftError) => void;
  const failed = new Promise<WeftError>((resolve) => (fail = resolve));
  if (cluster) {
    const refused = cluster.agent.refusedWith();
    if (refused) fail(refused);
    else cluster.agent.once('refused', fail);
  }
  /** BGP and policy when they wait for the store (see whenJoined). */
  const deferredStarts: DeferredHandle[] = [];
  let docker: DockerIntegration | undefined;
  const startedAt = new Date().toISOString();
  let server: RestServer | undefined;
  let ops: Operations | undefined;
  let bgp: BgpService | undefined;
  let policy: PolicyService | undefined;
  let timer: NodeJS.Timeout | undefined;
  let stopDrift: (() => void) | undefined;
  let stopMeshNames: (() => void) | undefined;
  const meshNets = mesh ? syncMeshNetworks(mesh.router, controller, log) : undefined;
  const firewall = new FirewallService(fw, integrations, controller, log);
  const dns = new DnsService(config.dnsUpstreams, log, 53, (net) => controller.gatewayNamespace(net));
  try {
    // Before the firewall, reconcile or anything else acts on the kernel: a socket another
    // process serves on is refused now (and left alone), not after this daemon changed things.
    await prepareRestSocket(config.socketPath);
    await firewall.init();
    controller.addHooks(firewall);
    stopDrift = await controller.watchDrift();
    controller.addHooks(dns);
    if (mesh) stopMeshNames = syncMeshNames(mesh.router, controller, dns.table, log);
    if (meshNets) controller.addHooks(meshNets.hooks); // mesh networks made/removed here → every peer
    const startPass = controller.start();
    if (cluster) reconcileGlobalWhenJoined(cluster, controller, startPass, log);
    const report = await startPass;
    log.info({ ...report }, 'reconciled at start');
    meshNets?.start(); // … and those of every peer → here
    cluster?.follow(controller); // global networks, remote endpoints and hosts → the controller
    const routes = buildRoutes(controller, {
      doctor: async (repair) => {
        const r = await controller.doctor(repair);
        // A store-driven service that keeps failing to start is a problem of this host too.
        const more = deferredStarts.flatMap((d) => d.violations());
        return more.length === 0 ? r : { ...r, ok: false, violations: [...r.violations, ...more] };
      },
      info: () => ({
        version: '0.1.0',
        pid: process.pid,
        startedAt,
        store: controller.info().store,
        firewall: fw.name,
        ...(cluster ? { cluster: { store: cluster.agent.storeState(), services: serviceStatus() } } : {}),
        config: { ...config },
      }),
    });
    registerCniRoutes(routes, controller); // POST /v1/cni for the CNI plugin's compiled entry point
    registerMeshRoutes(routes, mesh, config.mesh); // /v1/mesh (weft mesh …)
    docker = await startDockerIntegration(controller, routes, log, { pluginSocket: opts.dockerPluginSocket });
    ops = await startOperations(config, log, routes, controller, cluster); // GET /v1/hosts, /metrics
    const metrics = ops.metrics;
    // Both render from the store: without it at start they begin once it answers. Meanwhile
    // what the last weftd left keeps working (BIRD keeps announcing, the policy table stays).
    const deferred = cluster && { cluster, log, deferredStarts };
    if (deferred && config.bgp) {
      const bgpConfig = config.bgp;
      const startBgp = () => BgpService.start(deferred.cluster.agent, { runDir: bgpRunDir(config.runDir), config: bgpConfig, log });
      bgp = await whenJoined(deferred, 'BGP', startBgp, (s) => (bgp = s));
    }
    const bgpStart = deferredStarts.find((d) => d.status().service === 'BGP');
    registerBgpRoutes(
      routes,
      () => bgp,
      config.bgp !== undefined,
      () => bgpStart?.failure(),
    ); // GET /v1/bgp/peers|routes
    if (deferred && config.policy) {
      // Late (after the store's return), a refused first transaction is a failed start, retried,
      // not a running service that enforces nothing until the next store change. At weftd's own
      // start it stays as before: logged, and the next change applies again.
      const startPolicy = (late: boolean) => PolicyService.start(deferred.cluster.agent, { log, requireFirstApply: late });
      policy = await whenJoined(deferred, 'policy', startPolicy, (s) => (policy = s));
    }
    registerPolicyRoutes(routes, cluster?.store); // /v1/policies (weft policy …)
    server = await serveRest(config.socketPath, routes, log, rootOnly, (code) => metrics.errors.inc({ code }));
  } catch (err) {
    const undo = new ErrorList('weftd start failed, and stopping what had started failed too');
    undo.add(err);
    for (const d of deferredStarts) d.cancel();
    await undo.run(() => policy?.stop());
    await undo.run(() => bgp?.stop());
    await undo.run(() => (ops ?? cluster)?.stop());
    await undo.run(() => docker?.stop());
    stopDrift?.();
    stopMeshNames?.();
    meshNets?.stop();
    firewall.stop();
    await undo.run(() => dns.close());
    await undo.run(() => engine.close());
    await undo.run(async () => mesh?.stop());
    throw undo.combined();
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
      const r = ops ? await ops.timeReconcile(full ? 'full' : 'liveness', () => controller.resync(full)) : await controller.resync(full);
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
  /** Each store-driven service: started at once (running), or where its deferred start is. */
  function serviceStatus(): DeferredStatus[] {
    const at = (what: string, enabled: boolean, running: boolean): DeferredStatus[] => {
      if (!enabled) return [];
      const d = deferredStarts.find((x) => x.status().service === what);
      return [d ? d.status() : { service: what, state: running ? 'running' : 'stopped', failures: 0 }];
    };
    return [...at('BGP', config.bgp !== undefined, bgp !== undefined), ...at('policy', config.policy === true, policy !== undefined)];
  }

  return {
    controller,
    config,
    failed,
    async stop() {
      for (const d of deferredStarts) d.cancel();
      if (timer) clearInterval(timer);
      timer = undefined;
      firewall.stop();
      stopDrift?.();
      await dns.close();
      await docker?.stop();
      await server?.close();
      await policy?.stop(); // the policy table stays in force
      await bgp?.stop(); // BIRD keeps running: routes stay announced, the next weftd adopts it
      await ops?.stop();
      while (busy) await new Promise((r) => setTimeout(r, 10));
      stopMeshNames?.();
      meshNets?.stop();
      await mesh?.stop();
      // Releases the state lock last, once nothing of this daemon acts any more.
      await engine.close();
    },
  };
}

/**
 * Started without the cluster store, the start pass saw no global network and none of this
 * host's endpoints on them (their kernel objects were left as they are). When the store first
 * answers, the global scope gets that pass: ensured, announced to DNS/firewall/drift, swept.
 */
function reconcileGlobalWhenJoined(cluster: ClusterService, controller: Controller, startPass: Promise<unknown>, log: Logger): void {
  if (cluster.agent.storeState() === 'connected') return;
  cluster.agent.once('storeUp', () => {
    void startPass
      .then(() => controller.reconcileGlobal())
      .then(
        (r) => log.info({ ...r }, 'cluster store reached: global networks and endpoints reconciled'),
        (err: unknown) => log.warn({ err: String(err) }, 'reconciling the global scope failed; the periodic pass repairs the kernel'),
      );
  });
}

/**
 * Start a store-driven service now when the cluster store is reached (a failure fails weftd's
 * start), else once it first answers, in the background and retried with a bounded backoff
 * until it runs (deferred-start.ts); `adopt` receives it; weftd's stop cancels what is pending.
 */
async function whenJoined<S extends { stop(): Promise<void> }>(
  { cluster, log, deferredStarts }: { cluster: ClusterService; log: Logger; deferredStarts: DeferredHandle[] },
  what: string,
  /** `late`: started after the store's return (retried on failure), not at weftd's start. */
  start: (late: boolean) => Promise<S>,
  adopt: (s: S) => void,
): Promise<S | undefined> {
  if (cluster.agent.storeState() === 'connected') return start(false);
  log.warn({ service: what }, `${what} starts once the cluster store answers`);
  const d = new DeferredStart<S>({ what, start: () => start(true), adopt, log });
  deferredStarts.push(d);
  cluster.agent.once('storeUp', () => d.begin());
  return undefined;
}
