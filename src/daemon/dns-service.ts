/**
 * Wires the embedded DNS server to the model: every user-defined bridge network gets a
 * listener on its gateway address(es); every endpoint's sandbox name and aliases are answered
 * on its network. Other names are forwarded from the daemon's namespace to the host's
 * resolvers (or --dns-upstream), so a host using a 127.0.0.53 stub still works.
 */
import { readFileSync } from 'node:fs';
import type { ControllerHooks } from '../controller/context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { DnsRecordTable } from '../dns/records.js';
import { EmbeddedDnsServer } from '../dns/server.js';
import { planUpstreams } from '../dns/upstreams.js';
import { hasEmbeddedDns } from '../controller/sandbox-files.js';
import type { Logger } from '../logger.js';

export class DnsService implements ControllerHooks {
  readonly table = new DnsRecordTable();
  readonly server: EmbeddedDnsServer;
  private readonly listening = new Map<string, string[]>(); // network id → addresses

  constructor(
    upstreams: string[],
    private readonly log: Logger,
    port = 53,
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
  }

  async endpointDown(net: NetworkRecord, ep: EndpointRecord): Promise<void> {
    this.table.removeEndpoint(net.id, ep.id);
  }

  async close(): Promise<void> {
    await this.server.close();
  }
}
