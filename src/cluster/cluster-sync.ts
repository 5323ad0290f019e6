/**
 * The agent's watches turned into controller calls: global networks (`networks/`), remote
 * endpoints (`endpoints/<network>/<id>`) and hosts. Full reads (at start, after a lost or
 * compacted watch, after a store outage) go through PeerViewCore, so only differences reach
 * the controller. Calls about one network (its up/down, its remote endpoints) run one at a
 * time in store order on that network's queue; host calls run one at a time on their own
 * queue. Networks do not wait for each other, and remote endpoints do not wait for host calls
 * or local work (the controller takes no engine lock for them). Each remote endpoint call is
 * handed the network record the watch already holds: no store read per event. A failed call
 * is logged with what failed and does not stop the ones after it.
 */
import type { ClusterAgent } from './cluster-agent.js';
import type { HostView } from './host-state-core.js';
import { PeerViewCore, type PeerChange } from './peer-view-core.js';
import type { NetworkRecord } from '../model/types.js';
import type { RemoteEndpoint, RemoteHost } from '../drivers/driver.js';
import { SerialQueue } from '../serial-queue.js';
import type { Logger } from '../logger.js';
import { markPhase } from '../phase-trace.js';

/** The controller methods the sync calls (Controller has them all). */
export interface ClusterSink {
  globalNetworkUp(net: NetworkRecord): Promise<void>;
  globalNetworkDown(net: NetworkRecord): Promise<void>;
  remoteEndpointUp(peer: RemoteEndpoint, net?: NetworkRecord): Promise<void>;
  remoteEndpointDown(peer: RemoteEndpoint, net?: NetworkRecord): Promise<void>;
  hostUp(host: RemoteHost): Promise<void>;
  hostDown(host: RemoteHost): Promise<void>;
}

export class ClusterSync {
  private readonly core: PeerViewCore;
  /** Host calls, in order. */
  private readonly queue = new SerialQueue();
  /** One queue per network id (dropped when it runs empty). */
  private readonly netQueues = new Map<string, { q: SerialQueue; pending: number }>();
  private stops: (() => void)[] = [];
  /** Hosts whose hostDown was delivered and no hostUp since. */
  private readonly down = new Set<string>();
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
      if (h.id === this.agent.hostId) return;
      // A driver drops a down host's paths (overlay: its FDB and neighbour entries) while its
      // endpoints stay in the view until the grace ends: back up, they are handed over again.
      const wasDown = this.down.delete(h.id);
      this.deliver(`host ${h.name} up`, async () => {
        await this.sink.hostUp(await this.remoteHost(h));
        if (wasDown) this.apply(this.core.peersOf(h.id));
      });
    });
    this.agent.on('hostDown', (h) => {
      if (h.id === this.agent.hostId) return;
      this.down.add(h.id);
      this.deliver(`host ${h.name} down`, async () => this.sink.hostDown({ hostId: h.id, address: h.address, data: {} }));
    });
    this.agent.on('hostGone', (h) => {
      this.down.delete(h.id);
      this.apply(this.core.hostGone(h.id));
    });
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
          this.deliver(`global network ${c.network.name} up`, () => this.sink.globalNetworkUp(c.network), undo, c.network.id);
          break;
        case 'networkDown':
          this.deliver(`global network ${c.network.name} down`, () => this.sink.globalNetworkDown(c.network), undo, c.network.id);
          break;
        case 'peerUp': {
          const net = this.core.network(c.peer.networkId);
          const endpoint = c.peer.endpointId;
          markPhase('peer.event', () => ({ endpoint }));
          this.deliver(
            `peer ${endpoint.slice(0, 12)} up`,
            async () => {
              markPhase('peer.deliver', () => ({ endpoint }));
              await this.sink.remoteEndpointUp(c.peer, net);
              markPhase('peer.programmed', () => ({ endpoint }));
            },
            undo,
            c.peer.networkId,
          );
          break;
        }
        case 'peerDown': {
          const net = this.core.network(c.peer.networkId);
          const endpoint = c.peer.endpointId;
          this.deliver(
            `peer ${endpoint.slice(0, 12)} down`,
            async () => {
              await this.sink.remoteEndpointDown(c.peer, net);
              markPhase('peer.removed', () => ({ endpoint }));
            },
            undo,
            c.peer.networkId,
          );
          break;
        }
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

  /** Run `fn` on the host queue, or on the queue of network `networkId`. */
  private deliver(what: string, fn: () => Promise<void>, onFail?: () => void, networkId?: string): void {
    let q = this.queue;
    if (networkId !== undefined) {
      let slot = this.netQueues.get(networkId);
      if (!slot) this.netQueues.set(networkId, (slot = { q: new SerialQueue(), pending: 0 }));
      slot.pending++;
      q = slot.q;
    }
    void q
      .run(fn)
      .then(
        () => {
          this.counts.delivered++;
        },
        (err: unknown) => {
          this.counts.failed++;
          this.log.warn({ err: String(err), event: what }, 'cluster event could not be applied; retried after a full re-read');
          onFail?.();
        },
      )
      .finally(() => {
        if (networkId === undefined) return;
        const slot = this.netQueues.get(networkId);
        if (slot && --slot.pending === 0) this.netQueues.delete(networkId);
      });
  }

  /** Resolves once every call queued so far (hosts and every network) has run. */
  async idle(): Promise<void> {
    await Promise.all([this.queue.run(async () => undefined), ...[...this.netQueues.values()].map((s) => s.q.run(async () => undefined))]);
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
    await this.idle();
  }
}
