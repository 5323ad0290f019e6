/**
 * Keeps the firewall in line with the model: networks and published ports follow the
 * controller's hooks; a watchdog notices when weft's tables were flushed or edited (a
 * firewall reload, `nft flush ruleset`) and restores them within a second; host integrations
 * (forwarding sysctls, DOCKER-USER rules) follow the networks too.
 */
import type { ControllerHooks } from '../controller/context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { FirewallBackend, FirewallState, FwNetwork, FwPortMapping } from '../firewall/types.js';
import type { HostIntegration, IntegrationWatch } from '../firewall/host-integration.js';
import type { Logger } from '../logger.js';

/** What the service asks the controller (the Controller class provides it). */
export interface FirewallModel {
  firewallView(net: NetworkRecord): FwNetwork | undefined;
  firewallState(): Promise<FirewallState>;
  sandboxPortMappings(sb: SandboxRecord, net: NetworkRecord, ep: EndpointRecord): FwPortMapping[];
}

/**
 * How often integrations another manager may reset (DOCKER-USER) are re-ensured when the host
 * cannot tell weft about changes (legacy iptables).
 */
const INTEGRATION_RESYNC_MS = 3000;
/** A burst of changes (dockerd re-creating its chains) is answered with one resync after it. */
const INTEGRATION_SETTLE_MS = 100;

interface IntegrationResync {
  sub?: IntegrationWatch;
  poll?: NodeJS.Timeout;
  settle?: NodeJS.Timeout | undefined;
  running: boolean;
  again: boolean;
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class FirewallService implements ControllerHooks {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private watching = false;
  /** Per integration: its timer or change subscription, and whether a resync runs or is due. */
  private readonly resyncs = new Map<HostIntegration, IntegrationResync>();
  private readonly networks = new Map<string, FwNetwork>();
  /** Mappings published per endpoint, so they are removed as they were added. */
  private readonly published = new Map<string, FwPortMapping[]>();

  constructor(
    readonly fw: FirewallBackend,
    private readonly integrations: readonly HostIntegration[],
    private readonly model: FirewallModel,
    private readonly log: Logger,
  ) {}

  /** Build the whole state from the model and apply it in one transaction. */
  async init(): Promise<void> {
    await this.fw.init(await this.model.firewallState());
  }

  /**
   * Start the watchdogs: weft's tables every periodMs (restored on drift); integrations when the
   * kernel reports a change that concerns them, or every few seconds where it cannot.
   */
  watch(periodMs: number): void {
    this.watching = true;
    if (this.fw.name !== 'none') {
      this.timer = setInterval(() => void this.checkAndRestore(), periodMs);
      this.timer.unref();
    }
    for (const i of this.integrations) if (i.resync) void this.watchIntegration(i);
  }

  private async watchIntegration(i: HostIntegration): Promise<void> {
    const r: IntegrationResync = { running: false, again: false };
    this.resyncs.set(i, r);
    try {
      const sub = await i.watchChanges?.(() => this.scheduleResync(i, r));
      if (sub && !this.watching)
        sub.close(); // stopped while subscribing
      else if (sub) {
        r.sub = sub;
        this.scheduleResync(i, r); // a change before the subscription started is not missed
        return;
      }
    } catch (err) {
      this.log.warn({ integration: i.name, err: messageOf(err) }, 'firewall host integration: no change events, checking on a timer');
    }
    if (!this.watching) return;
    r.poll = setInterval(() => void this.resyncIntegration(i, r), INTEGRATION_RESYNC_MS);
    r.poll.unref();
  }

  private scheduleResync(i: HostIntegration, r: IntegrationResync): void {
    if (r.settle || !this.watching) return;
    r.settle = setTimeout(() => {
      r.settle = undefined;
      void this.resyncIntegration(i, r);
    }, INTEGRATION_SETTLE_MS);
    r.settle.unref();
  }

  /** One resync at a time; a change reported while one runs earns one more run after it. */
  private async resyncIntegration(i: HostIntegration, r: IntegrationResync): Promise<void> {
    if (r.running) {
      r.again = true;
      return;
    }
    r.running = true;
    do {
      r.again = false;
      try {
        await i.resync?.([...this.networks.values()]);
      } catch (err) {
        this.log.warn({ integration: i.name, err: messageOf(err) }, 'firewall host integration resync failed');
      }
    } while (r.again && this.watching);
    r.running = false;
  }

  async checkAndRestore(): Promise<boolean> {
    if (this.checking) return false;
    this.checking = true;
    try {
      const r = await this.fw.check();
      if (r.ok) return false;
      this.log.warn({ problems: r.problems.slice(0, 5) }, 'firewall drift: restoring weft tables');
      await this.fw.restore();
      return true;
    } catch (err) {
      this.log.error({ err: messageOf(err) }, 'firewall check/restore failed');
      return false;
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    this.watching = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const r of this.resyncs.values()) {
      if (r.poll) clearInterval(r.poll);
      if (r.settle) clearTimeout(r.settle);
      r.sub?.close();
    }
    this.resyncs.clear();
  }

  /** Required integrations are awaited (their failure fails the change); the others run behind it and log. */
  private async runIntegrations(what: 'networkUp' | 'networkDown', net: FwNetwork): Promise<void> {
    for (const i of this.integrations) {
      if (i.required) {
        await i[what](net);
        continue;
      }
      i[what](net).catch((err: unknown) =>
        this.log.warn(
          { integration: i.name, network: net.id.slice(0, 12), err: messageOf(err) },
          `firewall host integration ${what} failed`,
        ),
      );
    }
  }

  async networkUp(net: NetworkRecord): Promise<void> {
    const fwNet = this.model.firewallView(net);
    if (!fwNet) return;
    this.networks.set(net.id, fwNet);
    await this.runIntegrations('networkUp', fwNet);
    if (this.fw.state.networks.some((n) => n.id === net.id)) return;
    await this.fw.addNetwork(fwNet);
  }

  async networkDown(net: NetworkRecord): Promise<void> {
    const fwNet = this.model.firewallView(net);
    if (!fwNet) return;
    this.networks.delete(net.id);
    await this.fw.removeNetwork(net.id);
    await this.runIntegrations('networkDown', fwNet);
  }

  async endpointUp(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    const m = this.model.sandboxPortMappings(sb, net, ep);
    if (m.length === 0) return;
    await this.fw.addPorts(m);
    this.published.set(ep.id, m);
  }

  async endpointDown(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    // What endpointUp published: an overlay endpoint's target (its gateway leg) is gone by now.
    const m = this.published.get(ep.id) ?? this.model.sandboxPortMappings(sb, net, ep);
    if (m.length > 0) await this.fw.removePorts(m);
    this.published.delete(ep.id);
  }

  async portsUp(mappings: FwPortMapping[]): Promise<void> {
    await this.fw.addPorts(mappings);
  }

  async portsDown(mappings: FwPortMapping[]): Promise<void> {
    await this.fw.removePorts(mappings);
  }
}
