/**
 * `weft attach CONTAINER`: pipework's job without pipework's flaw. An attachment is a record
 * (container, engine socket, network, address, MAC, ifname); it is applied to the container's
 * current namespace (external sandbox by pid), and re-applied whenever the engine reports the
 * container started again — a restart gives it a new process and namespace, which pipework
 * forgot. Records go when the container is destroyed or the attachment is removed.
 */
import type { Controller } from '../../controller/controller.js';
import type { SandboxRecord } from '../../model/types.js';
import { ErrorList, InvalidArgumentError, NotFoundError, WeftError } from '../../errors.js';
import { normalizeAddress } from '../../ipam/address.js';
import { parseMac } from '../../ipam/mac.js';
import { validateIfname } from '../../config/validate.js';
import { validateAlias } from '../../config/dns-name.js';
import type { Logger } from '../../logger.js';
import { EngineClient, enginePath } from './engine-client.js';
import type { AttachmentRecord } from '../../controller/runtime-records.js';
import { SerialQueue } from '../../serial-queue.js';

export const ATTACHMENT_LABEL = 'weft.attach.container';
export const DEFAULT_ENGINE = '/run/docker.sock';

export interface AttachInput {
  container: string;
  engine?: string;
  network: string;
  /** Address, optionally with a prefix (checked against the network's) — pipework's IP/PREFIX. */
  ip?: string;
  /** Default route via this gateway instead of the network's. */
  gateway?: string;
  ip6?: string;
  mac?: string;
  ifname?: string;
  aliases?: string[];
}

const sandboxNameOf = (containerId: string): string => `ctr-${containerId.slice(0, 12)}`;
const isGone = (err: unknown): boolean => err instanceof WeftError && err.code === 'WEFT_NOT_FOUND';

export class ContainerAttachments {
  private readonly queue = new SerialQueue();
  private readonly watchers = new Map<string, { stop(): void }>();
  private stopped = false;

  constructor(
    private readonly controller: Controller,
    private readonly log: Logger,
  ) {}

  /** Run one change at a time: events and API calls touch the same records. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  list(): Promise<AttachmentRecord[]> {
    return this.controller.runtime.attachments();
  }

  private ofContainer(containerId: string): Promise<AttachmentRecord[]> {
    return this.controller.runtime.attachments(containerId);
  }

  /** Attach a running container; remembered, so it survives the container's restarts. */
  attach(input: AttachInput): Promise<{ attachment: AttachmentRecord; sandbox: SandboxRecord }> {
    return this.serial(async () => {
      const engine = enginePath(input.engine ?? DEFAULT_ENGINE);
      const info = await new EngineClient(engine).inspect(input.container);
      if (!info.running || info.pid <= 0) throw new InvalidArgumentError('container', `container "${input.container}" is not running`);
      const net = await this.controller.network(input.network);
      const rec: AttachmentRecord = {
        containerId: info.id,
        containerName: info.name,
        engine,
        networkId: net.id,
        aliases: (input.aliases ?? []).map((a, i) => validateAlias(`aliases[${i}]`, a)),
        created: new Date().toISOString(),
      };
      if (input.ip) {
        const [addr, prefix] = input.ip.split('/');
        rec.ipv4 = normalizeAddress(addr!, 'ip');
        const pool = net.ipam.config.find((p) => !p.subnet.includes(':'));
        if (prefix !== undefined && pool && pool.subnet.split('/')[1] !== prefix) {
          throw new InvalidArgumentError('ip', `prefix /${prefix} does not match network "${net.name}" (${pool.subnet})`);
        }
      }
      if (input.gateway) {
        // The network's gateway owns the default route weft keeps in place; another one would be
        // overwritten by every resync, so it is refused rather than silently lost.
        rec.gateway = normalizeAddress(input.gateway, 'gateway');
        const gw = net.ipam.config.find((p) => !p.subnet.includes(':'))?.gateway;
        if (rec.gateway !== gw)
          throw new InvalidArgumentError('gateway', `${rec.gateway} is not the gateway of network "${net.name}" (${gw ?? 'none'})`);
      }
      if (input.ip6) rec.ipv6 = normalizeAddress(input.ip6.split('/')[0]!, 'ip6');
      if (input.mac) rec.mac = parseMac(input.mac, 'mac');
      if (input.ifname) rec.ifname = validateIfname('ifname', input.ifname);
      await this.controller.runtime.recordAttachment(rec, net.name);
      try {
        const sb = await this.apply(info.id);
        if (!sb) throw new InvalidArgumentError('container', `container "${info.name}" stopped while being attached`);
        this.watch(engine);
        return { attachment: rec, sandbox: sb };
      } catch (err) {
        const undo = new ErrorList(`attach ${info.name} to ${net.name} failed and undoing it failed too`);
        undo.add(err);
        await undo.run(() => this.controller.runtime.forgetAttachments([rec]));
        await undo.run(() => this.detachKernel(info.id, net.id));
        throw undo.combined();
      }
    });
  }

  /** Forget an attachment and disconnect the container from that network. */
  detach(container: string, network: string): Promise<void> {
    return this.serial(async () => {
      const net = await this.controller.network(network);
      const all = await this.list();
      const rec = all.find(
        (a) =>
          a.networkId === net.id && (a.containerId === container || a.containerId.startsWith(container) || a.containerName === container),
      );
      if (!rec) throw new NotFoundError('attachment', `${container} on ${net.name}`);
      await this.controller.runtime.forgetAttachments([rec]);
      await this.detachKernel(rec.containerId, rec.networkId);
    });
  }

