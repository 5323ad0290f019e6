/**
 * Models for the lab's pure-L3 topology (`weft lab up --underlay l3 --bgp`): a top-of-rack
 * router per set of segments running BIRD with role "router", and hosts that peer with their
 * router only (eBGP, one AS per host — Calico's "AS per compute server" layout, which keeps a
 * host from rejecting its neighbours' routes as an AS-path loop). Pure.
 */
import type { BgpExternalPeer, BgpModel, BgpTimers } from './model.js';

export interface TorSegment {
  /** The router's address on this segment: the source of its sessions there and the hosts' gateway. */
  routerAddress: string;
  hosts: { name: string; asNumber: number; address: string }[];
}

export interface TorSpec {
  name: string;
  asNumber: number;
  /** Default: the first segment's router address. */
  routerId?: string;
  pools: string[];
  segments: TorSegment[];
  /** Further routers (a spine, another rack) this one peers with. */
  routers?: BgpExternalPeer[];
  timers?: Partial<BgpTimers>;
}

/** The router's BgpModel: one eBGP session per host, each from the router's address on that host's segment. */
export function torRouterModel(t: TorSpec): BgpModel {
  const first = t.segments[0]?.routerAddress;
  const v4 = t.segments.map((s) => s.routerAddress).find((a) => !a.includes(':'));
  const v6 = t.segments.map((s) => s.routerAddress).find((a) => a.includes(':'));
  const model: BgpModel = {
    role: 'router',
    hostName: t.name,
    routerId: t.routerId ?? v4 ?? first ?? '',
    asNumber: t.asNumber,
    pools: t.pools,
    mesh: 'none',
    externalPeers: [
      ...t.segments.flatMap((s) =>
        s.hosts.map((h) => ({ name: h.name, asNumber: h.asNumber, address: h.address, localAddress: s.routerAddress })),
      ),
      ...(t.routers ?? []).map((r) => ({ ...r })),
    ],
  };
  if (v4 !== undefined) model.address4 = v4;
  if (v6 !== undefined) model.address6 = v6;
  if (t.timers !== undefined) model.timers = t.timers;
  return model;
}

/** A host's model behind a top-of-rack router: its blocks and borrowed addresses, one peer (the router). */
export function hostBehindTorModel(h: {
  name: string;
  asNumber: number;
  address: string;
  router: { name: string; asNumber: number; address: string };
  pools: string[];
  blocks?: string[];
  borrowed?: string[];
  timers?: Partial<BgpTimers>;
}): BgpModel {
  const v6 = h.address.includes(':');
  const model: BgpModel = {
    hostName: h.name,
    routerId: h.address,
    asNumber: h.asNumber,
    ...(v6 ? { address6: h.address } : { address4: h.address }),
    pools: h.pools,
    blocks: h.blocks ?? [],
    borrowed: h.borrowed ?? [],
    mesh: 'none',
    externalPeers: [{ name: h.router.name, asNumber: h.router.asNumber, address: h.router.address }],
  };
  if (h.timers !== undefined) model.timers = h.timers;
  return model;
}
