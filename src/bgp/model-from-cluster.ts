/**
 * From what the cluster store holds to one host's BgpModel — the step Calico's confd does with
 * templates. The caller (src/cluster) reads the keys listed in README.md into a ClusterBgpView
 * and calls bgpModelForHost; the result goes to BgpSpeaker.start/apply. Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { cidrContains, cidrContainsCidr, parseAddress, parseCidr } from '../ipam/cidr.js';
import type { BgpExternalPeer, BgpModel, BgpTimers, MeshMode } from './model.js';

/** A host as registered under /weft/v1/hosts/<id>. */
export interface ClusterHost {
  id: string;
  name: string;
  address4?: string;
  address6?: string;
  /** Per-host BGP settings (/weft/v1/bgp/hosts/<id>): own AS, router id, reflector role. */
  bgp?: { asNumber?: number; routerId?: string; reflectorClusterId?: string };
}

/** An external peer (/weft/v1/bgp/peers/<name>); `hosts` limits it to some hosts (default all). */
export interface ClusterBgpPeer extends BgpExternalPeer {
  hosts?: string[];
}

/** Cluster-wide BGP settings (/weft/v1/bgp/config). */
export interface ClusterBgpConfig {
  asNumber: number;
  mesh?: MeshMode;
  timers?: Partial<BgpTimers>;
  gracefulRestartSeconds?: number;
  kernelTable?: number;
  /** Interface patterns for next-hop resolution on every host. */
  interfaces?: string[];
}

export interface ClusterBgpView {
  /** Id of the host the model is for. */
  localHost: string;
  hosts: ClusterHost[];
  /** Pools (/weft/v1/ipam/<pool>); `bgp: false` keeps a pool out of BGP (Calico's disableBGPExport). */
  pools: { cidr: string; bgp?: boolean }[];
  /** Every block with its owner (/weft/v1/ipam/<pool>/blocks/<cidr> → owner host id). */
  blocks: { cidr: string; owner: string }[];
  /** Addresses of this host's local endpoints (/weft/v1/endpoints/… whose host is localHost). */
  localAddresses: string[];
  config: ClusterBgpConfig;
  peers: ClusterBgpPeer[];
}

/** The BgpModel of `view.localHost`. Borrowed addresses are local endpoint addresses outside the local blocks. */
export function bgpModelForHost(view: ClusterBgpView): BgpModel {
  const me = view.hosts.find((h) => h.id === view.localHost);
  if (!me) throw new InvalidArgumentError('localHost', `host "${view.localHost}" is not registered`);
  const routerId = me.bgp?.routerId ?? me.address4;
  if (routerId === undefined)
    throw new InvalidArgumentError('routerId', `host "${me.name}" has no IPv4 address; set a BGP router id for it`);
  const pools = view.pools.filter((p) => p.bgp !== false).map((p) => p.cidr);
  const poolCidrs = pools.map((p, i) => parseCidr(p, `pools[${i}]`));
  const localBlocks = view.blocks.filter((b) => b.owner === me.id).map((b) => b.cidr);
  const localCidrs = localBlocks.map((b, i) => parseCidr(b, `blocks[${i}]`));
  const inPool = (cidr: string, i: number): boolean => poolCidrs.some((p) => cidrContainsCidr(p, parseCidr(cidr, `blocks[${i}]`)));
  const borrowed = view.localAddresses.filter((a, i) => {
    const addr = parseAddress(a, `localAddresses[${i}]`);
    return !localCidrs.some((c) => cidrContains(c, addr)) && poolCidrs.some((p) => cidrContains(p, addr));
  });
  const asOf = (h: ClusterHost): number => h.bgp?.asNumber ?? view.config.asNumber;
  const model: BgpModel = {
    hostName: me.name,
    routerId,
    asNumber: asOf(me),
    pools,
    blocks: localBlocks.filter(inPool),
    borrowed: [...new Set(borrowed)],
    mesh: view.config.mesh ?? 'full',
    hosts: view.hosts.map((h) => ({
      name: h.name,
      asNumber: asOf(h),
      ...(h.address4 === undefined ? {} : { address4: h.address4 }),
      ...(h.address6 === undefined ? {} : { address6: h.address6 }),
      ...(h.bgp?.reflectorClusterId === undefined ? {} : { reflectorClusterId: h.bgp.reflectorClusterId }),
    })),
    externalPeers: view.peers
      .filter((p) => p.hosts === undefined || p.hosts.includes(me.id) || p.hosts.includes(me.name))
      .map(({ hosts: _hosts, ...peer }) => peer),
  };
  if (me.address4 !== undefined) model.address4 = me.address4;
  if (me.address6 !== undefined) model.address6 = me.address6;
  if (me.bgp?.reflectorClusterId !== undefined) model.reflectorClusterId = me.bgp.reflectorClusterId;
  if (view.config.timers !== undefined) model.timers = view.config.timers;
  if (view.config.gracefulRestartSeconds !== undefined) model.gracefulRestartSeconds = view.config.gracefulRestartSeconds;
  if (view.config.kernelTable !== undefined) model.kernel = { table: view.config.kernelTable };
  if (view.config.interfaces !== undefined) model.interfaces = view.config.interfaces;
  return model;
}
