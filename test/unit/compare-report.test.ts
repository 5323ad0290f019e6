/**
 * The compare report builder on a fixed compare.json: the seed table's cells, the numbers each
 * plot draws, and what the Markdown, SVG and HTML files contain. Pure: no lab, no browser.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { DesignResult } from '../../src/lab/compare/compare-types.js';
import { design, REPORT } from './compare-fixture.js';
import { seedTable } from '../../src/lab/compare/report/seed-table.js';
import { plotData } from '../../src/lab/compare/report/plot-data.js';
import { buildReport } from '../../src/lab/compare/report/build-report.js';
import { failureRow, measurementRow, timeHeader, timeRow } from '../../src/lab/compare/report/measurement-table.js';
import { outages, switchCut } from '../../src/lab/compare/measure-failure.js';
import { ALONE, LANES } from '../../src/lab/compare/checks/run-checks.js';
import { runCompare } from '../../src/lab/compare/run-compare.js';
import { WeftError } from '../../src/errors.js';
import { modeArgs, modeKey } from '../../src/lab/compare/weftd-mode.js';

describe('compare report builder', () => {
  it("lays out the seed's table with one measured column per design", () => {
    const t = seedTable(REPORT.designs);
    assert.deepEqual(t.header, [
      '',
      'Calico (seed)',
      'Flannel (seed)',
      'Weave (seed)',
      'Docker Overlay Network (seed)',
      'veth',
      'bridge-local',
    ]);
    assert.equal(t.rows.length, 10);
    const row = (label: string) => t.rows.find((r) => r[0] === label)!;
    assert.deepEqual(row('Network Model').slice(5), ['veth model', 'bridge-local model']);
    assert.deepEqual(row('Protocol Support'), [
      'Protocol Support',
      'TCP, UDP, ICMP & ICMPv6',
      'ALL',
      'ALL',
      'ALL',
      'TCP, UDP, ICMP, ICMPv6, raw IP; untestable: SCTP',
      'no',
    ]);
    assert.deepEqual(row('Application Isolation').slice(5), ['no', 'yes: separate networks (CIDR)']);
    assert.deepEqual(row('Name Service').slice(1), ['No', 'No', 'Yes', 'No', 'no', 'yes']);
    // A claim the experiment contradicts is flagged, never copied.
    assert.equal(row('Encryption Channel')[5], 'no ⚠ claimed yes');
  });

  it('gives each plot the medians, spreads and CDF points of the data', () => {
    const p = plotData(REPORT);
    assert.deepEqual(
      p.throughput.groups.map((g) => [g.design, g.bars.map((b) => [b.series, b.value, b.min, b.max])]),
      [
        [
          'veth',
          [
            ['1 stream', 11, 10, 12],
            ['4 streams', 22, 20, 24],
          ],
        ],
        [
          'bridge-local',
          [
            ['1 stream', 20, 20, 20],
            ['4 streams', 40, 40, 40],
          ],
        ],
      ],
    );
    assert.deepEqual(
      p.latency.groups[0]!.bars.map((b) => [b.series, b.value]),
      [
        ['p50', 21],
        ['p99', 85],
      ],
    );
    assert.deepEqual(
      p.cpu.groups[1]!.bars.map((b) => b.series),
      ['sender', 'receiver', 'machine'],
    );
    assert.deepEqual(p.convergence.series[0], {
      design: 'veth',
      points: [
        [1, 0.2],
        [2, 0.4],
        [3, 0.6],
        [4, 0.8],
        [5, 1],
      ],
    });
    assert.deepEqual(p.convergence.series[1]!.points, [
      [6, 0.5],
      [8, 1],
    ]);
  });

  it('writes the measurement row with medians and spreads', () => {
    const r = measurementRow(REPORT.designs[0]!);
    assert.equal(r[0], 'veth');
    assert.equal(r[2], '11.0 (10.0–12.0)');
    assert.equal(r[9], '3.00 / 5.00');
    assert.equal(r[r.length - 1], 'ok');
  });

  it('builds every file: Markdown table, one SVG per plot with its marks, a self-contained HTML', () => {
    const files = buildReport(REPORT);
    assert.deepEqual(Object.keys(files).sort(), [
      'compare.html',
      'compare.md',
      'plots/convergence.svg',
      'plots/cpu.svg',
      'plots/latency.svg',
      'plots/throughput.svg',
      'plots/topology.svg',
    ]);
    const md = files['compare.md']!;
    assert.match(md, /^\| Name Service \| No \| No \| Yes \| No \| no \| yes \|$/m);
    assert.match(md, /!\[convergence\]\(plots\/convergence\.svg\)/);
    const tp = files['plots/throughput.svg']!;
    assert.equal((tp.match(/<rect class="bar"/g) ?? []).length, 4);
    assert.match(tp, /data-design="veth" data-series="1 stream" data-value="11"/);
    assert.equal((files['plots/convergence.svg']!.match(/<path class="cdf"/g) ?? []).length, 2);
    const topo = files['plots/topology.svg']!;
    assert.equal((topo.match(/class="node"/g) ?? []).length, 4); // e1 + 3 hosts
    assert.equal((topo.match(/class="endpoint"/g) ?? []).length, 4);
    const html = files['compare.html']!;
    for (const d of ['veth', 'bridge-local']) assert.match(html, new RegExp(`<tr data-design="${d}">`));
    for (const p of ['throughput', 'latency', 'convergence', 'cpu', 'topology'])
      assert.match(html, new RegExp(`<figure data-plot="${p}">`));
    assert.doesNotMatch(html, /<script|<link |src="http|href="http/);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
  });

  it('shows a failed design as failed, with no invented numbers', () => {
    const failed: DesignResult = { ...design('overlay', [], []), status: 'failed', error: 'driver missing', checks: [] };
    delete failed.throughput;
    delete failed.latency;
    delete failed.cpu;
    delete failed.convergence;
    const r = { ...REPORT, designs: [...REPORT.designs, failed] };
    assert.equal(seedTable(r.designs).rows[3]![7], 'not run (design failed)');
    assert.equal(plotData(r).throughput.groups.length, 2);
    assert.equal(measurementRow(failed)[2], '–');
    assert.match(measurementRow(failed).at(-1)!, /failed: driver missing/);
  });

  it('reports failure behaviour per fault, and an experiment that broke as such (no figure)', () => {
    const d: DesignResult = {
      ...design('mesh', [1], [1]),
      failures: [
        { kind: 'weftd-restart', fault: 'k', faultMs: 900, broke: true, downMs: 1200, recoveredAfterRepairMs: 300, evidence: 'e' },
        { kind: 'link-cut', fault: 'c', faultMs: 8000, broke: false, downMs: 0, recoveredAfterRepairMs: 0, evidence: 'e' },
        {
          kind: 'store-outage',
          fault: 's',
          faultMs: 0,
          broke: false,
          downMs: 0,
          recoveredAfterRepairMs: null,
          failed: true,
          evidence: 'no store',
        },
      ],
    };
    assert.deepEqual(failureRow(d), [
      'mesh',
      'down 1200 ms; back 300 ms after the repair',
      'experiment failed: no store',
      'traffic never stopped',
    ]);
    assert.deepEqual(failureRow(REPORT.designs[0]!).slice(1), ['–', '–', '–']);
    const withSteps = { ...d, stepsMs: { setup: 2500, checks: 10_000 }, durationMs: 12_500 };
    const h = timeHeader([withSteps]);
    assert.deepEqual(h, ['design', 'setup', 'checks', 'total s']);
    assert.deepEqual(timeRow(withSteps, h), ['mesh', '2.50', '10.0', '12.5']);
    assert.match(buildReport({ ...REPORT, designs: [withSteps] })['compare.md']!, /down 1200 ms; back 300 ms after the repair/);
  });

  it("reads the recovery prober's transitions into outages after the fault", () => {
    const lines = ['up 100', 'down 150', 'up 180', 'down 1000', 'up 1400', 'down 2000'];
    assert.deepEqual(outages(lines, 900), [{ down: 1000, up: 1400 }, { down: 2000 }]);
    assert.deepEqual(outages(['up 5'], 0), []);
  });

  it('gives each weftd mode its flags (mesh peers are the other hosts; a password only when encrypted)', () => {
    const hosts = [
      { name: 'h1', address: '198.18.0.11' },
      { name: 'h2', address: '198.18.0.12' },
    ];
    assert.deepEqual(modeArgs({ store: true, bgp: true }, 'h1', hosts, '/pw'), ['--bgp', '--policy']);
    const mesh = modeArgs({ store: false, mesh: 'encrypted' }, 'h2', hosts, '/pw');
    assert.deepEqual(mesh, [
      '--mesh-name',
      'h2',
      '--mesh-listen',
      '198.18.0.12',
      '--mesh-ipalloc-init',
      'seed=h1,h2',
      '--mesh-peer',
      '198.18.0.11',
      '--mesh-password-file',
      '/pw',
    ]);
    assert.equal(modeKey({ store: false, mesh: 'plain' }), 'nostore+mesh-plain');
  });

  it("cuts an l2 underlay in the switch, between the two hosts' ports only", () => {
    assert.equal(
      switchCut('c2cut', 'v-h1', 'v-h2'),
      'table bridge c2cut {\n chain cut { type filter hook forward priority -200; policy accept; iifname "v-h1" oifname "v-h2" drop; iifname "v-h2" oifname "v-h1" drop; }\n}\n',
    );
  });

  it("runs the checks that disturb the lab alone, the network on the hosts' subnet last", () => {
    assert.deepEqual(ALONE, ['store', 'partial', 'subnet-restriction']);
    for (const lane of LANES) for (const id of lane) assert.ok(!ALONE.includes(id), id);
  });

  it('refuses a lab prefix that leaves no room for its random tag, before making anything', async () => {
    for (const labPrefix of ['toolong', '2ab', 'C2', ''])
      await assert.rejects(
        runCompare({ hosts: 3, designs: ['veth'], out: '/nonexistent', quick: true, labPrefix }),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT' && e.field === 'lab-prefix',
        labPrefix,
      );
  });
});
