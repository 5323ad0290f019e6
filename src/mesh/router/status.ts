/** What `weft mesh status|peers` shows: a MeshRouter's view, JSON-serializable. */
export interface MeshStatus {
  name: string;
  uid: string;
  address: string;
  encrypted: boolean;
  sleeve: { device: string; address: string; rxPackets: number; txPackets: number; txDrops: number } | undefined;
  members: { name: string; addr: string; state: string; incarnation: number }[];
  connections: {
    peer: string;
    addr: string;
    outbound: boolean;
    established: boolean;
    encrypted: boolean;
    heartbeatAgeMs: number | undefined;
  }[];
  routes: { dest: string; via: string; hops: number }[];
  ring: { universe: string; owned: string[]; ownership: Record<string, number>; free: number; conflicts: string[] };
  names: number;
  /** Mesh network definitions known (gossiped); removed ones as tombstones. */
  networks: { name: string; id: string; origin: string; deleted: boolean }[];
  refusals: { addr: string; reason: string; at: number }[];
  counters: Record<string, number>;
}
