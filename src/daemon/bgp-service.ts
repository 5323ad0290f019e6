/**
 * weftd's BGP side (`--bgp`, issue 15): mirrors the store keys a host's BIRD configuration
 * depends on (hosts, IPAM pools and blocks, BGP settings and peers), renders this host's model
 * on every change and applies it to a supervised BIRD through its control socket — as Calico's
 * confd + BIRD do. The routed driver's /32 routes and BIRD's announcements of this host's
 * blocks together make workloads reachable from every host, with no overlay.
 *
 * weftd stopping does not stop BIRD (detach): routes stay announced and the next weftd adopts it.
 */
import path from 'node:path';
import type { ClusterAgent } from '../cluster/cluster-agent.js';
import { BGP_VIEW_PREFIXES, bgpViewFromEntries } from '../cluster/bgp-view.js';
import { MirroredKeys } from '../cluster/mirrored-keys.js';
import { bgpModelForHost } from '../bgp/model-from-cluster.js';
import { BgpSpeaker, type BgpPeerStatus } from '../bgp/bgp-speaker.js';
import type { BgpModel, NormalizedBgpModel } from '../bgp/model.js';
import type { BgpConfig } from '../config/bgp-config.js';
import type { Router } from '../api/rest/rest-server.js';
import { StoreUnavailableError, WeftError } from '../errors.js';
import type { Logger } from '../logger.js';

export interface BgpServiceOptions {
  /** Directory for bird.conf, its control socket and pid file. */
  runDir: string;
  config: BgpConfig;
  log: Logger;
  /** Events within this window become one apply (ms). */
  debounceMs?: number;
  /** How long to wait for the first full read of the store (ms). */
  readyTimeoutMs?: number;
}

export class BgpService {
  private stopped = false;
  /** Resolves when the model applied last is the one for the entries seen last. */
  private settled: Promise<void> = Promise.resolve();

  private constructor(
    private readonly agent: ClusterAgent,
    private readonly keys: MirroredKeys,
    readonly speaker: BgpSpeaker,
    private readonly o: BgpServiceOptions,
  ) {}

  /** Read the store, start (or adopt) BIRD with this host's model, and follow the store from then on. */
  static async start(agent: ClusterAgent, o: BgpServiceOptions): Promise<BgpService> {
    let service: BgpService | undefined;
    const keys = new MirroredKeys(agent, BGP_VIEW_PREFIXES, () => service?.changed(), o.debounceMs);
    try {
      await keys.whenRead('BGP', o.readyTimeoutMs);
      const model = modelOf(agent.hostId, keys.entries, o);
      const speaker = await BgpSpeaker.start(model, {
        runDir: o.runDir,
        name: 'bird',
        ...(o.config.birdProgram === undefined ? {} : { birdProgram: o.config.birdProgram }),
      });
      service = new BgpService(agent, keys, speaker, o);
      service.changed(); // anything that arrived while BIRD was starting
      o.log.info({ pid: speaker.pid, blocks: model.blocks?.length ?? 0, hosts: model.hosts?.length ?? 0 }, 'BGP speaker running');
      return service;
    } catch (err) {
      keys.stop();
      throw err;
    }
  }

  /** The store changed (debounced by MirroredKeys): render and apply, after the previous apply. */
  private changed(): void {
    if (this.stopped) return;
    this.settled = this.settled.then(() => this.apply());
  }

  private async apply(): Promise<void> {
    let model: BgpModel;
    try {
      model = modelOf(this.agent.hostId, this.keys.entries, this.o);
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'BGP model not built from the store; BIRD keeps its configuration');
      return;
    }
    try {
      const r = await this.speaker.apply(model);
      if (r === 'reconfigured') this.o.log.info({ blocks: model.blocks ?? [], borrowed: model.borrowed ?? [] }, 'BGP reconfigured');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'BGP apply failed; BIRD keeps its configuration');
    }
  }

  /** The model BIRD runs now (validated form). */
  model(): NormalizedBgpModel {
    return this.speaker.current;
  }

  /** Wait until pending store changes are applied (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.keys.pending) await new Promise((r) => setTimeout(r, 5));
    await this.settled;
  }

  peers(): Promise<BgpPeerStatus[]> {
    return this.speaker.peers();
  }

  routes(opts: { table?: string; protocol?: string; all?: boolean } = {}): ReturnType<BgpSpeaker['routes']> {
    return this.speaker.routes(opts);
  }

  /** Stop following the store; BIRD keeps running (detached) unless `stopBird`. */
  async stop(opts: { stopBird?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.keys.stop();
    await this.settled;
    if (opts.stopBird) await this.speaker.stop();
    else this.speaker.detach();
  }
}

function modelOf(hostId: string, entries: ReadonlyMap<string, string>, o: BgpServiceOptions): BgpModel {
  const { view, skipped } = bgpViewFromEntries(hostId, entries, { asNumber: o.config.asNumber });
  for (const s of skipped) o.log.warn({ key: s.key }, `BGP: store record skipped: ${s.reason}`);
  return bgpModelForHost(view);
}

/** Where weftd keeps BIRD's files. */
export const bgpRunDir = (runDir: string): string => path.join(runDir, 'bgp');

/**
 * GET /v1/bgp/peers and /v1/bgp/routes (`weft bgp peers|routes`). `failing`: the error of a
 * start deferred until the store answered that has not succeeded yet (it is being retried).
 */
export function registerBgpRoutes(
  routes: Router,
  bgp: () => BgpService | undefined,
  enabled: boolean,
  failing: () => WeftError | undefined = () => undefined,
): void {
  const need = (): BgpService => {
    const b = bgp();
    if (b) return b;
    const why = failing();
    if (why) throw why;
    // Enabled but not running yet: weftd started without the store, BGP starts when it answers.
    if (enabled) throw new StoreUnavailableError('BGP starts once the cluster store answers (this weftd started without it)');
    throw new WeftError('WEFT_INVALID_ARGUMENT', 'this weftd does not run BGP (start it with --cluster-store … --bgp)', { field: 'bgp' });
  };
  routes.on('GET', '/v1/bgp/peers', async () => ({ body: await need().peers() }));
  routes.on('GET', '/v1/bgp/routes', async (_p, _b, q) => {
    const protocol = q.get('protocol');
    return { body: await need().routes({ all: q.get('all') === '1', ...(protocol ? { protocol } : {}) }) };
  });
  routes.on('GET', '/v1/bgp/model', async () => ({ body: need().model() }));
}
