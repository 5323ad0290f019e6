/**
 * The CNM controller — the one facade. REST, CNI, the Docker plugin, the CLI (through REST) and
 * every daemon service change or read weft's state through these methods and nothing else;
 * the context (store, kernel, drivers) is private to src/controller. Every public method
 * validates its input first; every change runs under the engine lock.
 */
import type { ControllerContext, ControllerHooks } from './context.js';
import { driverCtx, endpointCtx, networkCtx } from './context.js';
import type { Driver, EgressInterface, RemoteEndpoint, RemoteHost } from '../drivers/driver.js';
import type { BoundSockets } from '../kernel/kernel-port.js';

import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { FirewallState, FwNetwork, FwPortMapping } from '../firewall/types.js';
import { sandboxMappings } from './port-ops.js';
import { createNetwork, ensurePredefinedNetworks, pruneNetworks, removeNetwork, resolveNetwork } from './network-ops.js';
import { renameNetwork } from './network-rename.js';
import { createSandbox, removeSandbox, resolveSandbox, setSandboxPid, type CreatedSandbox } from './sandbox-ops.js';
import { connectEndpoint, disconnectEndpoint } from './endpoint-ops.js';
import { ConnectInput, DisconnectInput, SandboxLabelInput, SandboxPatchInput, parseInput } from './inputs.js';
import { relabelSandbox } from './sandbox-label-ops.js';
import { ErrorList, InvalidArgumentError, NotFoundError } from '../errors.js';
import { inspectNetwork, viewSandbox, type NetworkInspect, type SandboxView } from './inspect.js';
import { ensureEndpoint, reconcile, reapDeadSandboxes, type ReconcileReport } from './reconcile.js';
import { checkEndpoint, doctor, type DoctorReport } from './doctor.js';
import { addressesOf, releaseOwner, reserveAddress } from './ipam-ops.js';
import { firewallNetworks, publishedMappings } from './runtime-ports.js';
import { RuntimeFacade } from './runtime-facade.js';
import { DriftWatcher } from './drift-watcher.js';
import { RemoteView, globalNetworkDown, globalNetworkUp, remoteEndpointDown, remoteEndpointUp } from './cluster-events.js';

const ID_RE = /^[0-9a-f]{64}$/;
import { DEFAULT_STOP_GRACE_S, assertRemovable, assertStoppable, runsCommand, stopCommand } from './sandbox-stop.js';

/** See Controller.gatewayNamespace. */
export interface GatewayNamespace {
  path: string;
  inode: number | undefined;
  /** A UDP and a TCP socket bound to address:port there. */
  bind: (address: string, port: number) => Promise<BoundSockets>;
}

export class Controller {
  /** Container runtimes' side of the facade (Docker's plugin protocol, `weft attach CONTAINER`). */
  readonly runtime: RuntimeFacade;

  /** Remote endpoints delivered to drivers (cluster mode), for inspect. */
  private readonly remote = new RemoteView();

  constructor(private readonly ctx: ControllerContext) {
    this.runtime = new RuntimeFacade(ctx, (fn) => this.exclusive(fn));
  }

