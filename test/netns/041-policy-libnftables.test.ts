/**
 * nft transactions in-process (libnftables through koffi, src/kernel/libnftables.ts), as weftd's
 * policy service applies them in its own namespace: run by a child process inside a namespace
 * this test makes. The table lands in that namespace (and nowhere else), a script is still one
 * transaction (a bad line refuses the whole script with nft's own message), and PolicyFirewall
 * uses this path by default and passes its drift check.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { REPO, deleteNetnsWithProcesses, mustRun, run } from '../../src/lab/sim-host.js';

const NS = `weft-t041-${randomBytes(3).toString('hex')}`;
const CHILD = path.join(REPO, 'dist/test/netns/nftlib-child.js');

interface ChildReport {
  inProcess: boolean;
  badScript: string;
  transport: string;
  policy: { full: boolean; second: { full: boolean; elementsAdded: number; rulesWritten: number } };
  check: { ok: boolean; problems: string[] };
}

describe('nft in-process through libnftables', { timeout: 60_000 }, () => {
  let report: ChildReport;
  before(async () => {
    await mustRun('ip', ['netns', 'add', NS]);
    const r = await run('nsenter', [`--net=/run/netns/${NS}`, process.execPath, CHILD], { timeoutMs: 30_000 });
    assert.equal(r.code, 0, `child failed: ${r.stderr}`);
    report = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as ChildReport;
  });
  after(async () => {
    await deleteNetnsWithProcesses([NS]);
  });

  it('is the path taken (libnftables loads on this machine)', () => {
    assert.equal(report.inProcess, true);
    assert.equal(report.transport, 'libnftables');
  });

  it('applies in the namespace of the process, and only there', async () => {
    const live = JSON.parse(
      await mustRun('nsenter', [`--net=/run/netns/${NS}`, 'nft', '-j', 'list', 'set', 'inet', 't041', 'members']),
    ) as {
      nftables: { set?: { elem?: string[] } }[];
    };
    const elems = live.nftables.find((o) => o.set)?.set?.elem ?? [];
    // 10.41.0.1 deleted by the third script; 10.41.0.3 never landed (its script was refused).
    assert.deepEqual(elems, ['10.41.0.2']);
    const here = await run('nft', ['list', 'table', 'inet', 't041']); // read-only look at this namespace
    assert.notEqual(here.code, 0, 'the table must not exist in the namespace the test runs in');
  });

  it('a script is one transaction: a bad line refuses all of it, with nft’s message', () => {
    assert.match(report.badScript, /^FirewallError: nft rejected the transaction \(nothing applied\): script:2:.*nosuchset/s);
  });

  it('PolicyFirewall applies whole, then incrementally, and its check passes', () => {
    assert.equal(report.policy.full, true);
    assert.deepEqual(report.policy.second, { full: false, elementsAdded: report.policy.second.elementsAdded, rulesWritten: 0 });
    assert.ok(report.policy.second.elementsAdded > 0);
    assert.deepEqual(report.check, { ok: true, problems: [] });
  });
});
