/**
 * `-o encrypted`. Docker encrypts the VXLAN of such networks with kernel IPsec ESP; this kernel's
 * xfrm has no ESP and there is no WireGuard module, so each host runs one userspace WireGuard
 * device (wireguard-go, through services.wireguard) and the VXLAN of encrypted networks runs
 * inside it: every host gets a tunnel address derived from its underlay IPv4 address
 * (fd77:6566:7400::/96 + the 32 bits), encrypted networks use it as their VTEP, and every other
 * host is a WireGuard peer allowed exactly its tunnel address. Public keys travel as host data
 * through the cluster; private keys stay in the host's key file. A process without the service
 * (the CNI fallback) refuses encrypted networks with a typed error instead of carrying them in
 * the clear.
 */
import { createHash } from 'node:crypto';
import type { DriverContext, RemoteHost } from '../driver.js';
import { KernelError, KernelUnsupportedError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import { clusterOf } from './overlay-objects.js';
import { claimLink } from '../link-ownership.js';
import { WIREGUARD_MARK, mustOwn } from './overlay-ownership.js';
import { TUNNEL_PREFIX_LEN, WG_OVERHEAD_V4, tunnelAddressOf } from './overlay-options.js';

/** UDP port of the hosts' WireGuard devices. */
export const WG_PORT = 51871;
/** Host data key carrying a host's WireGuard public key. */
export const WG_KEY = 'wgPublicKey';

/** The host's WireGuard device: unique on the machine (the control socket's path is shared). */
export const wgIfnameOf = (hostId: string): string => IFNAMES.overlay.of(createHash('sha256').update(hostId).digest('hex'));

/** Other hosts' keys, and this host's device once it is up. */
export class OverlayEncryption {
  private readonly hosts = new Map<string, { address: string; publicKey: string }>();
  private device?: string;

  /** The device's name on this host while it runs (for the orphan sweep). */
  get deviceName(): string | undefined {
    return this.device;
  }

  /** Ensure this host's device, its tunnel address, its key published, and every known host as a peer. */
  async ensure(c: DriverContext): Promise<void> {
    const wg = c.services.wireguard;
    const cl = c.services.cluster;
    if (!wg || !cl)
      throw new KernelUnsupportedError(
        'overlay encryption',
        'this kernel has no IPsec ESP and no WireGuard module, and this process has no wireguard-go service to encrypt with',
      );
    const { hostId, hostAddress } = clusterOf(c);
    const name = wgIfnameOf(hostId);
    const rt = c.kernel.host();
    // A device of that name weft did not make (or mark) is not handed to wireguard-go.
    const before = rt.link(name);
    if (before && this.device !== name) mustOwn(before, WIREGUARD_MARK, 'overlay encryption');
    const { publicKey } = await wg.ensureDevice(name, WG_PORT);
    let link = rt.link(name);
    if (!link) throw new KernelError('overlay encryption', `wireguard-go did not make ${name}`);
    // wireguard-go makes the TUN device; weft's mark goes on right after.
    claimLink(rt, link, WIREGUARD_MARK);
    link = { ...link, alias: WIREGUARD_MARK };
    const cidr = `${tunnelAddressOf(hostAddress)}/${TUNNEL_PREFIX_LEN}`;
    if (!rt.addresses(link.index, 6).some((a) => a.cidr === cidr)) rt.addAddress(link.index, cidr, { nodad: true });
    const mtu = this.underlayMtu(c) - WG_OVERHEAD_V4;
    if (link.mtu !== mtu || !link.up) rt.setLink(link.index, { mtu, up: true });
    await cl.publishHostData('overlay', { [WG_KEY]: publicKey });
    this.device = name;
    await this.sync(c);
  }

  private underlayMtu(c: DriverContext): number {
    const { hostAddress } = clusterOf(c);
    const rt = c.kernel.host();
    const a = rt.addresses().find((x) => x.cidr.split('/')[0] === hostAddress);
    const l = a && rt.link(a.index);
    if (!l) throw new KernelError('overlay encryption', `no interface holds the advertised address ${hostAddress}`);
    return l.mtu;
  }

  /** Program the device's peers from the known hosts (nothing to do before the device exists). */
  async sync(c: DriverContext): Promise<void> {
    if (!this.device || !c.services.wireguard) return;
    const peers = [...this.hosts.values()].map((h) => ({
      publicKey: h.publicKey,
      endpoint: `${h.address}:${WG_PORT}`,
      allowedIps: [`${tunnelAddressOf(h.address)}/128`],
    }));
    await c.services.wireguard.setPeers(this.device, peers);
  }

  /** A host with a published key joined or came back; true if anything changed. */
  hostUp(host: RemoteHost, self: string): boolean {
    // The cluster agent hands host data over as "<driver>/<key>".
    const key = host.data[`overlay/${WG_KEY}`] ?? host.data[WG_KEY];
    if (!key || host.hostId === self) return false;
    const old = this.hosts.get(host.hostId);
    if (old?.publicKey === key && old.address === host.address) return false;
    this.hosts.set(host.hostId, { address: host.address, publicKey: key });
    return true;
  }

  hostDown(host: RemoteHost): boolean {
    return this.hosts.delete(host.hostId);
  }
}
