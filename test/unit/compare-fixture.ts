/** A fixed compare.json for the report builder's unit test and the browser test of compare.html. */
import type { CompareReport, DesignResult } from '../../src/lab/compare/compare-types.js';
import { statOf } from '../../src/lab/compare/stats.js';

const checks = (over: Partial<Record<string, string>> = {}): DesignResult['checks'] =>
  (['isolation', 'protocols', 'names', 'store', 'encryption', 'partial', 'vnic', 'overlap', 'subnet-restriction'] as const).map((id) => ({
    id,
    outcome: (over[id] ?? 'no') as 'yes' | 'no' | 'n-a',
    evidence: `evidence of ${id}`,
  }));

export function design(name: string, gbps: number[], conv: number[], extra: Partial<DesignResult> = {}): DesignResult {
  return {
    design: name,
    title: `${name} title`,
    model: `${name} model`,
    sameHost: false,
    status: 'ok',
    endpoints: [
      { id: 'a', host: 'h1', address: '10.0.0.1' },
      { id: 'b', host: 'h2', address: '10.0.0.2' },
    ],
    throughput: {
      oneStream: statOf(gbps, 'Gbit/s'),
      fourStreams: statOf(
        gbps.map((g) => g * 2),
        'Gbit/s',
      ),
    },
    latency: { p50: statOf([20, 22, 21], 'µs'), p99: statOf([80, 90, 85], 'µs') },
    cpu: { senderPerGbit: statOf([5], '%'), receiverPerGbit: statOf([6], '%'), machinePerGbit: statOf([12], '%') },
    convergence: { samplesMs: conv, createMs: conv.map((c) => c / 2), failures: 0 },
    checks: checks(),
    durationMs: 1000,
    ...extra,
  };
}

export const REPORT: CompareReport = {
  version: 1,
  createdAt: '2026-12-02T07:00:00.000Z',
  machine: { cpus: 2, cpuModel: 'Test CPU', kernel: '6.1.0', node: 'v20.0.0', loadavg: [1, 2, 3] },
  options: { hosts: 3, designs: ['veth', 'bridge-local'], quick: false },
  lab: {
    name: 'cmptest',
    underlay: 'l2',
    subnets: ['198.18.0.0/24'],
    hosts: ['h1', 'h2', 'h3'].map((h, i) => ({ name: h, address: `198.18.0.${11 + i}` })),
    store: [{ name: 'e1', address: '198.18.0.201' }],
  },
  designs: [
    design('veth', [10, 12, 11], [5, 1, 3, 2, 4], {
      checks: checks({ protocols: 'yes', store: 'no', encryption: 'no' }).map((c) =>
        c.id === 'protocols'
          ? { ...c, protocols: { TCP: 'yes', UDP: 'yes', ICMP: 'yes', ICMPv6: 'yes', SCTP: 'n-a', 'raw IP': 'yes' } }
          : c.id === 'encryption'
            ? { ...c, claimed: 'yes' }
            : c,
      ),
    }),
    design('bridge-local', [20], [8, 6], {
      sameHost: true,
      checks: checks({ isolation: 'yes', names: 'yes' }).map((c) =>
        c.id === 'isolation' ? { ...c, mechanism: 'separate networks (CIDR)' } : c,
      ),
    }),
  ],
  totalMs: 61_000,
};
