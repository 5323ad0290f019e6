/**
 * `weft lab compare` end to end on 3 lab hosts with the two designs main has: the veth wire
 * reference and weft's bridge (same host). Quick mode. The first assertion checks that the
 * designs ran; then the numbers are real (positive, finite), the checks found what these two
 * designs are (cleartext on a wire, every protocol the kernel has, names only where weft's
 * DNS serves them), the files are written, and the lab is gone afterwards.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCompare } from '../../src/lab/compare/run-compare.js';
import type { CheckId, CompareReport, DesignResult } from '../../src/lab/compare/compare-types.js';
import { run } from '../../src/lab/sim-host.js';

const out = mkdtempSync(path.join(tmpdir(), 'weft-cmp-test-'));
const check = (d: DesignResult, id: CheckId) => d.checks.find((c) => c.id === id)!;

describe('weft lab compare: veth and bridge-local on 3 hosts', { timeout: 1_200_000 }, () => {
  let report: CompareReport;
  after(() => rmSync(out, { recursive: true, force: true }));

  it('runs both designs and removes its lab', async () => {
    report = await runCompare({ hosts: 3, designs: ['veth', 'bridge-local'], out, quick: true });
    assert.deepEqual(
      report.designs.map((d) => [d.design, d.status, d.error ?? '']),
      [
        ['veth', 'ok', ''],
        ['bridge-local', 'ok', ''],
      ],
    );
    const ns = await run('ip', ['netns', 'list']);
    assert.doesNotMatch(ns.stdout, new RegExp(`wl-${report.lab.name}-`), 'lab namespaces left behind');
    assert.equal(existsSync(`/run/weft-lab/${report.lab.name}`), false);
  });

  it('measures real numbers', () => {
    for (const d of report.designs) {
      assert.ok(d.throughput!.oneStream.median > 0.05, `${d.design} throughput ${d.throughput!.oneStream.median}`);
      assert.ok(d.latency!.p50.median > 0 && d.latency!.p99.median >= d.latency!.p50.median, `${d.design} latency`);
      assert.ok(d.cpu!.senderPerGbit.median > 0, `${d.design} sender cpu`);
      assert.equal(d.convergence!.failures, 0, `${d.design} convergence failures`);
      assert.equal(d.convergence!.samplesMs.length, 5);
    }
    const bridge = report.designs[1]!;
    assert.ok(bridge.memory && bridge.memory.endpoints === 3, 'weftd memory measured for bridge-local');
    assert.equal(report.designs[0]!.memory, undefined, 'veth has no daemon');
  });

  it('checks each row by experiment', () => {
    const [veth, bridge] = report.designs as [DesignResult, DesignResult];
    for (const d of [veth, bridge]) {
      const p = check(d, 'protocols').protocols!;
      assert.deepEqual(
        [p.TCP, p.UDP, p.ICMP, p.ICMPv6, p['raw IP']],
        ['yes', 'yes', 'yes', 'yes', 'yes'],
        `${d.design}: ${check(d, 'protocols').evidence}`,
      );
      assert.equal(check(d, 'store').outcome, 'no', `${d.design}: ${check(d, 'store').evidence}`);
      for (const c of d.checks) assert.ok(!c.failed, `${d.design} ${c.id} experiment failed: ${c.evidence}`);
    }
    assert.equal(check(veth, 'encryption').outcome, 'no', check(veth, 'encryption').evidence); // the marker is on the wire
    assert.equal(check(veth, 'names').outcome, 'no');
    assert.equal(check(veth, 'partial').outcome, 'n-a');
    assert.equal(check(bridge, 'names').outcome, 'yes', check(bridge, 'names').evidence);
    assert.equal(check(bridge, 'encryption').outcome, 'n-a', check(bridge, 'encryption').evidence); // never leaves the host
    assert.equal(check(bridge, 'vnic').outcome, 'no');
    assert.equal(check(bridge, 'isolation').outcome, 'yes', check(bridge, 'isolation').evidence);
  });

  it('writes compare.json, compare.md, compare.html and the plots', () => {
    for (const f of [
      'compare.json',
      'compare.md',
      'compare.html',
      ...['throughput', 'latency', 'convergence', 'cpu', 'topology'].map((p) => `plots/${p}.svg`),
    ])
      assert.ok(existsSync(path.join(out, f)), f);
    const saved = JSON.parse(readFileSync(path.join(out, 'compare.json'), 'utf8')) as CompareReport;
    assert.equal(saved.designs.length, 2);
    assert.match(readFileSync(path.join(out, 'compare.md'), 'utf8'), /\| Name Service \| No \| No \| Yes \| No \| no \| yes \|/);
  });
});
