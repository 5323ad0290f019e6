/**
 * BGP started late, when the cluster store first answers, and failing then (BIRD does not come
 * up), on a 1-host lab (l2, one real etcd): h1's weftd restarted with etcd away and `--bgp`
 * whose BIRD is a wrapper that refuses to run until the test allows it:
 *  - before etcd returns: `GET /v1/info` shows BGP waiting for the store;
 *  - etcd started: the start fails, is logged with its error and retried with a growing delay
 *    (1 s, 2 s, …); meanwhile `GET /v1/info` shows it retrying, `weft doctor` reports it, and
 *    `GET /v1/bgp/peers` answers with that error;
 *  - BIRD allowed: a later attempt starts it — info says running, peers answer, doctor is clean.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { labClient, until } from '../../src/lab/lab-tools.js';
import { run } from '../../src/lab/sim-host.js';
import type { DoctorReport } from '../../src/controller/doctor.js';
import type { DeferredStatus } from '../../src/daemon/deferred-start.js';

/** Generous: BIRD allowed → running takes at most the backoff then in force (≤ 30 s) plus a start. */
const RUNNING_BOUND_MS = 45_000;

interface Info {
  cluster?: { store: string; services: DeferredStatus[] };
}

describe('deferred BGP start that fails when the store returns (1-host lab)', { timeout: 240_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({ hosts: 1, underlay: 'l2', name: `sf${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await lab?.down();
  });

  it('logged, retried with backoff, visible in info/doctor/bgp peers, running once BIRD can start', async () => {
    const h1 = lab.host('h1');
    const bird = (await run('sh', ['-c', 'command -v bird'])).stdout.trim();
    assert.ok(path.isAbsolute(bird), `bird installed: "${bird}"`);
    const allow = path.join(lab.state.dir, 'sf-bird-allowed');
    const wrapper = path.join(lab.state.dir, 'sf-bird');
    writeFileSync(wrapper, `#!/bin/sh\n[ -e '${allow}' ] || { echo 'sf: bird held back by the test' >&2; exit 1; }\nexec '${bird}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    const c = () => labClient(lab, 'h1', 8000);
    const info = () => c().request<Info>('GET', '/v1/info');
    const bgpOf = async () => (await info()).cluster?.services.find((s) => s.service === 'BGP');
    const bgpViolations = async () => (await c().request<DoctorReport>('GET', '/v1/doctor')).violations.filter((v) => /BGP/.test(v));

    await lab.kill('e1');
    await lab.kill('h1');
    h1.args = [...h1.args, '--bgp', '--bgp-bird', wrapper];
    const logFrom = readFileSync(h1.log).length;
    const logLines = () =>
      readFileSync(h1.log)
        .subarray(logFrom)
        .toString('utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { msg: string; err?: string; retryInMs?: number });
    await lab.start('h1'); // a member: starts with etcd away
    // (doctor itself answers WEFT_STORE_UNAVAILABLE while the store is away: it checks the global scope too)
    assert.equal((await bgpOf())?.state, 'waiting-for-store');

    await lab.start('e1');
    const failing = await until(
      'BGP failed twice',
      async () => {
        const s = await bgpOf();
        return s && s.failures >= 2 && s.state !== 'running' ? s : undefined;
      },
      30_000,
      100,
    );
    assert.match(failing.lastError ?? '', /held back by the test/);
    const v = await bgpViolations();
    assert.equal(v.length, 1, JSON.stringify(v));
    assert.match(v[0]!, /^BGP is not running: its start failed \d+ time\(s\).*held back by the test/);
    await assert.rejects(c().request('GET', '/v1/bgp/peers'), /BGP is not running.*held back/);
    const retries = logLines().filter((l) => /^BGP could not start after the cluster store answered; retrying/.test(l.msg));
    assert.ok(retries.length >= 2, `each failure logged: ${retries.length}`);
    assert.ok(
      retries.every((l) => /held back by the test/.test(l.err ?? '')),
      'logged with its error',
    );
    assert.deepEqual(
      retries.slice(0, 2).map((l) => l.retryInMs),
      [1000, 2000],
      'the delay doubles',
    );

    writeFileSync(allow, '');
    const running = await until(
      'BGP running',
      async () => {
        const s = await bgpOf();
        return s?.state === 'running' ? s : undefined;
      },
      RUNNING_BOUND_MS,
      200,
    );
    assert.equal(running.lastError, undefined);
    const peers = await c().request<unknown[]>('GET', '/v1/bgp/peers');
    assert.ok(Array.isArray(peers), 'BGP answers');
    assert.deepEqual(await bgpViolations(), [], 'doctor is clean once it runs');
    assert.ok(
      logLines().some((l) => /^BGP started after \d+ failed attempt/.test(l.msg)),
      'its start after failures is logged',
    );
    console.log(`deferred BGP: ${running.failures} failed attempts before BIRD was allowed and started`);
  });
});
