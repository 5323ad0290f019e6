/**
 * `weft lab compare` end to end on 3 lab hosts: the veth wire reference, weft's bridge (same
 * host) and hostsubnet:host-gw through weftd on every host (the cheapest multi-host design, so
 * the default run stays short). Quick mode. WEFT_LONG=1 adds every other design through weftd. The first assertion checks that the
 * designs ran; then the numbers are real (positive, finite), the checks found what these two
 * designs are (cleartext on a wire, every protocol the kernel has, names only where weft's
 * DNS serves them), the files are written, and the lab is gone afterwards.
 * WEFT_LAB_PREFIX (1-4 characters, default "cmt") starts the lab's name, so that people running
 * this beside each other tell their labs apart in `ip netns ls`.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runCompare } from '../../src/lab/compare/run-compare.js';
import type { CheckId, CompareReport, DesignResult } from '../../src/lab/compare/compare-types.js';
import { run } from '../../src/lab/sim-host.js';

const labPrefix = process.env.WEFT_LAB_PREFIX ?? 'cmt';
const out = mkdtempSync(path.join(tmpdir(), 'weft-cmp-test-'));
const check = (d: DesignResult, id: CheckId) => d.checks.find((c) => c.id === id)!;

describe('weft lab compare: veth, bridge-local and hostsubnet:host-gw on 3 hosts', { timeout: 1_200_000 }, () => {
  let report: CompareReport;
  after(() => rmSync(out, { recursive: true, force: true }));

  it('runs both designs and removes its lab', async () => {
    report = await runCompare({ hosts: 3, designs: ['veth', 'bridge-local', 'hostsubnet:host-gw'], out, quick: true, labPrefix });
    assert.deepEqual(
      report.designs.map((d) => [d.design, d.status, d.error ?? '']),
      [
        ['veth', 'ok', ''],
        ['bridge-local', 'ok', ''],
        ['hostsubnet:host-gw', 'ok', ''],
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
    for (const d of report.designs) assert.ok(d.stepsMs && d.stepsMs['setup']! > 0, `${d.design} step timings`);
  });

  it('measures failure behaviour of the weftd design (weftd restart, store outage), never a made-up figure', () => {
    const hs = report.designs[2]!;
    assert.deepEqual(
      hs.failures!.map((f) => f.kind),
      ['weftd-restart', 'store-outage'],
    );
    for (const f of hs.failures!) {
      assert.ok(!f.failed, `${f.kind}: ${f.evidence}`);
      assert.ok(f.faultMs > 0, `${f.kind} lasted ${f.faultMs} ms`);
      assert.notEqual(f.recoveredAfterRepairMs, null, `${f.kind}: traffic came back (${f.evidence})`);
    }
    assert.ok(hs.failures!.find((f) => f.kind === 'store-outage')!.faultMs >= 20_000);
    assert.deepEqual(report.designs[1]!.failures ?? [], [], 'bridge-local: no cross-host faults');
    const p = check(hs, 'protocols').protocols!;
    assert.deepEqual([p.TCP, p.UDP, p.ICMP], ['yes', 'yes', 'yes'], check(hs, 'protocols').evidence);
    assert.equal(check(hs, 'store').outcome, 'yes', check(hs, 'store').evidence);
    assert.equal(check(hs, 'encryption').outcome, 'no', check(hs, 'encryption').evidence);
    for (const c of hs.checks) assert.ok(!c.failed, `hostsubnet:host-gw ${c.id} experiment failed: ${c.evidence}`);
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
    assert.equal(saved.designs.length, 3);
    assert.match(readFileSync(path.join(out, 'compare.md'), 'utf8'), /\| Name Service \| No \| No \| Yes \| No \| no \| yes \|/);
  });
});

// Every other design through weftd, a few minutes each: on request (WEFT_LONG=1).
describe('weft lab compare: every design through weftd (WEFT_LONG=1)', { timeout: 3_600_000, skip: process.env.WEFT_LONG !== '1' }, () => {
  const longOut = mkdtempSync(path.join(tmpdir(), 'weft-cmp-long-'));
  after(() => rmSync(longOut, { recursive: true, force: true }));

  it('runs each design or says why it failed, with real numbers where it ran', async () => {
    const designs = [
      'overlay',
      'overlay:encrypted',
      'hostsubnet:vxlan',
      'hostsubnet:udp',
      'macvlan',
      'routed-bgp',
      'mesh',
      'mesh:encrypted',
    ];
    const r = await runCompare({ hosts: 3, designs, out: longOut, quick: true, labPrefix });
    assert.deepEqual(
      r.designs.map((d) => d.design),
      designs,
    );
    for (const d of r.designs) {
      if (d.status !== 'ok') {
        assert.ok(d.error && d.error.length > 0, `${d.design} failed without a reason`);
        continue;
      }
      assert.ok(d.throughput!.oneStream.median > 0.01, `${d.design} throughput`);
      assert.ok(d.failures && d.failures.length >= 1, `${d.design} failure behaviour`);
    }
    const mesh = r.designs.find((d) => d.design === 'mesh')!;
    if (mesh.status === 'ok') assert.equal(check(mesh, 'store').outcome, 'no', check(mesh, 'store').evidence);
    assert.equal(existsSync(`/run/weft-lab/${r.lab.name}`), false);
  });
});
