/**
 * Notices weft-owned kernel objects disappearing from rtnetlink events and asks for a repair at
 * once instead of waiting for a periodic pass: in the daemon's namespace (a deleted bridge,
 * veth, gateway address → full resync) and inside each sandbox it gave an interface to (a
 * deleted address, route or link → resync of that sandbox). Objects weft does not own are
 * ignored; a slow periodic pass remains as a safety net.
 */
import { logOf, type ControllerContext, type ControllerHooks } from './context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { RtnlEvent } from '../kernel/netlink/types.js';
import type { RtnlSubscription } from '../kernel/kernel-port.js';
import { keys } from '../store/records.js';
import { IFNAMES } from '../drivers/ifnames.js';

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class DriftWatcher implements ControllerHooks {
  private sub: RtnlSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly bridges = new Map<string, string>(); // bridge name → network id
  private readonly bridgeIndexes = new Set<number>();
  private readonly sandboxSubs = new Map<string, Promise<RtnlSubscription | undefined>>();
  private readonly sandboxTimers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly resync: () => Promise<unknown>,
    private readonly resyncSandbox: (sandboxId: string) => Promise<unknown>,
    private readonly debounceMs = 50,
  ) {}

  async start(): Promise<void> {
    for (const n of await this.ctx.records.networks()) this.track(n);
    this.sub = await this.ctx.kernel.host().subscribe(['link', 'ipv4-addr', 'ipv6-addr'], (e) => {
      this.onEvent(e).catch((err: unknown) =>
        logOf(this.ctx).warn({ err: messageOf(err) }, 'drift watcher: handling a kernel event failed'),
      );
    });
  }

  stop(): void {
    this.sub?.close();
    this.sub = undefined;
    if (this.timer) clearTimeout(this.timer);
    for (const t of this.sandboxTimers.values()) clearTimeout(t);
    for (const p of this.sandboxSubs.values()) void p.then((s) => s?.close());
    this.sandboxSubs.clear();
  }

  /** Watch the sandbox's namespace once it has an interface of ours (not awaited by joins). */
  async endpointUp(_net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    if (!ep.hostIfname || this.sandboxSubs.has(sb.id) || (sb.kind !== 'netns' && sb.kind !== 'external')) return;
    const sub = this.ctx.kernel
      .inNetns(sb.netnsPath)
      .then((rt) => rt.subscribe(['link', 'ipv4-addr', 'ipv6-addr', 'ipv4-route', 'ipv6-route'], (e) => this.onSandboxEvent(sb.id, e)))
      .catch((err: unknown) => {
        // Not fatal: the periodic pass still repairs this sandbox, only later.
        logOf(this.ctx).warn({ sandbox: sb.name, err: messageOf(err) }, 'drift watcher: cannot watch the sandbox namespace');
        return undefined;
      });
    this.sandboxSubs.set(sb.id, sub);
  }

  async sandboxDown(sb: SandboxRecord): Promise<void> {
    const sub = this.sandboxSubs.get(sb.id);
    this.sandboxSubs.delete(sb.id);
    const t = this.sandboxTimers.get(sb.id);
    if (t) clearTimeout(t);
    this.sandboxTimers.delete(sb.id);
    (await sub)?.close();
  }

  private onSandboxEvent(sandboxId: string, e: RtnlEvent): void {
    const lost =
      e.type === 'overrun' ||
      ((e.type === 'addr' || e.type === 'route') && e.action === 'del') ||
      (e.type === 'link' && (e.action === 'del' || !e.up));
    if (!lost || this.sandboxTimers.has(sandboxId)) return;
    const t = setTimeout(() => {
      this.sandboxTimers.delete(sandboxId);
      this.resyncSandbox(sandboxId).catch((err: unknown) =>
        logOf(this.ctx).warn({ sandbox: sandboxId.slice(0, 12), err: messageOf(err) }, 'drift repair of a sandbox failed'),
      );
    }, this.debounceMs);
    t.unref();
    this.sandboxTimers.set(sandboxId, t);
  }

  private track(n: NetworkRecord): void {
    const br = n.driverState.bridgeName;
    if (!br) return;
    this.bridges.set(br, n.id);
    const l = this.ctx.kernel.host().link(br);
    if (l) this.bridgeIndexes.add(l.index);
  }

  async networkUp(n: NetworkRecord): Promise<void> {
    this.track(n);
  }

  async networkDown(n: NetworkRecord): Promise<void> {
    if (n.driverState.bridgeName) this.bridges.delete(n.driverState.bridgeName);
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.resync().catch((err: unknown) => logOf(this.ctx).warn({ err: messageOf(err) }, 'drift repair (full resync) failed'));
    }, this.debounceMs);
    this.timer.unref();
  }

  private async onEvent(e: RtnlEvent): Promise<void> {
    if (e.type === 'overrun') return this.schedule();
    if (e.type === 'link') {
      const lost = e.action === 'del' || !e.up;
      if (!lost) {
        if (this.bridges.has(e.name)) this.bridgeIndexes.add(e.index);
        return;
      }
      if (this.bridges.has(e.name)) return this.schedule();
      const m = IFNAMES.hostVeth.pattern.exec(e.name);
      // Our own disconnects delete veths too; only a veth whose endpoint still exists is drift.
      if (m && (await this.ctx.records.store.list(keys.endpoint(m[1]!))).length > 0) this.schedule();
      return;
    }
    if (e.type === 'addr' && e.action === 'del' && this.bridgeIndexes.has(e.index)) this.schedule();
  }
}
