/**
 * The `udp` backend's kernel side: a TUN device (opened and served by weftd's encapsulation
 * service, services.udpEncap) carrying the subnet's network address, one route for the whole
 * cluster network into it (this host's own subnet is more specific, on the bridge), and the
 * service's peer table (which underlay address holds which subnet).
 */
import type { DriverContext } from '../driver.js';
import type { UdpEncapService } from '../driver-services.js';
import type { NetworkRecord } from '../../model/types.js';
import type { LeaseRecord, SubnetConfig } from '../../ipam/subnet-leases.js';
import { InvalidArgumentError, KernelError } from '../../errors.js';
import { MAIN_TABLE, RT_SCOPE_LINK, vtepAddressOf } from './peer-plan.js';
import { claimLink, foreignLinkError } from '../link-ownership.js';
import { hostsubnetMark, ownHostsubnetLink } from './hostsubnet-ownership.js';

function service(c: DriverContext): UdpEncapService {
  const s = c.services.udpEncap;
  if (!s) throw new InvalidArgumentError('backend', 'the udp backend needs weftd’s encapsulation service (not available in this process)');
  return s;
}

export class UdpBackend {
  /** Open the TUN and socket, address and route the TUN, and load the peer table. */
  async ensure(
    c: DriverContext,
    net: NetworkRecord,
    cfg: SubnetConfig,
    lease: LeaseRecord,
    peers: readonly LeaseRecord[],
    tunName: string,
    mtu: number,
  ): Promise<void> {
    const svc = service(c);
    const rt = c.kernel.host();
    // Opening a TUN by name attaches to an existing persistent one: a link of that name that is
    // not ours (nor already served by us) is refused before the open, never taken over.
    const before = rt.link(tunName);
    if (before && !svc.has(tunName) && !ownHostsubnetLink(net, before)) throw foreignLinkError('backend', before);
    await svc.ensure(tunName, { port: cfg.backend.port, mtu, bindAddress: lease.publicIp });
    const opened = rt.link(tunName);
    if (!opened) throw new KernelError('udp backend', `TUN ${tunName} of network ${net.name} did not appear`);
    // TUNSETIFF cannot set the group: marked right after the open (the fd is ours, so is the device).
    claimLink(rt, opened, hostsubnetMark(net));
    const tun = rt.link(opened.index) ?? opened;
    if (tun.mtu !== mtu) rt.setLink(tun.index, { mtu });
    const want = `${vtepAddressOf(lease.subnet)}/32`;
    for (const a of rt.addresses(tun.index, 4)) if (a.cidr !== want) rt.deleteAddress(tun.index, a.cidr, { ignoreMissing: true });
    if (!rt.addresses(tun.index, 4).some((a) => a.cidr === want)) rt.addAddress(tun.index, want);
    if (!tun.up) rt.setLink(tun.index, { up: true, ipv6AddrGenNone: true });
    const r = rt.routes(4, MAIN_TABLE).find((x) => x.dst === cfg.network);
    if (!r || r.oif !== tun.index) rt.addRoute({ dst: cfg.network, oif: tun.index, scope: RT_SCOPE_LINK }, { replace: true });
    this.load(svc, tunName, cfg, peers);
  }

  private load(svc: UdpEncapService, tunName: string, cfg: SubnetConfig, peers: readonly LeaseRecord[]): void {
    svc.setPeers(
      tunName,
      peers.map((p) => ({ subnet: p.subnet, address: p.publicIp, port: Number(p.data.port ?? cfg.backend.port) })),
    );
  }

  /** Replace the peer table (a host came or went). */
  async setPeers(c: DriverContext, tunName: string, cfg: SubnetConfig, peers: readonly LeaseRecord[]): Promise<void> {
    this.load(service(c), tunName, cfg, peers);
  }

  /** Check: the TUN is served and routed. */
  check(c: DriverContext, tunName: string, cfg: SubnetConfig): string[] {
    const s = c.services.udpEncap;
    const out: string[] = [];
    if (!s?.has(tunName)) out.push(`TUN ${tunName} is not served by the encapsulation service`);
    const tun = c.kernel.host().link(tunName);
    const r = c.kernel
      .host()
      .routes(4, MAIN_TABLE)
      .find((x) => x.dst === cfg.network);
    if (!tun || !r || r.oif !== tun.index) out.push(`route ${cfg.network} into ${tunName} missing`);
    return out;
  }

  async stop(c: DriverContext, tunName: string): Promise<void> {
    await c.services.udpEncap?.stop(tunName);
  }
}
