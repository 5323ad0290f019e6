/**
 * Keeps the firewall in line with the model: networks and published ports follow the
 * controller's hooks; a watchdog notices when weft's tables were flushed or edited (a
 * firewall reload, `nft flush ruleset`) and restores them within a second; host integrations
 * (forwarding sysctls, DOCKER-USER rules) follow the networks too.
 */
import type { ControllerHooks } from '../controller/context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { FirewallBackend, FirewallState, FwNetwork, FwPortMapping } from '../firewall/types.js';
import type { HostIntegration } from '../firewall/host-integration.js';
import type { Logger } from '../logger.js';

/** What the service asks the controller (the Controller class provides it). */
export interface FirewallModel {
  firewallView(net: NetworkRecord): FwNetwork | undefined;
  firewallState(): Promise<FirewallState>;
  sandboxPortMappings(sb: SandboxRecord, net: NetworkRecord, ep: EndpointRecord): FwPortMapping[];
}

/** How often integrations another manager may reset (DOCKER-USER) are re-ensured. */
const INTEGRATION_RESYNC_MS = 3000;

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

export class FirewallService implements ControllerHooks {
  private timer: NodeJS.Timeout | undefined;
  private integrationTimer: NodeJS.Timeout | undefined;
  private checking = false;
  private resyncing = false;
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

  /** Start the watchdogs: weft's tables every periodMs (restored on drift), integrations every few seconds. */
  watch(periodMs: number): void {
    if (this.fw.name !== 'none') {
      this.timer = setInterval(() => void this.checkAndRestore(), periodMs);
      this.timer.unref();
    }
    if (this.integrations.some((i) => i.resync !== undefined)) {
      this.integrationTimer = setInterval(() => void this.resyncIntegrations(), INTEGRATION_RESYNC_MS);
      this.integrationTimer.unref();
    }
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

  private async resyncIntegrations(): Promise<void> {
    if (this.resyncing) return;
    this.resyncing = true;
    const nets = [...this.networks.values()];
    for (const i of this.integrations) {
      try {
        await i.resync?.(nets);
      } catch (err) {
        this.log.warn({ integration: i.name, err: messageOf(err) }, 'firewall host integration resync failed');
      }
    }
    this.resyncing = false;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.integrationTimer) clearInterval(this.integrationTimer);
    this.timer = this.integrationTimer = undefined;
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
