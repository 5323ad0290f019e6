/**
 * The shape of compare.json: what `weft lab compare` measured and checked, per design. The
 * report builder (report/) reads only this, so a saved compare.json can be rendered again
 * (and the unit test feeds it a fixed one).
 */

/** Outcome of a check, in the seed table's own sense of its row (see report/seed-table.ts). */
export type Outcome = 'yes' | 'no' | 'n-a';

/** The seed's rows that are decided by an experiment. */
export const CHECK_IDS = [
  'isolation',
  'protocols',
  'names',
  'store',
  'encryption',
  'partial',
  'vnic',
  'overlap',
  'subnet-restriction',
] as const;
export type CheckId = (typeof CHECK_IDS)[number];

/** Protocols the protocol check tries, in table order. */
export const PROTOCOLS = ['TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'raw IP'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** A repeated measurement: the median, the spread and the samples. */
export interface Stat {
  unit: string;
  n: number;
  median: number;
  min: number;
  max: number;
  samples: number[];
}

export interface CheckResult {
  id: CheckId;
  outcome: Outcome;
  /** What was done and seen (commands' output, counts), short enough for a table cell's tooltip. */
  evidence: string;
  /** What the design's adapter claimed; a different outcome is flagged in the report. */
  claimed?: Outcome;
  /** For 'protocols': each protocol's own outcome. */
  protocols?: Partial<Record<Protocol, Outcome>>;
  /** The experiment itself broke (evidence says how): the outcome is then n-a, not a finding. */
  failed?: boolean;
  /** For 'isolation': the mechanism seen (e.g. "network (CIDR) + firewall"). */
  mechanism?: string;
}

/** Control-plane traffic on one host's underlay interface over a window. */
export interface ControlPlaneWindow {
  seconds: number;
  /** Per host: bytes and packets per second to/from the store (etcd) and the design's own control ports. */
  perHost: { host: string; storeBytesPerS: number; storePktsPerS: number; designBytesPerS: number; designPktsPerS: number }[];
}

/**
 * How much of each measurement: the full run must fit all designs in 30 minutes on 2 loaded
 * cores, so each figure is a median of a few short runs, reported with its spread (min–max).
 */
export interface Effort {
  reps: number;
  iperfS: number;
  sockperfS: number;
  convergence: number;
  restS: number;
  churn: number;
  storeOutageMs: number;
  linkCutMs: number;
}

/** The faults the failure measurement injects. */
export type FailureKind = 'weftd-restart' | 'store-outage' | 'link-cut';

/** Traffic a→b (TCP connects every 100 ms) around one fault. */
export interface FailureResult {
  kind: FailureKind;
  /** What was done, in words. */
  fault: string;
  /** How long the fault lasted (kill→answering again, outage, cut). */
  faultMs: number;
  /** Did any probe fail after the fault began? */
  broke: boolean;
  /** Total time the probes failed. */
  downMs: number;
  /** From the repair until traffic flowed again (0 if it never stopped); null: not back within the bound. */
  recoveredAfterRepairMs: number | null;
  evidence: string;
  /** The experiment itself broke (evidence says how). */
  failed?: boolean;
}

export interface DesignResult {
  design: string;
  title: string;
  /** The seed's "Network Model" row for this design. */
  model: string;
  /** Which column of the seed's table this design stands for, if any. */
  seedColumn?: string;
  /** Both endpoints on one host on purpose (the same-host reference). */
  sameHost: boolean;
  status: 'ok' | 'failed';
  error?: string;
  endpoints: { id: string; host: string; address: string; address6?: string }[];
  throughput?: { oneStream: Stat; fourStreams: Stat };
  latency?: { p50: Stat; p99: Stat };
  cpu?: { senderPerGbit: Stat; receiverPerGbit: Stat; machinePerGbit: Stat };
  convergence?: { samplesMs: number[]; createMs: number[]; failures: number };
  controlPlane?: { rest: ControlPlaneWindow; churn: ControlPlaneWindow & { attaches: number; storePktsPerAttach: number } };
  memory?: { endpoints: number; rssBeforeKiB: number; rssAfterKiB: number; perEndpointKiB: number };
  checks: CheckResult[];
  failures?: FailureResult[];
  durationMs: number;
  /** Wall time of each step (where the run's time went). */
  stepsMs?: Record<string, number>;
}

export interface LabPicture {
  name: string;
  underlay: string;
  /** The underlay switch (or spine) and its subnet(s). */
  subnets: string[];
  hosts: { name: string; address: string }[];
  store: { name: string; address: string }[];
}

export interface CompareReport {
  version: 1;
  createdAt: string;
  machine: { cpus: number; cpuModel: string; kernel: string; node: string; loadavg: number[] };
  options: { hosts: number; designs: string[]; quick: boolean; effort?: Effort };
  lab: LabPicture;
  designs: DesignResult[];
  totalMs: number;
}
