/**
 * The agent's watches turned into controller calls: global networks (`networks/`), remote
 * endpoints (`endpoints/<network>/<id>`) and hosts. Full reads (at start, after a lost or
 * compacted watch, after a store outage) go through PeerViewCore, so only differences reach
 * the controller. Calls run one at a time in store order; a failed call is logged with what
 * failed and does not stop the ones after it.
 */
import type { ClusterAgent } from './cluster-agent.js';
import type { HostView } from './host-state-core.js';
import { PeerViewCore, type PeerChange } from './peer-view-core.js';
import type { NetworkRecord } from '../model/types.js';
import type { RemoteEndpoint, RemoteHost } from '../drivers/driver.js';
import { SerialQueue } from '../serial-queue.js';
import type { Logger } from '../logger.js';

/** The controller methods the sync calls (Controller has them all). */
export interface ClusterSink {
  globalNetworkUp(net: NetworkRecord): Promise<void>;
  globalNetworkDown(net: NetworkRecord): Promise<void>;
  remoteEndpointUp(peer: RemoteEndpoint): Promise<void>;
  remoteEndpointDown(peer: RemoteEndpoint): Promise<void>;
  hostUp(host: RemoteHost): Promise<void>;
  hostDown(host: RemoteHost): Promise<void>;
}

export class ClusterSync {
  private readonly core: PeerViewCore;
  private readonly queue = new SerialQueue();
  private stops: (() => void)[] = [];
  private stopped = false;
  /** Deliveries done and failed since start (for tests and metrics). */
  readonly counts = { delivered: 0, failed: 0 };

  constructor(
    private readonly agent: ClusterAgent,
    private readonly sink: ClusterSink,
    private readonly log: Logger,
    private readonly hostData?: (id: string) => Promise<Record<string, string>>,
  ) {
    this.core = new PeerViewCore(agent.hostId);
  }

  private async remoteHost(h: HostView): Promise<RemoteHost> {
    return { hostId: h.id, address: h.address, data: this.hostData ? await this.hostData(h.id) : {} };
  }

  start(): void {
    // Hosts that were up before the sync started are announced like new ones.
    for (const h of this.agent.view())
      if (h.state === 'up' && h.id !== this.agent.hostId)
        this.deliver(`host ${h.name} up`, async () => this.sink.hostUp(await this.remoteHost(h)));
    this.agent.on('hostUp', (h) => {
      this.core.hostUp(h.id);
      if (h.id !== this.agent.hostId) this.deliver(`host ${h.name} up`, async () => this.sink.hostUp(await this.remoteHost(h)));
    });
    this.agent.on('hostDown', (h) => {
      if (h.id !== this.agent.hostId)
        this.deliver(`host ${h.name} down`, async () => this.sink.hostDown({ hostId: h.id, address: h.address, data: {} }));
    });
    this.agent.on('hostGone', (h) => this.apply(this.core.hostGone(h.id)));
    // After an outage, read everything again: whatever the watches missed shows up as a difference.
    this.agent.on('storeUp', () => this.watch());
    this.watch();
  }

  /** (Re)start the mirrors: networks first, endpoints once the networks' first read is applied. */
  private watch(): void {
    if (this.stopped) return;
    for (const s of this.stops) s();
    this.stops = [];
    // Data a host publishes after it came up (e.g. the overlay's WireGuard key, made when its
    // first encrypted network appears there) is announced again as hostUp with the new data.
    if (this.hostData)
      this.stops.push(
        this.agent.mirror('hostdata/', {
          onSnapshot: () => undefined,
          onEvent: (e) => {
            const id = /^hostdata\/([^/]+)\//.exec(e.key)?.[1];
            const h = id === undefined || id === this.agent.hostId ? undefined : this.agent.view().find((x) => x.id === id);
            if (e.type === 'put' && h?.state === 'up')
              this.deliver(`host ${h.name} data`, async () => this.sink.hostUp(await this.remoteHost(h)));
          },
        }),
      );
    let endpointsStarted = false;
    this.stops.push(
      this.agent.mirror('networks/', {
        onSnapshot: (s) => {
          this.apply(this.core.resyncNetworks(s.entries));
          if (endpointsStarted || this.stopped) return;
          endpointsStarted = true;
          this.stops.push(
            this.agent.mirror('endpoints/', {
              onSnapshot: (es) => this.apply(this.core.resyncEndpoints(es.entries)),
              onEvent: (e) => this.apply(this.core.endpointEvent(e)),
            }),
          );
        },
        onEvent: (e) => this.apply(this.core.networkEvent(e)),
      }),
    );
  }

  private apply(changes: PeerChange[]): void {
    for (const c of changes) {
      const undo = (): void => {
        // Forget it, and read everything again soon: the difference shows up and is retried.
        this.core.undo(c);
        this.resyncSoon();
      };
      switch (c.type) {
        case 'networkUp':
          this.deliver(`global network ${c.network.name} up`, () => this.sink.globalNetworkUp(c.network), undo);
          break;
        case 'networkDown':
          this.deliver(`global network ${c.network.name} down`, () => this.sink.globalNetworkDown(c.network), undo);
          break;
        case 'peerUp':
          this.deliver(`peer ${c.peer.endpointId.slice(0, 12)} up`, () => this.sink.remoteEndpointUp(c.peer), undo);
          break;
        case 'peerDown':
          this.deliver(`peer ${c.peer.endpointId.slice(0, 12)} down`, () => this.sink.remoteEndpointDown(c.peer), undo);
          break;
      }
    }
  }

  private resyncTimer: NodeJS.Timeout | undefined;

  /** One full re-read a little later (failed deliveries are retried from it). */
  private resyncSoon(): void {
    if (this.resyncTimer || this.stopped) return;
    this.resyncTimer = setTimeout(() => {
      this.resyncTimer = undefined;
      this.watch();
    }, 2000);
    this.resyncTimer.unref();
  }

  private deliver(what: string, fn: () => Promise<void>, onFail?: () => void): void {
    void this.queue.run(fn).then(
      () => {
        this.counts.delivered++;
      },
      (err: unknown) => {
        this.counts.failed++;
        this.log.warn({ err: String(err), event: what }, 'cluster event could not be applied; retried after a full re-read');
        onFail?.();
      },
    );
  }

  /** Remote endpoints currently in the view. */
  peerCount(): number {
    return this.core.peerCount();
  }

  /** Stop the watches and wait for the calls already queued. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    for (const s of this.stops) s();
    this.stops = [];
    await this.queue.run(async () => undefined);
  }
}
