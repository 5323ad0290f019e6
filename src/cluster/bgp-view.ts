/**
 * From the cluster store's keys to one host's ClusterBgpView (src/bgp/model-from-cluster.ts),
 * the step Calico's confd does. Pure: the BGP service mirrors `hosts/`, `ipam/` and `bgp/` into
 * a map and calls this on every change. A record that does not parse is skipped and reported,
 * never allowed to stop the other hosts' routes.
 *   hosts/<id>                  { id, name, address, address6? }          (hosts/<id>/alive is ignored)
 *   ipam/<pool>/config          { id, cidr, blockPrefix, bgp? }
 *   ipam/<pool>/blocks/<cidr>   { cidr, owner, allocations: { <offset>: { handle, host } } }
 *   bgp/config                  ClusterBgpConfig
 *   bgp/hosts/<id>              { asNumber?, routerId?, reflectorClusterId? }
 *   bgp/peers/<name>            ClusterBgpPeer
 */
import { blockAddress } from '../ipam/cluster-blocks.js';
import type { ClusterBgpConfig, ClusterBgpPeer, ClusterBgpView, ClusterHost } from '../bgp/model-from-cluster.js';
import { byKey, parseObject, str, type Json, type SkippedKey } from './view-entries.js';

export const BGP_KEYS = {
  config: 'bgp/config',
  host: (id: string) => `bgp/hosts/${id}`,
  peer: (name: string) => `bgp/peers/${name}`,
  peers: 'bgp/peers/',
  prefix: 'bgp/',
} as const;

/** Prefixes the view is built from. */
export const BGP_VIEW_PREFIXES = ['hosts/', 'ipam/', BGP_KEYS.prefix] as const;

export interface BgpViewResult {
  view: ClusterBgpView;
  /** Keys whose values were skipped, with why. */
  skipped: SkippedKey[];
}

/** The view for `localHost` from every mirrored key (relative to the store prefix). */
export function bgpViewFromEntries(localHost: string, entries: ReadonlyMap<string, string>, defaults: { asNumber: number }): BgpViewResult {
  const skipped: SkippedKey[] = [];
  const hosts = new Map<string, ClusterHost>();
  const perHost = new Map<string, NonNullable<ClusterHost['bgp']>>();
  const pools: { cidr: string; bgp?: boolean }[] = [];
  const blocks: { cidr: string; owner: string }[] = [];
  const borrowed: string[] = [];
  const peers: ClusterBgpPeer[] = [];
  let config: ClusterBgpConfig = { asNumber: defaults.asNumber };
  for (const [key, value] of byKey(entries)) {
    const skip = (reason: string): void => void skipped.push({ key, reason });
    let m: RegExpExecArray | null;
    if ((m = /^hosts\/([^/]+)$/.exec(key))) {
      const r = parseObject(value);
      const address = str(r?.address);
      if (!r || !address) {
        skip('host record without an address');
        continue;
      }
      const h: ClusterHost = { id: m[1]!, name: str(r.name) ?? m[1]! };
      if (address.includes(':')) h.address6 = address;
      else h.address4 = address;
      // A dual-stack host records its IPv6 underlay address beside the IPv4 one.
      const address6 = str(r.address6);
      if (address6 && address6.includes(':') && !address.includes(':')) h.address6 = address6;
      hosts.set(h.id, h);
    } else if ((m = /^ipam\/([^/]+)\/config$/.exec(key))) {
      const r = parseObject(value);
      const cidr = str(r?.cidr);
      if (!cidr) skip('pool without a cidr');
      else pools.push({ cidr, ...(r?.bgp === false ? { bgp: false } : {}) });
    } else if ((m = /^ipam\/([^/]+)\/blocks\/[^/]+$/.exec(key))) {
      const r = parseObject(value);
      const cidr = str(r?.cidr);
      if (!r || !cidr) {
        skip('block without a cidr');
        continue;
      }
      const owner = str(r.owner);
      if (owner) blocks.push({ cidr, owner });
      // Addresses this host holds in a block it does not own are its borrowed ones (/32 routes).
      if (owner === localHost) continue;
      const allocations = typeof r.allocations === 'object' && r.allocations !== null ? (r.allocations as Record<string, unknown>) : {};
      for (const [offset, a] of Object.entries(allocations)) {
        if (typeof a === 'object' && a !== null && (a as Json).host === localHost && /^\d+$/.test(offset)) {
          borrowed.push(blockAddress(cidr, Number(offset)));
        }
      }
    } else if (key === BGP_KEYS.config) {
      const r = parseObject(value);
      if (!r) skip('not a JSON object');
      else config = { ...(r as unknown as ClusterBgpConfig), asNumber: typeof r.asNumber === 'number' ? r.asNumber : defaults.asNumber };
    } else if ((m = /^bgp\/hosts\/([^/]+)$/.exec(key))) {
      const r = parseObject(value);
      if (!r) skip('not a JSON object');
      else perHost.set(m[1]!, r);
    } else if (key.startsWith(BGP_KEYS.peers)) {
      const r = parseObject(value);
      if (!r) skip('not a JSON object');
      else peers.push(r as unknown as ClusterBgpPeer);
    }
  }
  for (const [id, bgp] of perHost) {
    const h = hosts.get(id);
    if (h) h.bgp = bgp;
  }
  return {
    view: { localHost, hosts: [...hosts.values()], pools, blocks, localAddresses: borrowed, config, peers },
    skipped,
  };
}
