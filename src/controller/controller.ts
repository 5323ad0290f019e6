/**
 * The CNM controller: owns networks, sandboxes and endpoints; the only path by which weft
 * changes the store and the kernel. Every public method validates its input first.
 */
import type { ControllerContext, ControllerHooks } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { createNetwork, ensurePredefinedNetworks, pruneNetworks, removeNetwork, resolveNetwork } from './network-ops.js';
import { createSandbox, removeSandbox, resolveSandbox, setSandboxPid } from './sandbox-ops.js';
import { connectEndpoint, disconnectEndpoint } from './endpoint-ops.js';
import { ConnectInput, DisconnectInput, SandboxPatchInput, parseInput } from './inputs.js';
import { NotFoundError } from '../errors.js';
import { inspectNetwork, viewSandbox, type NetworkInspect, type SandboxView } from './inspect.js';
import { reconcile, reapDeadSandboxes, type ReconcileReport } from './reconcile.js';
import { doctor, type DoctorReport } from './doctor.js';
import { DEFAULT_STOP_GRACE_S, assertRemovable, assertStoppable, runsCommand, stopCommand } from './sandbox-stop.js';

export class Controller {
  constructor(readonly ctx: ControllerContext) {}

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

  start(): Promise<ReconcileReport> {
    return this.exclusive(async () => {
      await ensurePredefinedNetworks(this.ctx);
      return reconcile(this.ctx, { full: true, hooks: true });
    });
  }

  /** Periodic pass: the engine lock is taken per network/endpoint, not for the whole pass. */
  resync(full: boolean): Promise<ReconcileReport> {
    return reconcile(this.ctx, { full, hooks: false }, (fn) => this.exclusive(fn));
  }

  /** Re-ensure one sandbox's endpoints (after an event from inside its namespace). */
  async resyncSandbox(sandboxId: string): Promise<void> {
    for (const ep of await this.ctx.records.endpointsOfSandbox(sandboxId)) {
      await this.exclusive(async () => {
        const cur = (await this.ctx.records.endpoint(ep.id))?.value;
        const sb = (await this.ctx.records.sandbox(sandboxId))?.value;
        const net = cur && (await this.ctx.records.network(cur.networkId))?.value;
        if (!cur || !sb || !net) return;
        await this.ctx.drivers.get(net.driver).setupEndpoint({ kernel: this.ctx.kernel, network: net, endpoint: cur, sandbox: sb });
      }).catch(() => undefined);
    }
  }

  reap(): Promise<string[]> {
    return reapDeadSandboxes(this.ctx, (fn) => this.exclusive(fn));
  }

  doctor(repair: boolean): Promise<DoctorReport> {
    return this.exclusive(() => doctor(this.ctx, repair));
  }

  createNetwork(body: unknown): Promise<NetworkRecord> {
    return this.exclusive(() => createNetwork(this.ctx, body));
  }

  removeNetwork(ref: string): Promise<NetworkRecord> {
    return this.exclusive(() => removeNetwork(this.ctx, ref));
  }

  pruneNetworks(): Promise<string[]> {
    return this.exclusive(() => pruneNetworks(this.ctx));
  }

  network(ref: string): Promise<NetworkRecord> {
    return resolveNetwork(this.ctx, ref);
  }

  async networks(): Promise<NetworkRecord[]> {
    return this.ctx.records.networks();
  }

  async inspectNetworks(refs?: string[]): Promise<NetworkInspect[]> {
    const nets = refs ? await Promise.all(refs.map((r) => this.network(r))) : await this.networks();
    const eps = await this.ctx.records.endpoints();
    const sbs = new Map((await this.ctx.records.sandboxes()).map((s) => [s.id, s]));
    return nets.map((n) => inspectNetwork(n, eps, sbs));
  }

  createSandbox(body: unknown): Promise<{ sandbox: SandboxRecord; endpoints: EndpointRecord[] }> {
    return this.exclusive(() => createSandbox(this.ctx, body));
  }

  sandbox(ref: string): Promise<SandboxRecord> {
    return resolveSandbox(this.ctx, ref);
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
    assertRemovable(sb, opts.force === true);
    if (opts.force) await stopCommand(sb, opts.graceS ?? DEFAULT_STOP_GRACE_S);
    return this.exclusive(async () => {
      // The reaper may have released it once its process ended: that is the same outcome.
      const cur = (await this.ctx.records.sandbox(sb.id))?.value;
      if (!cur) return sb;
      // Checked again under the lock: `weft run` may have handed its command over meanwhile.
      assertRemovable(cur, opts.force === true);
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
    if (!runsCommand(sb)) return { sandbox: sb, removed: false };
    return { sandbox: await this.removeSandbox(sb.id, { force: true, graceS }), removed: true };
  }

  patchSandbox(ref: string, body: unknown): Promise<SandboxRecord> {
    const p = parseInput(SandboxPatchInput, body);
    return this.exclusive(async () => setSandboxPid(this.ctx, await this.sandbox(ref), p.pid));
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
}
