/**
 * Network definitions across the mesh without a store: a last-writer-wins register per network
 * name. A network made on any peer is published with its creation time as version; removing it
 * publishes a tombstone with a later version, so a stale copy (a peer that was partitioned or
 * down) can neither resurrect a removed network nor undo a newer one. Ties go to the greater
 * origin name, so every peer picks the same winner. Unlike names, definitions belong to the
 * mesh, not to a peer: they stay when their origin dies or is forgotten. Tombstones are kept
 * (a few hundred bytes per removed network) so a peer returning after any time is corrected.
 */
import { InvalidArgumentError } from '../../errors.js';

/** What every peer needs to make the same network: the body `weft network create` takes. */
export interface MeshNetworkSpec {
  options: Record<string, string>;
  labels: Record<string, string>;
  internal: boolean;
  subnet: string;
  gateway: string;
}

export interface MeshNetworkRecord {
  name: string;
  /** The network's id, the same on every peer. */
  id: string;
  /** The peer that wrote this version. */
  origin: string;
  version: number;
  deleted: boolean;
  spec?: MeshNetworkSpec;
}

const newer = (a: MeshNetworkRecord, b: MeshNetworkRecord | undefined): boolean =>
  !b || a.version > b.version || (a.version === b.version && a.origin > b.origin);

export class MeshNetworks {
  private readonly records = new Map<string, MeshNetworkRecord>();

  constructor(readonly self: string) {}

  /** Publish a network made here; `version` is its creation time (ms). Returns the record if it won. */
  publish(name: string, id: string, spec: MeshNetworkSpec, version: number): MeshNetworkRecord | undefined {
    if (!Number.isSafeInteger(version) || version < 0) throw new InvalidArgumentError('version', `${version} is not a version`);
    const rec: MeshNetworkRecord = { name, id, origin: this.self, version, deleted: false, spec: { ...spec } };
    const cur = this.records.get(name);
    // Already known as it is (a restart re-publishing): nothing to say.
    if (cur && !cur.deleted && cur.id === id) return undefined;
    if (!newer(rec, cur)) return undefined;
    this.records.set(name, rec);
    return clone(rec);
  }

  /** Withdraw network `name` (only the definition with this id). Returns the tombstone to gossip. */
  withdraw(name: string, id: string, now: number): MeshNetworkRecord | undefined {
    const cur = this.records.get(name);
    if (cur && (cur.deleted || cur.id !== id)) return undefined;
    const rec: MeshNetworkRecord = {
      name,
      id,
      origin: this.self,
      version: Math.max(Math.floor(now), (cur?.version ?? 0) + 1),
      deleted: true,
    };
    this.records.set(name, rec);
    return clone(rec);
  }

  /** Merge gossiped records; returns those that were news. */
  merge(incoming: readonly MeshNetworkRecord[]): MeshNetworkRecord[] {
    const news: MeshNetworkRecord[] = [];
    for (const r of incoming) {
      if (!newer(r, this.records.get(r.name))) continue;
      const rec = clone(r);
      if (rec.deleted) delete rec.spec;
      this.records.set(r.name, rec);
      news.push(clone(rec));
    }
    return news;
  }

  get(name: string): MeshNetworkRecord | undefined {
    const r = this.records.get(name);
    return r && clone(r);
  }

  all(): MeshNetworkRecord[] {
    return [...this.records.values()].map(clone);
  }
}

function clone(r: MeshNetworkRecord): MeshNetworkRecord {
  return { ...r, ...(r.spec ? { spec: { ...r.spec, options: { ...r.spec.options }, labels: { ...r.spec.labels } } } : {}) };
}
