/**
 * Notices weft-owned kernel objects disappearing in the daemon's namespace (a deleted bridge,
 * veth, gateway address) from rtnetlink events, and asks for a resync at once instead of
 * waiting for the next periodic pass. Objects weft does not own are ignored.
 */
import type { ControllerContext, ControllerHooks } from '../controller/context.js';
import type { NetworkRecord } from '../model/types.js';
import type { RtnlEvent } from '../kernel/netlink/types.js';
import type { RtnlSubscription } from '../kernel/netlink/rtnl.js';
import { keys } from '../store/records.js';

const HOST_VETH = /^wfv([0-9a-f]{12})$/;

export class DriftWatcher implements ControllerHooks {
  private sub: RtnlSubscription | undefined;
  private timer: NodeJS.Timeout | undefined;
  private readonly bridges = new Map<string, string>(); // bridge name → network id
  private readonly bridgeIndexes = new Set<number>();

  constructor(
    private readonly ctx: ControllerContext,
    private readonly resync: () => Promise<unknown>,
    private readonly debounceMs = 50,
  ) {}

  async start(): Promise<void> {
    for (const n of await this.ctx.records.networks()) this.track(n);
    this.sub = await this.ctx.kernel.host().subscribe(['link', 'ipv4-addr', 'ipv6-addr'], (e) => void this.onEvent(e));
  }

  stop(): void {
    this.sub?.close();
    this.sub = undefined;
    if (this.timer) clearTimeout(this.timer);
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
      void this.resync().catch(() => undefined);
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
      const m = HOST_VETH.exec(e.name);
      // Our own disconnects delete veths too; only a veth whose endpoint still exists is drift.
      if (m && (await this.ctx.records.store.list(keys.endpoint(m[1]!))).length > 0) this.schedule();
      return;
    }
    if (e.type === 'addr' && e.action === 'del' && this.bridgeIndexes.has(e.index)) this.schedule();
  }
}
