/**
 * Seed 000 §6.3's comparison table (Calico, Flannel, Weave, Docker overlay, from their
 * documentation in 2015) and how each of its rows is read from weft's measured checks (pure).
 */
import { PROTOCOLS, type CheckId, type CheckResult, type DesignResult } from '../compare-types.js';

export const SEED_COLUMNS = ['Calico', 'Flannel', 'Weave', 'Docker Overlay Network'] as const;

export interface SeedRow {
  label: string;
  /** The seed's four cells, in SEED_COLUMNS order. */
  seed: [string, string, string, string];
  /** The check that decides this row (none for the network model, which is the design itself). */
  check?: CheckId;
}

export const SEED_ROWS: SeedRow[] = [
  { label: 'Network Model', seed: ['Pure Layer-3 Solution', 'VxLAN or UDP Channel', 'VxLAN or UDP Channel', 'VxLAN'] },
  { label: 'Application Isolation', seed: ['Profile Schema', 'CIDR Schema', 'CIDR Schema', 'CIDR Schema'], check: 'isolation' },
  { label: 'Protocol Support', seed: ['TCP, UDP, ICMP & ICMPv6', 'ALL', 'ALL', 'ALL'], check: 'protocols' },
  { label: 'Name Service', seed: ['No', 'No', 'Yes', 'No'], check: 'names' },
  { label: 'Distributed Storage Requirements', seed: ['Yes', 'Yes', 'No', 'Yes'], check: 'store' },
  { label: 'Encryption Channel', seed: ['No', 'TLS', 'NaCl Library', 'No'], check: 'encryption' },
  { label: 'Partially Connected Network Support', seed: ['No', 'No', 'Yes', 'No'], check: 'partial' },
  { label: 'Separate vNIC for Container', seed: ['No', 'No', 'Yes', 'No'], check: 'vnic' },
  { label: 'IP Overlap Support', seed: ['No', 'Maybe', 'Maybe', 'Maybe'], check: 'overlap' },
  {
    label: 'Container Subnet Restriction',
    seed: ['No', 'No', 'Yes, configurable after start', 'Yes, not configurable after start'],
    check: 'subnet-restriction',
  },
];

const word = (o: string) => (o === 'n-a' ? 'n/a' : o);

/** One measured cell: the outcome in the row's sense, with what it carried, and a flag if the claim differs. */
export function measuredCell(d: DesignResult, row: SeedRow): string {
  if (!row.check) return d.model;
  if (d.status === 'failed' && d.checks.length === 0) return 'not run (design failed)';
  const c: CheckResult | undefined = d.checks.find((x) => x.id === row.check);
  if (!c) return 'not checked';
  let text = word(c.outcome);
  if (c.id === 'protocols' && c.protocols) {
    const by = (o: string) => PROTOCOLS.filter((p) => c.protocols?.[p] === o);
    text = [
      by('yes').join(', ') || 'none',
      by('no').length ? `not: ${by('no').join(', ')}` : '',
      by('n-a').length ? `untestable: ${by('n-a').join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('; ');
  } else if (c.id === 'isolation' && c.outcome === 'yes' && c.mechanism) text = `yes: ${c.mechanism}`;
  if (c.failed) text += ' (experiment failed)';
  if (c.claimed && c.claimed !== c.outcome) text += ` ⚠ claimed ${word(c.claimed)}`;
  return text;
}

/** The whole table as rows of cells: label, the seed's four, then one per design. */
export function seedTable(designs: DesignResult[]): { header: string[]; rows: string[][] } {
  return {
    header: ['', ...SEED_COLUMNS.map((c) => `${c} (seed)`), ...designs.map((d) => d.design)],
    rows: SEED_ROWS.map((r) => [r.label, ...r.seed, ...designs.map((d) => measuredCell(d, r))]),
  };
}
