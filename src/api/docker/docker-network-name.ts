/**
 * Docker's name for a network created with `docker network create -d weft NAME`. The plugin's
 * CreateNetwork request carries only the id, and Docker records the network (with its name)
 * only after the driver has answered; so weft names it `docker-<id12>` first, then asks the
 * engine API (GET /networks/ID, socket from DOCKER_HOST, default /run/docker.sock) in the
 * background and renames its record once Docker knows the network. Networks still under the
 * placeholder when weftd starts are looked up again.
 */
import type { Controller } from '../../controller/controller.js';
import type { Logger } from '../../logger.js';
import { EngineClient, enginePath } from './engine-client.js';

export const placeholderName = (netId: string): string => `docker-${netId.slice(0, 12)}`;

const DELAYS_MS = [0, 50, 100, 200, 400, 800, 1600, 3200, 6400, 12_800];

export class DockerNetworkNamer {
  private readonly engine?: EngineClient;
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly controller: Controller,
    private readonly log: Logger,
    dockerHost = process.env.DOCKER_HOST || 'unix:///run/docker.sock',
  ) {
    try {
      this.engine = new EngineClient(enginePath(dockerHost));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'Docker network names: DOCKER_HOST is not a unix socket; networks keep docker-<id> names');
    }
  }

  /** Look netId up until Docker knows it (≈ 25 s at most), then rename it from the placeholder. */
  schedule(netId: string, attempt = 0): void {
    if (!this.engine || this.stopped || attempt >= DELAYS_MS.length) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.tryOnce(netId, attempt);
    }, DELAYS_MS[attempt]);
    t.unref();
    this.timers.add(t);
  }

  private async tryOnce(netId: string, attempt: number): Promise<void> {
    try {
      const name = await this.engine!.networkName(netId);
      if (name === undefined) return this.schedule(netId, attempt + 1);
      const from = placeholderName(netId);
      if (await this.controller.renameNetwork(netId, from, name)) this.log.info({ id: netId, name }, 'docker network named');
      else if ((await this.controller.findNetwork(netId))?.name === from)
        this.log.warn({ id: netId, name }, `docker network keeps the name ${from}: a weft network is already called "${name}"`);
    } catch (err) {
      this.log.warn({ id: netId, err: (err as Error).message }, 'docker network name lookup failed');
      this.schedule(netId, attempt + 1);
    }
  }

  /** At start: look up every network still under its placeholder. */
  async resumeAll(): Promise<void> {
    for (const n of await this.controller.networks()) if (n.name === placeholderName(n.id)) this.schedule(n.id);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