  private async detachKernel(containerId: string, networkId: string): Promise<void> {
    const sb = await this.sandboxOf(containerId);
    if (!sb) return;
    if ((await this.controller.endpointsOf(sb.id)).length <= 1) return this.dropSandbox(containerId);
    await this.controller.disconnect(networkId, { sandbox: sb.id }).catch((err: unknown) => {
      if (!isGone(err)) throw err;
    });
  }

  private async sandboxOf(containerId: string): Promise<SandboxRecord | undefined> {
    const sb = await this.controller.findSandbox(sandboxNameOf(containerId));
    // By name only: a sandbox whose id merely starts with these characters is not this container's.
    return sb?.name === sandboxNameOf(containerId) ? sb : undefined;
  }

  private async dropSandbox(containerId: string): Promise<void> {
    const sb = await this.sandboxOf(containerId);
    if (sb)
      await this.controller.removeSandbox(sb.id).catch((err: unknown) => {
        if (!isGone(err)) throw err;
      });
  }

  /**
   * Bring a container's attachments in line with its current process: a sandbox on its
   * namespace, one endpoint per attachment with the remembered address/MAC/ifname. Returns
   * the sandbox, or undefined when the container is not running (then nothing is attached).
   */
  private async apply(containerId: string): Promise<SandboxRecord | undefined> {
    const recs = await this.ofContainer(containerId);
    if (recs.length === 0) return undefined;
    let info;
    try {
      info = await new EngineClient(recs[0]!.engine).inspect(containerId);
    } catch (err) {
      if (isGone(err)) {
        await this.forget(containerId);
        return undefined;
      }
      throw err;
    }
    let sb = await this.sandboxOf(containerId);
    if (sb && (!info.running || sb.pid !== info.pid)) {
      // A new process means a new namespace: the old sandbox and its addresses go first, so
      // the remembered address is free for the new one.
      await this.dropSandbox(containerId);
      sb = undefined;
    }
    if (!info.running || info.pid <= 0) return undefined;
    if (!sb) {
      const created = await this.controller.createSandbox({
        kind: 'external',
        pid: info.pid,
        name: sandboxNameOf(containerId),
        labels: { [ATTACHMENT_LABEL]: containerId },
      });
      sb = created.sandbox;
    }
    const have = new Set((await this.controller.endpointsOf(sb.id)).map((e) => e.networkId));
    for (const r of recs) {
      if (have.has(r.networkId)) continue;
      const ep = await this.controller.connect(r.networkId, {
        sandbox: sb.id,
        aliases: r.aliases,
        ...(r.ipv4 ? { ipv4: r.ipv4 } : {}),
        ...(r.ipv6 ? { ipv6: r.ipv6 } : {}),
        ...(r.mac ? { mac: r.mac } : {}),
        ...(r.ifname ? { ifname: r.ifname } : {}),
      });
      if (r.gateway && !ep.defaultRoute)
        this.log.warn({ container: containerId.slice(0, 12) }, 'another network already gives the default route');
    }
    return sb;
  }

  private async forget(containerId: string): Promise<void> {
    await this.controller.runtime.forgetAttachments(await this.ofContainer(containerId));
    await this.dropSandbox(containerId);
  }

  private onEvent(action: string, id: string): void {
    void this.serial(async () => {
      if ((await this.ofContainer(id)).length === 0) return;
      if (action === 'start') await this.apply(id);
      else if (action === 'die') await this.dropSandbox(id);
      else if (action === 'destroy') await this.forget(id);
    }).catch((err: unknown) =>
      this.log.warn({ container: id.slice(0, 12), action, err: (err as Error).message }, 'attachment event failed'),
    );
  }

  /** Re-apply every attachment (at start, and after an engine's event stream broke). */
  async resync(engine?: string): Promise<void> {
    const ids = new Set((await this.list()).filter((a) => !engine || a.engine === engine).map((a) => a.containerId));
    for (const id of ids) {
      await this.serial(() => this.apply(id)).catch((err: unknown) =>
        this.log.warn({ container: id.slice(0, 12), err: (err as Error).message }, 'attachment resync failed'),
      );
    }
  }

  /** Follow an engine's events (once per engine), reconnecting with a full resync. */
  watch(engine: string): void {
    if (this.watchers.has(engine) || this.stopped) return;
    let current: { stop(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const loop = async (first: boolean): Promise<void> => {
      if (this.stopped) return;
      const f = new EngineClient(engine).follow((e) => this.onEvent(e.action, e.id));
      current = f;
      // Subscribe first, then resync: a start between the two is seen by one or the other.
      if (!first) await this.resync(engine);
      await f.done;
      if (!this.stopped) timer = setTimeout(run, 1000);
    };
    const run = (first = false): void => {
      loop(first).catch((err: unknown) => {
        // Try again later: an engine that is away now may be back then.
        this.log.warn({ engine, err: (err as Error).message }, 'following container engine events failed');
        if (!this.stopped) timer = setTimeout(run, 1000);
      });
    };
    this.watchers.set(engine, {
      stop: () => {
        if (timer) clearTimeout(timer);
        current?.stop();
      },
    });
    run(true);
  }

  async start(): Promise<void> {
    const engines = new Set((await this.list()).map((a) => a.engine));
    for (const e of engines) this.watch(e);
    await this.resync();
  }

  stop(): void {
    this.stopped = true;
    for (const w of this.watchers.values()) w.stop();
    this.watchers.clear();
  }
}
