/**
 * Wires the embedded DNS server to the model: every user-defined bridge network gets a
 * listener on its gateway address(es); every endpoint's sandbox name and aliases are answered
 * on its network. Other names are forwarded from the daemon's namespace to the host's
 * resolvers (or --dns-upstream), so a host using a 127.0.0.53 stub still works.
 *
 * Overlay networks keep their gateway in the network's own namespace, which exists on a host
 * only while it has sandboxes on the network: their listener is opened there (sockets made in
 * that namespace) when it appears and closed when it goes, and re-opened if it was re-made.
 * Their names include the endpoints of other hosts, from the cluster store's records as the
 * cluster agent reports them (remoteEndpointUp/Down): answered from memory, never a store read.
 */
import { readFileSync } from 'node:fs';
import type { ControllerHooks } from '../controller/context.js';
import type { GatewayNamespace } from '../controller/controller.js';
import type { RemoteEndpoint } from '../drivers/driver.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { DnsRecordTable } from '../dns/records.js';
import { EmbeddedDnsServer } from '../dns/server.js';
import { planUpstreams } from '../dns/upstreams.js';
import { hasEmbeddedDns } from '../controller/sandbox-files.js';
import { SerialQueue } from '../serial-queue.js';
import type { Logger } from '../logger.js';

/** A listener in another namespace: which one (path and inode) and on which addresses. */
interface NetnsListener {
  key: string;
  addrs: string[];
}

export class DnsService implements ControllerHooks {
  readonly table = new DnsRecordTable();
  readonly server: EmbeddedDnsServer;
  private readonly listening = new Map<string, string[]>(); // network id → addresses
  private readonly inNetns = new Map<string, NetnsListener>(); // network id → its listener elsewhere
  /** Listener changes never interleave (a join and a leave racing on one network). */
  private readonly queue = new SerialQueue();

  constructor(
    upstreams: string[],
    private readonly log: Logger,
    port = 53,
    private readonly gatewayNamespace: (net: NetworkRecord) => GatewayNamespace | undefined = () => undefined,
  ) {
    let resolvConf = '';
    try {
      resolvConf = readFileSync('/etc/resolv.conf', 'utf8');
    } catch {
      /* no host resolvers: only local names */
    }
    const plan = planUpstreams({ explicit: upstreams, resolvConf });
    this.server = new EmbeddedDnsServer({ table: this.table, upstreams: plan.upstreams, port });
    log.info({ upstreams: plan.upstreams.map((u) => `${u.address}:${u.port}`), source: plan.source }, 'embedded DNS upstreams');
  }

  async networkUp(net: NetworkRecord): Promise<void> {
    if (!hasEmbeddedDns(net)) return;
    this.table.setSubnets(
      net.id,
      net.ipam.config.map((p) => p.subnet),
    );
    if (this.gatewayNamespace(net)) return this.syncNetns(net);
    const addrs = net.ipam.config.map((p) => p.gateway);
    for (const a of addrs) {
      try {
        await this.server.listen(net.id, a, { forward: !net.internal });
      } catch (err) {
        this.log.error({ network: net.name, address: a, err: (err as Error).message }, 'embedded DNS cannot listen');
        throw err;
      }
    }
    this.listening.set(net.id, addrs);
  }

  async networkDown(net: NetworkRecord): Promise<void> {
    for (const a of this.listening.get(net.id) ?? []) await this.server.unlisten(a);
    this.listening.delete(net.id);
    await this.queue.run(() => this.closeNetns(net.id));
    this.table.removeNetwork(net.id);
  }

  async endpointUp(net: NetworkRecord, ep: EndpointRecord, sb: SandboxRecord): Promise<void> {
    if (!hasEmbeddedDns(net)) return;
    this.table.setEndpoint(net.id, ep.id, {
      name: sb.name,
      aliases: ep.aliases,
      ...(ep.ipv4 ? { ipv4: ep.ipv4 } : {}),
      ...(ep.ipv6 ? { ipv6: ep.ipv6 } : {}),
    });
    await this.syncNetns(net);
  }

  async endpointDown(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    this.table.removeEndpoint(net.id, ep.id);
    if (hasEmbeddedDns(net)) await this.syncNetns(net);
  }

  /** Another host's endpoint on a global network: its name and aliases are answered here too. */
  async remoteEndpointUp(net: NetworkRecord, peer: RemoteEndpoint): Promise<void> {
    if (!hasEmbeddedDns(net) || peer.name === undefined) return;
    this.table.setEndpoint(net.id, peer.endpointId, {
      name: peer.name,
      aliases: peer.aliases ?? [],
      ...(peer.ipv4 ? { ipv4: peer.ipv4 } : {}),
      ...(peer.ipv6 ? { ipv6: peer.ipv6 } : {}),
    });
  }

  async remoteEndpointDown(peer: RemoteEndpoint): Promise<void> {
    this.table.removeEndpoint(peer.networkId, peer.endpointId);
  }

  async close(): Promise<void> {
    this.inNetns.clear();
    await this.server.close();
  }

  /**
   * Make the listener of a network whose gateway lives in another namespace match that
   * namespace: none while it does not exist, one there while it does (a re-made namespace
   * gets a new one; the old sockets would hold the old namespace alive and serve nobody).
   */
  private syncNetns(net: NetworkRecord): Promise<void> {
    return this.queue.run(async () => {
      const at = this.gatewayNamespace(net);
      if (!at) return;
      const key = at.inode === undefined ? undefined : `${at.path}#${at.inode}`;
      if (this.inNetns.get(net.id)?.key === key) return;
      await this.closeNetns(net.id);
      if (key === undefined) return;
      const addrs = net.ipam.config.map((p) => p.gateway);
      const l: NetnsListener = { key, addrs: [] };
      this.inNetns.set(net.id, l);
      for (const a of addrs) {
        try {
          await this.server.listen(net.id, a, { forward: !net.internal, netns: { key, bind: at.bind } });
          l.addrs.push(a);
        } catch (err) {
          this.log.error({ network: net.name, address: a, netns: at.path, err: (err as Error).message }, 'embedded DNS cannot listen');
          // Nothing half-open stays: the next join or resync tries again from scratch.
          await this.closeNetns(net.id);
          throw err;
        }
      }
    });
  }

  private async closeNetns(networkId: string): Promise<void> {
    const l = this.inNetns.get(networkId);
    if (!l) return;
    this.inNetns.delete(networkId);
    for (const a of l.addrs) await this.server.unlisten(a, l.key);
  }
}
