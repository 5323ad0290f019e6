/**
 * Which BGP sessions a host (or lab router) opens, from the validated model: host-to-host
 * sessions per the mesh mode (full mesh or route reflectors), then the external peers. One
 * session per address family, over that family's underlay addresses (as Calico runs one BIRD
 * per family): an IPv6 route then always has an IPv6 next hop. Pure.
 */
import type { NormalizedBgpModel } from './model.js';
import { birdSymbol } from './bird-syntax.js';

export type SessionKind = 'host' | 'external';

export interface BgpSession {
  /** BIRD protocol name, stable for a given peer address (and port). */
  protocol: string;
  kind: SessionKind;
  /** The peer's host or external-peer name. */
  peerName: string;
  family: 4 | 6;
  localAddress: string;
  neighborAddress: string;
  neighborAs: number;
  /** This host reflects routes to this peer (it is a reflector, the peer its client). */
  rrClient: boolean;
  /** The export filter also passes on routes learned over BGP (reflectors, routers). */
  transit: boolean;
  password?: string;
  multihop?: number;
  port?: number;
  passive?: boolean;
}

function hostPeers(m: NormalizedBgpModel): { name: string; asNumber: number; address4?: string; address6?: string; rrClient: boolean }[] {
  if (m.mesh === 'none') return [];
  if (m.mesh === 'full') return m.hosts.map((h) => ({ ...h, rrClient: false }));
  // Reflectors: a reflector peers with every host; a client peers with the reflectors only.
  if (m.reflectorClusterId !== undefined) return m.hosts.map((h) => ({ ...h, rrClient: h.reflectorClusterId === undefined }));
  return m.hosts.filter((h) => h.reflectorClusterId !== undefined).map((h) => ({ ...h, rrClient: false }));
}

/** Every session of the model, host peers first, in a stable order. */
export function bgpSessions(m: NormalizedBgpModel): BgpSession[] {
  const out: BgpSession[] = [];
  const reflecting = m.reflectorClusterId !== undefined || m.role === 'router';
  for (const h of hostPeers(m)) {
    for (const family of [4, 6] as const) {
      const local = family === 4 ? m.address4 : m.address6;
      const remote = family === 4 ? h.address4 : h.address6;
      if (local === undefined || remote === undefined) continue;
      out.push({
        protocol: birdSymbol(`host${family}`, remote),
        kind: 'host',
        peerName: h.name,
        family,
        localAddress: local,
        neighborAddress: remote,
        neighborAs: h.asNumber,
        rrClient: h.rrClient,
        transit: reflecting,
      });
    }
  }
  for (const p of m.externalPeers) {
    const family = p.address.includes(':') ? 6 : 4;
    const local = (p.localAddress ?? (family === 4 ? m.address4 : m.address6))!; // validated: one of them is there
    const s: BgpSession = {
      protocol: birdSymbol(`peer${family}`, p.port === undefined ? p.address : `${p.address}_p${p.port}`),
      kind: 'external',
      peerName: p.name,
      family,
      localAddress: local,
      neighborAddress: p.address,
      neighborAs: p.asNumber,
      rrClient: false,
      // A host never carries traffic between its external peers; a router does.
      transit: m.role === 'router',
    };
    if (p.password !== undefined) s.password = p.password;
    if (p.multihop !== undefined) s.multihop = p.multihop;
    if (p.port !== undefined) s.port = p.port;
    if (p.passive) s.passive = true;
    out.push(s);
  }
  return out;
}
