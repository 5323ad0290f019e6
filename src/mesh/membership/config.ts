/**
 * Membership timing knobs and the formulas that scale them with cluster size. Defaults follow
 * what memberlist ships for a LAN (probe every 1 s, gossip every 200 ms to 3 peers, full sync
 * every 30 s), which Docker's overlay also uses.
 */

export interface MembershipConfig {
  /** Time between two probes of this peer (before health scaling). */
  probeIntervalMs: number;
  /** How long to wait for a direct ack before asking others to probe indirectly. */
  probeTimeoutMs: number;
  /** Peers asked to probe indirectly (SWIM's k). */
  indirectChecks: number;
  /** Suspicion timeout = mult × max(1, log10 n) × probe interval, at its shortest. */
  suspicionMult: number;
  /** The longest suspicion timeout, as a multiple of the shortest (Lifeguard starts long and shortens with confirmations). */
  suspicionMaxTimeoutMult: number;
  /** An update is piggybacked retransmitMult × ceil(log10(n + 1)) times. */
  retransmitMult: number;
  gossipIntervalMs: number;
  gossipNodes: number;
  /** Full state exchange with one random peer; 0 turns it off. */
  pushPullIntervalMs: number;
  /** How often a full state exchange is tried with one recently dead peer, to heal partitions; 0 turns it off. */
  reconnectIntervalMs: number;
  /** Dead peers are still gossiped to this long (so they can refute), then forgotten. */
  deadRetainMs: number;
  /** Lifeguard's local health: probe interval and timeout scale by (score + 1), score ≤ this. */
  awarenessMax: number;
  /** Byte budget for piggybacked updates in one datagram. */
  piggybackBudget: number;
}

export const DEFAULT_MEMBERSHIP_CONFIG: Readonly<MembershipConfig> = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  retransmitMult: 4,
  gossipIntervalMs: 200,
  gossipNodes: 3,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 5_000,
  deadRetainMs: 30_000,
  awarenessMax: 8,
  piggybackBudget: 1200,
};

/** How many times an update is piggybacked in a cluster of n members. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.max(1, Math.ceil(Math.log10(n + 1)));
}

/** Shortest suspicion timeout for a cluster of n members. */
export function suspicionMinMs(c: MembershipConfig, n: number): number {
  return c.suspicionMult * Math.max(1, Math.log10(Math.max(1, n))) * c.probeIntervalMs;
}

/**
 * Lifeguard's shrinking suspicion: starts at max, falls logarithmically towards min as
 * `confirmations` of `expected` independent suspicions arrive, never below min.
 */
export function suspicionTimeoutMs(minMs: number, maxMs: number, confirmations: number, expected: number): number {
  if (expected < 1) return minMs;
  const frac = Math.log(confirmations + 1) / Math.log(expected + 1);
  return Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
}
