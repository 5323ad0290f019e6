/**
 * Keeps the firewall in line with the model: networks and published ports follow the
 * controller's hooks; a watchdog notices when weft's tables were flushed or edited (a
 * firewall reload, `nft flush ruleset`) and restores them within a second.
 */
import type { ControllerHooks, ControllerContext } from '../controller/context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { FirewallBackend, FwNetwork, FwPortMapping } from '../firewall/types.js';
import { mappingsFor } from '../controller/port-ops.js';
import type { Logger } from './logger.js';

/** The firewall's view of a bridge network. */
export function fwNetworkOf(net: NetworkRecord): FwNetwork | undefined {
  if (net.driver !== 'bridge' || !net.driverState.bridgeName) return undefined;
  const fw: FwNetwork = {
    id: net.id,
    bridge: net.driverState.bridgeName,
    subnets4: net.ipam.config.filter((p) => !p.subnet.includes(':')).map((p) => p.subnet),
    subnets6: net.ipam.config.filter((p) => p.subnet.includes(':')).map((p) => p.subnet),
    internal: net.internal,
    icc: net.driverState.icc !== 'false',
    masquerade: net.driverState.masquerade !== 'false',
  };
  if (net.driverState.hostBindingIpv4) fw.hostBindingIpv4 = net.driverState.hostBindingIpv4;
  return fw;
}

export class FirewallService implements ControllerHooks {
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  private forwardingOn = false;

  constructor(
    readonly fw: FirewallBackend,
    private readonly ctx: ControllerContext,
    private readonly log: Logger,
    /** Ports published outside weft's sandboxes (Docker's endpoints), re-applied at start. */
    private readonly extraPorts: () => Promise<FwPortMapping[]> = async () => [],
  ) {}

  /** Build the whole state from the store and apply it in one transaction. */
  async init(): Promise<void> {
    const nets = await this.ctx.records.networks();
    const networks = nets.map(fwNetworkOf).filter((n): n is FwNetwork => n !== undefined);
    const sandboxes = new Map((await this.ctx.records.sandboxes()).map((s) => [s.id, s]));
    const byId = new Map(nets.map((n) => [n.id, n]));
    const ports = (await this.ctx.records.endpoints()).flatMap((ep) => {
      const sb = sandboxes.get(ep.sandboxId);
      const net = byId.get(ep.networkId);
      return sb && net ? mappingsFor(sb, net, ep) : [];
    });
    ports.push(...(await this.extraPorts()).filter((p) => networks.some((n) => n.id === p.networkId)));
    // Sysctls wait for networkUp: after a reboot the bridges do not exist yet at this point.
    await this.fw.init({ networks, ports });
  }

  /** Start the watchdog: check weft's tables every periodMs, restore on drift. */
  watch(periodMs: number): void {
    if (this.fw.name === 'none') return;
    this.timer = setInterval(() => void this.checkAndRestore(), periodMs);
    this.timer.unref();
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
      this.log.error({ err: (err as Error).message }, 'firewall check/restore failed');
      return false;
    } finally {
      this.checking = false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * Sysctls a bridge needs in the daemon's namespace: forwarding once a network can route out
   * (only then — an internal-only host forwards nothing), and route_localnet on the bridge so
   * 127.0.0.1:PORT reaches a published port (the ruleset drops 127/8 arriving from bridges).
   */
  private async prepareKernel(net: NetworkRecord): Promise<void> {
    const fwNet = fwNetworkOf(net);
    if (!fwNet || this.fw.name === 'none') return;
    if (!net.internal && !this.forwardingOn) {
      await this.ctx.kernel.setSysctl(undefined, 'net.ipv4.ip_forward', '1');
      await this.ctx.kernel.setSysctl(undefined, 'net.ipv6.conf.all.forwarding', '1').catch(() => undefined);
      this.forwardingOn = true;
    }
    // An adopted bridge is someone else's: weft changes none of its settings (127.0.0.1:PORT
    // does not reach sandboxes on it then; every other host address does).
    if (net.driverState.adopt !== 'true') await this.ctx.kernel.setSysctl(undefined, `net.ipv4.conf.${fwNet.bridge}.route_localnet`, '1');
  }

  async networkUp(net: NetworkRecord): Promise<void> {
    const fwNet = fwNetworkOf(net);
    if (!fwNet) return;
    await this.prepareKernel(net);
    if (this.fw.state.networks.some((n) => n.id === net.id)) return;
    await this.fw.addNetwork(fwNet);
  }

  async networkDown(net: NetworkRecord): Promise<void> {
    if (fwNetworkOf(net)) await this.fw.removeNetwork(net.id);
  }

  async endpointUp(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    const m = mappingsFor(sb, net, ep);
    if (m.length > 0) await this.fw.addPorts(m);
  }

  async endpointDown(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    const m = mappingsFor(sb, net, ep);
    if (m.length > 0) await this.fw.removePorts(m);
  }
}