  /**
   * Every change runs alone: in this process and against other processes sharing the store
   * (the CNI fallback). Without it a resync could re-create an interface that a disconnect
   * has just deleted but not yet released.
   */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.ctx.records.store.withLock('engine', fn, { timeoutMs: 60_000 });
  }

  addHooks(h: ControllerHooks): void {
    this.ctx.hooks.push(h);
  }

  /** The store backend's name and the drivers this engine has (for `weft info`). */
  info(): { store: string; drivers: string[] } {
    return { store: this.ctx.records.store.backend, drivers: this.ctx.drivers.names() };
  }

  /**
   * Run `fn` alone among callers naming the same key — in this process and across processes
   * sharing the store (CNI: the verbs of one container, in weftd and in the fallback alike).
   * Keys live apart from the engine's own lock, which `fn` may still take through any method.
   */
  serialized<T>(key: string, fn: () => Promise<T>, timeoutMs = 60_000): Promise<T> {
    return this.ctx.records.store.withLock(`caller/${key}`, fn, { timeoutMs });
  }

  /** Whether the daemon's namespace has a bridge by that name (weft-ipam adopts the main plugin's). */
  hostBridgeExists(name: string): boolean {
    return this.ctx.kernel.host().link(name)?.kind === 'bridge';
  }

  /** Whether the store answers (CNI STATUS). */
  async ping(): Promise<void> {
    await this.ctx.records.networkIdByName('bridge');
  }

  // --- lifecycle and reconcile

  start(): Promise<ReconcileReport> {
    return this.exclusive(async () => {
      await ensurePredefinedNetworks(this.ctx);
      return reconcile(this.ctx, { full: true, hooks: true });
    });
  }

  /**
   * The cluster store answered for the first time after a start without it: ensure the global
   * networks and this host's endpoints on them and announce them to the services (DNS,
   * firewall, drift), as start() did for the local scope, then run the sweep start() skipped.
   * Their kernel objects were left alone meanwhile: this adds only what is missing.
   */
  reconcileGlobal(): Promise<ReconcileReport> {
    return reconcile(this.ctx, { full: true, hooks: true, scope: 'global' }, (fn) => this.exclusive(fn));
  }

  /** Periodic pass: the engine lock is taken per network/endpoint, not for the whole pass. */
  resync(full: boolean): Promise<ReconcileReport> {
    return reconcile(this.ctx, { full, hooks: false }, (fn) => this.exclusive(fn));
  }

  /** Re-ensure one sandbox's endpoints (after an event from inside its namespace); every failure is reported. */
  async resyncSandbox(sandboxId: string): Promise<void> {
    const errors = new ErrorList(`resync of sandbox ${sandboxId.slice(0, 12)}`);
    for (const ep of await this.ctx.records.endpointsOfSandbox(sandboxId)) {
      await errors.run(() =>
        this.exclusive(async () => {
          const cur = (await this.ctx.records.endpoint(ep.id, ep.networkId))?.value;
          const sb = (await this.ctx.records.sandbox(sandboxId))?.value;
          const net = cur && (await this.ctx.records.network(cur.networkId))?.value;
          // Disconnected or removed while the event waited: nothing to repair.
          if (!cur || !sb || !net) return;
          await ensureEndpoint(this.ctx, net, cur, sb);
        }),
      );
    }
    errors.throwIfAny();
  }

  /** Watch the kernel for drift of weft's objects and repair it as it happens. Returns the stop function. */
  async watchDrift(): Promise<() => void> {
    const drift = new DriftWatcher(
      this.ctx,
      () => this.resync(true),
      (id) => this.resyncSandbox(id),
    );
    await drift.start();
    this.addHooks(drift);
    return () => drift.stop();
  }

  reap(): Promise<string[]> {
    return reapDeadSandboxes(this.ctx, (fn) => this.exclusive(fn));
  }

  doctor(repair: boolean): Promise<DoctorReport> {
    return this.exclusive(() => doctor(this.ctx, repair));
  }

  // --- networks

  /**
   * Create a network; `id` (64 hex) is for surfaces whose caller chose it (Docker's NetworkID);
   * `runtimePlaced` for a runtime whose endpoints it places itself (Docker): refused unless the
   * driver can take such endpoints with these options.
   */
  createNetwork(body: unknown, opts: { id?: string; runtimePlaced?: boolean } = {}): Promise<NetworkRecord> {
    if (opts.id !== undefined && !ID_RE.test(opts.id)) throw new InvalidArgumentError('id', 'must be 64 lowercase hex characters');
    return this.exclusive(() =>
      createNetwork(this.ctx, body, {
        ...(opts.id === undefined ? {} : { id: opts.id }),
        ...(opts.runtimePlaced ? { runtimePlaced: true } : {}),
      }),
    );
  }

  removeNetwork(ref: string): Promise<NetworkRecord> {
    return this.exclusive(() => removeNetwork(this.ctx, ref));
  }

  /** Rename local network `id` from `from` to `to`, only if it still has `from` and `to` is free; true if renamed. */
  renameNetwork(id: string, from: string, to: string): Promise<boolean> {
    return this.exclusive(() => renameNetwork(this.ctx, id, from, to));
  }

  pruneNetworks(): Promise<string[]> {
    return this.exclusive(() => pruneNetworks(this.ctx));
  }

  network(ref: string): Promise<NetworkRecord> {
    return resolveNetwork(this.ctx, ref);
  }

  /** The network, or undefined when there is none by that reference. */
  async findNetwork(ref: string): Promise<NetworkRecord | undefined> {
    try {
      return await this.network(ref);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  async networks(): Promise<NetworkRecord[]> {
    return this.ctx.records.networks();
  }

  async inspectNetworks(refs?: string[]): Promise<NetworkInspect[]> {
    const nets = refs ? await Promise.all(refs.map((r) => this.network(r))) : await this.networks();
    const eps = await this.ctx.records.endpoints();
    const sbs = new Map((await this.ctx.records.sandboxes()).map((s) => [s.id, s]));
    return nets.map((n) => inspectNetwork(n, eps, sbs, n.scope === 'global' ? this.remote.of(n.id) : undefined));
  }

  // --- sandboxes and endpoints

  createSandbox(body: unknown): Promise<CreatedSandbox> {
    return this.exclusive(() => createSandbox(this.ctx, body));
  }

  /**
   * Create a sandbox and return its view, built from the records the create wrote (what
   * `sandboxView` would read back; endpoints in the index's order, by id): no store reads
   * between the work and the reply, which `weft run` waits for before it starts its command.
   */
  async createSandboxView(body: unknown): Promise<SandboxView> {
    const { sandbox, endpoints, networks } = await this.createSandbox(body);
    const byId = [...endpoints].sort((x, y) => (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    return viewSandbox(sandbox, byId, new Map(networks.map((n) => [n.id, n])));
  }

  sandbox(ref: string): Promise<SandboxRecord> {
    return resolveSandbox(this.ctx, ref);
  }

  /** The sandbox, or undefined when there is none by that reference. */
  async findSandbox(ref: string): Promise<SandboxRecord | undefined> {
    try {
      return await this.sandbox(ref);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** How many endpoints the model holds (for /metrics). */
  async endpointCount(): Promise<number> {
    return (await this.ctx.records.endpoints()).length;
  }

  sandboxes(): Promise<SandboxRecord[]> {
    return this.ctx.records.sandboxes();
  }

  /** Endpoints of a sandbox (by id). */
  endpointsOf(sandboxId: string): Promise<EndpointRecord[]> {
    return this.ctx.records.endpointsOfSandbox(sandboxId);
  }

  async sandboxView(ref: string): Promise<SandboxView> {
    const sb = await this.sandbox(ref);
    const nets = new Map((await this.networks()).map((n) => [n.id, n]));
    return viewSandbox(sb, await this.ctx.records.endpointsOfSandbox(sb.id), nets);
  }

  async sandboxViews(): Promise<SandboxView[]> {
    const nets = new Map((await this.networks()).map((n) => [n.id, n]));
    const eps = await this.ctx.records.endpoints();
    return (await this.ctx.records.sandboxes()).map((sb) =>
      viewSandbox(
        sb,
        eps.filter((e) => e.sandboxId === sb.id),
        nets,
      ),
    );
  }

  /**
   * Remove a sandbox: refused while the command weft run started for it runs, unless `force`,
   * which stops it first (SIGTERM, SIGKILL after graceS). Attached namespaces are detached.
   * The wait happens outside the engine lock: other requests are not held up by it.
   */
  async removeSandbox(ref: string, opts: { force?: boolean; graceS?: number } = {}): Promise<SandboxRecord> {
    const sb = await this.sandbox(ref);
    assertRemovable(this.ctx.kernel, sb, opts.force === true);
    if (opts.force) await stopCommand(this.ctx.kernel, sb, opts.graceS ?? DEFAULT_STOP_GRACE_S);
    return this.exclusive(async () => {
      // The reaper may have released it once its process ended: that is the same outcome.
      const cur = (await this.ctx.records.sandbox(sb.id))?.value;
      if (!cur) return sb;
      // Checked again under the lock: `weft run` may have handed its command over meanwhile.
      assertRemovable(this.ctx.kernel, cur, opts.force === true);
      await removeSandbox(this.ctx, cur);
      return cur;
    });
  }

  /**
   * Stop the sandbox's command (as `docker stop`) and release the sandbox, whose life it was.
   * A sandbox without a running command is left as it is (stopping it again is no error).
   */
  async stopSandbox(ref: string, graceS = DEFAULT_STOP_GRACE_S): Promise<{ sandbox: SandboxRecord; removed: boolean }> {
    const sb = await this.sandbox(ref);
    assertStoppable(sb);
    if (!runsCommand(this.ctx.kernel, sb)) return { sandbox: sb, removed: false };
    return { sandbox: await this.removeSandbox(sb.id, { force: true, graceS }), removed: true };
  }

  patchSandbox(ref: string, body: unknown): Promise<SandboxRecord> {
    const p = parseInput(SandboxPatchInput, body);
    return this.exclusive(async () => setSandboxPid(this.ctx, await this.sandbox(ref), p.pid));
  }

  /** Set and remove labels on a sandbox; its global endpoints' records follow (policy selects by them on every host). */
  labelSandbox(ref: string, body: unknown): Promise<SandboxRecord> {
    const change = parseInput(SandboxLabelInput, body);
    return this.exclusive(async () => relabelSandbox(this.ctx, await this.sandbox(ref), change));
  }

  connect(netRef: string, body: unknown): Promise<EndpointRecord> {
    const input = parseInput(ConnectInput, body);
    return this.exclusive(async () => {
      const net = await this.network(netRef);
      const sb = await this.sandbox(input.sandbox);
      return connectEndpoint(this.ctx, sb, net, input);
    });
  }

  disconnect(netRef: string, body: unknown): Promise<void> {
    const input = parseInput(DisconnectInput, body);
    return this.exclusive(async () => {
      const net = await this.network(netRef);
      const sb = await this.sandbox(input.sandbox);
      const ep = (await this.ctx.records.endpointsOfSandbox(sb.id)).find((e) => e.networkId === net.id);
      if (!ep) throw new NotFoundError('endpoint', `${sb.name} on ${net.name}`);
      await disconnectEndpoint(this.ctx, ep, sb);
    });
  }

  /** Problems with an endpoint's kernel objects (its driver's endpoint invariants; empty = healthy). */
  async checkEndpoint(ep: EndpointRecord): Promise<string[]> {
    const net = await this.network(ep.networkId);
    const sb = await this.sandbox(ep.sandboxId);
    return checkEndpoint(this.ctx, net, ep, sb);
  }

  /**
   * The sandbox's interface for an endpoint's way out when its driver adds one besides the
   * endpoint's own (overlay: the gateway-bridge leg holding the default routes); for reports.
   */
  async egressInterface(ep: EndpointRecord): Promise<EgressInterface | undefined> {
    const net = await this.network(ep.networkId);
    const d = this.ctx.drivers.get(net.driver);
    if (!d.egressInterface) return undefined;
    return d.egressInterface(endpointCtx(this.ctx, net, ep, await this.sandbox(ep.sandboxId)));
  }

  /** MAC addresses of links in the daemon's namespace, by name (for reports such as CNI results). */
  linkMacs(names: readonly string[]): Map<string, string | undefined> {
    const rt = this.ctx.kernel.host();
    return new Map(names.map((n) => [n, rt.link(n)?.mac]));
  }

  // --- addresses held by owners other than endpoints (weft-ipam, Docker's IPAM)

  async reserveAddress(netRef: string, family: 4 | 6, owner: string, requested?: string): Promise<string> {
    return reserveAddress(this.ctx, await this.network(netRef), family, owner, requested);
  }

  async releaseOwner(netRef: string, owner: string): Promise<string[]> {
    return releaseOwner(this.ctx, await this.network(netRef), owner);
  }

  async addressesOf(netRef: string, owner: string): Promise<{ family: 4 | 6; address: string }[]> {
    return addressesOf(this.ctx, await this.network(netRef), owner);
  }

  /** Addresses allocated in one family of a network, with their owners. */
  async allocations(netRef: string, family: 4 | 6): Promise<Map<string, string>> {
    return this.ctx.records.allocations(await this.network(netRef), family);
  }

  // --- what the firewall service follows

  /** How the firewall sees a network (undefined: its driver has nothing for the firewall). */
  firewallView(net: NetworkRecord): FwNetwork | undefined {
    return this.ctx.drivers.get(net.driver).firewallView?.(net);
  }

  /**
   * Firewall mappings of a sandbox's publications on one of its endpoints (see sandboxMappings:
   * a network the firewall does not see and whose driver names no target publishes nothing);
   * firewallState() filters the same way.
   */
  sandboxPortMappings(sb: SandboxRecord, net: NetworkRecord, ep: EndpointRecord): FwPortMapping[] {
    return sandboxMappings(this.ctx, sb, net, ep).mappings;
  }

  /** The firewall's whole state as the model says it should be (networks + every published port). */
  async firewallState(): Promise<FirewallState> {
    const published = await publishedMappings(this.ctx);
    const networks = await firewallNetworks(this.ctx);
    for (const v of published.via) if (!networks.some((n) => n.id === v.id)) networks.push(v);
    const ports = published.ports.filter((p) => networks.some((n) => n.id === p.networkId));
    return { networks, ports };
  }

  // --- cluster events (src/cluster's agent turns store watches into these calls)

  /**
   * A remote endpoint of a network appeared (another host's join): its driver programs the path
   * to it. Not under the engine lock: the cluster sync orders calls per network (after that
   * network's globalNetworkUp, before its globalNetworkDown), and the driver's peerUp touches
   * only the network's peer state, so a burst of remote joins never queues behind local work.
   * `net` is the record the watch already holds; without it the network is read once.
   */
  async remoteEndpointUp(peer: RemoteEndpoint, net?: NetworkRecord): Promise<void> {
    await remoteEndpointUp(this.ctx, this.remote, net ?? (await this.network(peer.networkId)), peer);
  }

  /** A remote endpoint went away (left, or its host's grace ran out); ordered like remoteEndpointUp. */
  async remoteEndpointDown(peer: RemoteEndpoint, net?: NetworkRecord): Promise<void> {
    await remoteEndpointDown(this.ctx, this.remote, net ?? (await this.findNetwork(peer.networkId)), peer);
  }

  /** A global network appeared in the cluster store (created on any host): ensure it here. */
  globalNetworkUp(net: NetworkRecord): Promise<void> {
    return this.exclusive(() => globalNetworkUp(this.ctx, net));
  }

  /** A global network was removed from the cluster store: remove its kernel objects here. */
  globalNetworkDown(net: NetworkRecord): Promise<void> {
    return this.exclusive(() => globalNetworkDown(this.ctx, this.remote, net));
  }

  /** Whether this engine has a driver of that name (the cluster sync skips others' networks). */
  hasDriver(name: string): boolean {
    return this.ctx.drivers.has(name);
  }

  /** Remote endpoints of a network that this host's driver was told about. */
  remoteEndpoints(networkId: string): RemoteEndpoint[] {
    return this.remote.of(networkId);
  }

  /**
   * Where a network's gateway lives when that is not this daemon's namespace (overlay: the
   * network's own namespace), for the embedded DNS: the path, the namespace's inode now
   * (undefined while it does not exist: no local sandbox) and a way to bind sockets there.
   * Undefined for networks whose gateway is in the daemon's namespace.
   */
  gatewayNamespace(net: NetworkRecord): GatewayNamespace | undefined {
    if (!this.ctx.drivers.has(net.driver)) return undefined;
    const path = this.ctx.drivers.get(net.driver).gatewayNetns?.(networkCtx(this.ctx, net));
    if (path === undefined) return undefined;
    const kernel = this.ctx.kernel;
    return { path, inode: kernel.netnsInode(path), bind: (address, port) => kernel.bindInNetns(path, address, port) };
  }

  /** A host joined the cluster (or came back): every driver that cares is told; all are tried. */
  hostUp(host: RemoteHost): Promise<void> {
    return this.exclusive(() => this.toEveryDriver(`host ${host.hostId} up`, (d) => d.hostUp?.(driverCtx(this.ctx), host)));
  }

  /** A host was declared down (after its grace period). */
  hostDown(host: RemoteHost): Promise<void> {
    return this.exclusive(() => this.toEveryDriver(`host ${host.hostId} down`, (d) => d.hostDown?.(driverCtx(this.ctx), host)));
  }

  private async toEveryDriver(what: string, fn: (d: Driver) => Promise<void> | undefined): Promise<void> {
    const errors = new ErrorList(what);
    for (const d of this.ctx.drivers.all()) await errors.run(() => fn(d));
    errors.throwIfAny();
  }

  /** Stop background work (adoptions); the store and kernel are closed by the engine. */
  stop(): void {
    this.runtime.stop();
  }
}
