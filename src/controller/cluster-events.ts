/**
 * What the cluster agent's watches mean for this host (src/cluster/cluster-sync.ts calls them
 * through Controller): a global network appeared or went away, a remote endpoint appeared or
 * went away. Drivers hear about networks and endpoints of drivers this host has; the remote
 * view is kept here so `weft network inspect` shows a global network's peers.
 */
import type { ControllerContext } from './context.js';
import { networkCtx, runHooks } from './context.js';
import type { RemoteEndpoint } from '../drivers/driver.js';
import type { NetworkRecord } from '../model/types.js';
import { ensureNetwork } from './reconcile.js';

/** Remote endpoints this host's drivers were told about, by network then endpoint id. */
export class RemoteView {
  private readonly byNet = new Map<string, Map<string, RemoteEndpoint>>();

  set(p: RemoteEndpoint): void {
    let m = this.byNet.get(p.networkId);
    if (!m) this.byNet.set(p.networkId, (m = new Map<string, RemoteEndpoint>()));
    m.set(p.endpointId, p);
  }
  delete(p: Pick<RemoteEndpoint, 'networkId' | 'endpointId'>): void {
    const m = this.byNet.get(p.networkId);
    m?.delete(p.endpointId);
    if (m?.size === 0) this.byNet.delete(p.networkId);
  }
  dropNetwork(id: string): void {
    this.byNet.delete(id);
  }
  of(networkId: string): RemoteEndpoint[] {
    return [...(this.byNet.get(networkId)?.values() ?? [])];
  }
  count(): number {
    let n = 0;
    for (const m of this.byNet.values()) n += m.size;
    return n;
  }
}

/** A global network exists in the cluster: make sure its kernel objects exist here (idempotent). */
export async function globalNetworkUp(ctx: ControllerContext, net: NetworkRecord): Promise<void> {
  if (net.scope !== 'global' || !ctx.drivers.has(net.driver)) return;
  await ensureNetwork(ctx, net);
  await runHooks(ctx, 'networkUp', net);
}

/** A global network was removed (on any host): its kernel objects go here too (already gone is fine). */
export async function globalNetworkDown(ctx: ControllerContext, view: RemoteView, net: NetworkRecord): Promise<void> {
  view.dropNetwork(net.id);
  if (net.scope !== 'global' || !ctx.drivers.has(net.driver)) return;
  // A record that is back (removed and re-created with the same id) is left alone.
  if (await ctx.records.network(net.id)) return;
  await ctx.drivers.get(net.driver).networkDown(networkCtx(ctx, net));
  await runHooks(ctx, 'networkDown', net);
}

/** Tell the network's driver about a remote endpoint; networks of drivers this host lacks are skipped. */
export async function remoteEndpointUp(ctx: ControllerContext, view: RemoteView, net: NetworkRecord, peer: RemoteEndpoint): Promise<void> {
  if (!ctx.drivers.has(net.driver)) return;
  await ctx.drivers.get(net.driver).peerUp?.(networkCtx(ctx, net), peer);
  view.set(peer);
  await runHooks(ctx, 'remoteEndpointUp', net, peer);
}

export async function remoteEndpointDown(
  ctx: ControllerContext,
  view: RemoteView,
  net: NetworkRecord | undefined,
  peer: RemoteEndpoint,
): Promise<void> {
  view.delete(peer);
  if (net && ctx.drivers.has(net.driver)) await ctx.drivers.get(net.driver).peerDown?.(networkCtx(ctx, net), peer);
  await runHooks(ctx, 'remoteEndpointDown', peer);
}
