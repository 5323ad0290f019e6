/**
 * Pure: which remote endpoints and global networks this host has told its controller about,
 * and what changes when the store says something. The cluster sync feeds it full reads
 * (first, and after every lost or compacted watch) and single events; it answers with only
 * the differences, so a resync after an outage replays nothing that did not change. This
 * host's own endpoints are never peers (they are local endpoints), and a gone host's
 * endpoints leave the view at once, even before the store deletes them.
 */
import type { EndpointRecord, NetworkRecord } from '../model/types.js';
import type { RemoteEndpoint } from '../drivers/driver.js';

export type PeerChange =
  | { type: 'networkUp'; network: NetworkRecord }
  | { type: 'networkDown'; network: NetworkRecord }
  | { type: 'peerUp'; peer: RemoteEndpoint }
  | { type: 'peerDown'; peer: RemoteEndpoint };

/** `endpoints/<network>/<id>` → the ids, or undefined for other keys. */
export function parseEndpointKey(key: string): { networkId: string; endpointId: string } | undefined {
  const m = /^endpoints\/([^/]+)\/([^/]+)$/.exec(key);
  return m ? { networkId: m[1]!, endpointId: m[2]! } : undefined;
}

/** `networks/<id>` → the id. */
export function parseNetworkKey(key: string): string | undefined {
  return /^networks\/([^/]+)$/.exec(key)?.[1];
}

/** The driver-facing form of another host's endpoint record (undefined for this host's own or a malformed one). */
export function remoteOf(rec: EndpointRecord, self: string): RemoteEndpoint | undefined {
  if (!rec.host || rec.host === self || !rec.hostAddress) return undefined;
  return {
    endpointId: rec.id,
    networkId: rec.networkId,
    hostId: rec.host,
    hostAddress: rec.hostAddress,
    ...(rec.ipv4 ? { ipv4: rec.ipv4 } : {}),
    ...(rec.ipv6 ? { ipv6: rec.ipv6 } : {}),
    ...(rec.macAddress ? { mac: rec.macAddress } : {}),
    ...(rec.sandboxName ? { name: rec.sandboxName } : {}),
    ...(rec.aliases?.length ? { aliases: [...rec.aliases] } : {}),
  };
}

const same = (a: RemoteEndpoint, b: RemoteEndpoint): boolean => JSON.stringify(a) === JSON.stringify(b);

export class PeerViewCore {
  private readonly peers = new Map<string, RemoteEndpoint>();
  private readonly networks = new Map<string, NetworkRecord>();
  /** Hosts whose grace ran out: their endpoints stay out of the view until they are up again. */
  private readonly gone = new Set<string>();

  constructor(private readonly self: string) {}

  /** A full read of `networks/`: networks that appeared, and those that went away. */
  resyncNetworks(entries: readonly { key: string; value: string }[]): PeerChange[] {
    const seen = new Map<string, NetworkRecord>();
    for (const e of entries) {
      const id = parseNetworkKey(e.key);
      if (id) seen.set(id, JSON.parse(e.value) as NetworkRecord);
    }
    const out: PeerChange[] = [];
    for (const id of this.networks.keys()) if (!seen.has(id)) out.push(...this.networkEvent({ type: 'delete', key: `networks/${id}` }));
    for (const [id, net] of seen)
      if (!this.networks.has(id)) out.push(...this.networkEvent({ type: 'put', key: `networks/${id}`, value: JSON.stringify(net) }));
    return out;
  }

  networkEvent(e: { type: 'put' | 'delete'; key: string; value?: string }): PeerChange[] {
    const id = parseNetworkKey(e.key);
    if (!id) return [];
    if (e.type === 'put') {
      const net = JSON.parse(e.value!) as NetworkRecord;
      const had = this.networks.has(id);
      this.networks.set(id, net);
      return had ? [] : [{ type: 'networkUp', network: net }];
    }
    const net = this.networks.get(id);
    if (!net) return [];
    this.networks.delete(id);
    return [{ type: 'networkDown', network: net }];
  }

  /** A full read of `endpoints/`: only what differs from the view. */
  resyncEndpoints(entries: readonly { key: string; value: string }[]): PeerChange[] {
    const want = new Map<string, RemoteEndpoint>();
    for (const e of entries) {
      if (!parseEndpointKey(e.key)) continue;
      const p = remoteOf(JSON.parse(e.value) as EndpointRecord, this.self);
      if (p && !this.gone.has(p.hostId)) want.set(e.key, p);
    }
    const out: PeerChange[] = [];
    for (const [key, p] of this.peers) {
      const w = want.get(key);
      if (!w || !same(w, p)) {
        this.peers.delete(key);
        out.push({ type: 'peerDown', peer: p });
      }
    }
    for (const [key, p] of want) {
      if (this.peers.has(key)) continue;
      this.peers.set(key, p);
      out.push({ type: 'peerUp', peer: p });
    }
    return out;
  }

  endpointEvent(e: { type: 'put' | 'delete'; key: string; value?: string }): PeerChange[] {
    if (!parseEndpointKey(e.key)) return [];
    const had = this.peers.get(e.key);
    const p = e.type === 'put' ? remoteOf(JSON.parse(e.value!) as EndpointRecord, this.self) : undefined;
    if (p && had && same(p, had)) return [];
    const out: PeerChange[] = [];
    if (had) {
      this.peers.delete(e.key);
      out.push({ type: 'peerDown', peer: had });
    }
    if (p && !this.gone.has(p.hostId)) {
      this.peers.set(e.key, p);
      out.push({ type: 'peerUp', peer: p });
    }
    return out;
  }

  /** A host's grace ran out: its endpoints leave the view now. */
  hostGone(id: string): PeerChange[] {
    this.gone.add(id);
    const out: PeerChange[] = [];
    for (const [key, p] of this.peers) {
      if (p.hostId !== id) continue;
      this.peers.delete(key);
      out.push({ type: 'peerDown', peer: p });
    }
    return out;
  }

  /** A host is up (again): endpoints it writes count once more. */
  hostUp(id: string): void {
    this.gone.delete(id);
  }

  /**
   * A change could not be applied (the controller failed): undo it in the view, so the next
   * full read finds the difference again and re-delivers it.
   */
  undo(c: PeerChange): void {
    if (c.type === 'networkUp') this.networks.delete(c.network.id);
    else if (c.type === 'networkDown') this.networks.set(c.network.id, c.network);
    else {
      const key = `endpoints/${c.peer.networkId}/${c.peer.endpointId}`;
      if (c.type === 'peerUp') {
        if (this.peers.get(key) === c.peer) this.peers.delete(key);
      } else if (!this.peers.has(key)) this.peers.set(key, c.peer);
    }
  }

  /** A host's endpoints in the view, as peerUp changes (handed to drivers again when it is back up). */
  peersOf(hostId: string): PeerChange[] {
    return [...this.peers.values()].filter((p) => p.hostId === hostId).map((peer) => ({ type: 'peerUp', peer }));
  }

  /** The record of a global network in the view (what remote endpoint calls are handed). */
  network(id: string): NetworkRecord | undefined {
    return this.networks.get(id);
  }

  peerCount(): number {
    return this.peers.size;
  }
}
