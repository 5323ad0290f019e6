/**
 * The nftables backend. The model is kept in memory; init() and restore() apply it whole in one
 * transaction, every other change is an element-only transaction (nft-ops.ts). Changes are
 * serialised so the model and the kernel never disagree about ordering.
 */
import { FirewallError } from '../errors.js';
import { SerialQueue } from '../serial-queue.js';
import { Nft, type NftExecutor } from '../kernel/nft.js';
import { admitNetwork, admitPorts, normalizeState } from './firewall-model.js';
import { checkLive, type LiveTables, ruleFingerprints } from './nft-check.js';
import { addElementsScript, removeElementsScript } from './nft-ops.js';
import { type Element, TABLE, USER_TABLE, fullScript, networkElements, portElements, stateElements } from './nft-ruleset.js';
import type { FirewallBackend, FirewallCheck, FirewallState, FwNetwork, FwPortMapping } from './types.js';
import { normalizePortMapping, portKey } from './validate.js';

export interface NftFirewallOptions {
  /** How nft is run; defaults to `new Nft({ netnsPath })`. */
  nft?: NftExecutor;
  /** Namespace to act in (tests); the daemon leaves it unset and acts in its own. */
  netnsPath?: string;
}

export class NftFirewall implements FirewallBackend {
  readonly name = 'nftables';
  private readonly nft: NftExecutor;
  private model: FirewallState = { networks: [], ports: [] };
  private applied = false;
  private reference = new Map<string, string>();
  private readonly queue = new SerialQueue();

  constructor(opts: NftFirewallOptions = {}) {
    this.nft = opts.nft ?? new Nft(opts.netnsPath === undefined ? {} : { netnsPath: opts.netnsPath });
  }

  get state(): FirewallState {
    return structuredClone(this.model);
  }

  /** Run changes one at a time, in call order, whatever happened to the previous one. */
  private serial<T>(fn: () => Promise<T>): Promise<T> {
    return this.queue.run(fn);
  }

  private async readLive(): Promise<LiveTables> {
    const [inet, bridge, user] = await Promise.all([
      this.nft.listTable('inet', TABLE),
      this.nft.listTable('bridge', TABLE),
      this.nft.listTable('inet', USER_TABLE),
    ]);
    return { inet, bridge, user };
  }

  private async applyFull(state: FirewallState): Promise<void> {
    const userExists = (await this.nft.listTable('inet', USER_TABLE)) !== undefined;
    await this.nft.apply(fullScript(state, { createUserTable: !userExists }));
    this.applied = true;
    // Fingerprint the rules as the kernel echoes them, so check() can spot edited rules.
    this.reference = ruleFingerprints(await this.readLive());
  }

  private async ensureApplied(): Promise<void> {
    if (!this.applied) await this.applyFull(this.model);
  }

  /** Remove elements; if the kernel disagrees (e.g. a table was flushed), re-apply everything. */
  private async removeOrRebuild(elements: Element[], next: FirewallState): Promise<void> {
    if (elements.length > 0) {
      try {
        await this.nft.apply(removeElementsScript(elements));
      } catch {
        await this.applyFull(next);
      }
    }
    this.model = next;
  }

  /** Create or atomically replace weft's tables from the full state. */
  init(state: FirewallState): Promise<void> {
    return this.serial(async () => {
      const s = normalizeState(state);
      await this.applyFull(s);
      this.model = s;
    });
  }

  restore(): Promise<void> {
    return this.serial(() => this.applyFull(this.model));
  }

  addNetwork(network: FwNetwork): Promise<void> {
    return this.serial(async () => {
      const n = admitNetwork(this.model.networks, network);
      await this.ensureApplied();
      if (!n) return;
      await this.nft.apply(addElementsScript(networkElements(n)));
      this.model = { networks: [...this.model.networks, n], ports: this.model.ports };
    });
  }

  removeNetwork(id: string): Promise<void> {
    return this.serial(async () => {
      const n = this.model.networks.find((x) => x.id === id);
      if (!n) return;
      const ports = this.model.ports.filter((p) => p.networkId === id);
      const next: FirewallState = {
        networks: this.model.networks.filter((x) => x.id !== id),
        ports: this.model.ports.filter((p) => p.networkId !== id),
      };
      if (!this.applied) return void (this.model = next);
      await this.removeOrRebuild([...ports.flatMap((p) => portElements(p, n)), ...networkElements(n)], next);
    });
  }

  addPorts(mappings: FwPortMapping[]): Promise<void> {
    return this.serial(async () => {
      const fresh = admitPorts(this.model, mappings);
      await this.ensureApplied();
      if (fresh.length === 0) return;
      const nets = new Map(this.model.networks.map((n) => [n.id, n]));
      const elements = fresh.flatMap((m) => portElements(m, nets.get(m.networkId)));
      if (elements.length > 0) await this.nft.apply(addElementsScript(elements));
      this.model = { networks: this.model.networks, ports: [...this.model.ports, ...fresh] };
    });
  }

  removePorts(mappings: FwPortMapping[]): Promise<void> {
    return this.serial(async () => {
      const gone = new Set(mappings.map((m, i) => portKey(normalizePortMapping(m, `ports[${i}]`))));
      const removed = this.model.ports.filter((p) => gone.has(portKey(p)));
      if (removed.length === 0) return;
      const next: FirewallState = { networks: this.model.networks, ports: this.model.ports.filter((p) => !gone.has(portKey(p))) };
      if (!this.applied) return void (this.model = next);
      const nets = new Map(this.model.networks.map((n) => [n.id, n]));
      await this.removeOrRebuild(
        removed.flatMap((m) => portElements(m, nets.get(m.networkId))),
        next,
      );
    });
  }

  check(): Promise<FirewallCheck> {
    return this.serial(async () => {
      let live: LiveTables;
      try {
        live = await this.readLive();
      } catch (err) {
        if (err instanceof FirewallError) return { ok: false, problems: [err.message] };
        throw err;
      }
      const problems = checkLive(live, stateElements(this.model), this.reference);
      return { ok: problems.length === 0, problems };
    });
  }
}
