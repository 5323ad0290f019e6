/**
 * A member that restarts while its cluster store is away, and finds its host id held by
 * another live host when the store returns, on a 2-host lab (l2, one real etcd):
 *  - h1 dies and is reclaimed after the grace; h2 is then restarted as an impostor holding h1's
 *    id (`--host-id`, fresh state directory) and registers it;
 *  - etcd killed, h1's weftd started (it was a member: it starts and waits), etcd started:
 *    h1's weftd logs the same typed error a start with the store reachable gives
 *    (WEFT_CONFLICT, field host-id), once, does not retry, and exits — as that start does;
 *  - the impostor's registration stays as it was (its address, up), nothing taken over;
 *  - a start of h1 with etcd reachable is refused with the identical line (the comparison).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { pidAlive } from '../../src/lab/etcd-process.js';
import { labClient, sleep, until } from '../../src/lab/lab-tools.js';
import type { HostInfo } from '../../src/cluster/cluster-agent.js';

/** From etcd's return to h1's weftd gone (generous: the machine is shared). */
const EXIT_BOUND_MS = 20_000;

interface LogLine {
  level: string;
  msg: string;
  code?: string;
  field?: string;
}
const linesOf = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

describe('a duplicate host id met when the cluster store returns (2-host lab)', { timeout: 300_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({
      hosts: 2,
      underlay: 'l2',
      name: `sf${randomBytes(3).toString('hex')}`,
      weftdArgs: ['--host-ttl-ms', '2000', '--host-grace-ms', '3000'],
    });
  });
  after(async () => {
    await lab?.down();
  });

  it('refused once with the start-time error, no retries, nothing taken over, weftd exits', async () => {
    const h1 = lab.host('h1');
    const h2 = lab.host('h2');
    const id1 = (JSON.parse(readFileSync(path.join(h1.stateDir, 'host-id.json'), 'utf8')) as { id: string }).id;
    const hosts = (h: string) => labClient(lab, h, 8000).request<HostInfo[]>('GET', '/v1/hosts');
    await until('both hosts up', async () => ((await hosts('h2')).filter((x) => x.state === 'up').length === 2 ? true : undefined));

    // h1 dies and is reclaimed; h2 comes back as another host with h1's id.
    await lab.kill('h1');
    await until('h1 reclaimed after its grace', async () => ((await hosts('h2')).length === 1 ? true : undefined), 30_000);
    await lab.kill('h2');
    h2.stateDir = path.join(lab.state.dir, 'h2', 'state-impostor');
    // Its own default bridge: the previous weftd's weft0 (owned by a network of the old state) stays.
    h2.args = [...h2.args, '--host-id', id1, '--default-bridge-name', 'sfdup0', '--default-bridge-subnet', '172.29.0.0/16'];
    await lab.start('h2');
    const holder = await until('the impostor registered h1 id', async () => {
      const l = await hosts('h2');
      return l.length === 1 && l[0]!.id === id1 && l[0]!.state === 'up' ? l[0] : undefined;
    });
    assert.equal(holder.address, h2.address, 'the id is held at h2 address');

    // h1, a member, restarts while etcd is away: it starts and waits.
    await lab.kill('e1');
    const logFrom = readFileSync(h1.log).length;
    const logSince = (from: number) => readFileSync(h1.log).subarray(from).toString('utf8');
    await lab.start('h1');
    const pid = h1.pid!;
    await assert.rejects(hosts('h1'), /WEFT_STORE_UNAVAILABLE|unavailable/, 'global calls refused while etcd is away');

    await lab.start('e1');
    const tBack = Date.now();
    await until('h1 weftd exited', async () => (pidAlive(pid) ? undefined : true), EXIT_BOUND_MS, 100);
    const exitMs = Date.now() - tBack;
    const lines = linesOf(logSince(logFrom));
    const refusals = lines.filter((l) => l.code === 'WEFT_CONFLICT');
    assert.equal(refusals.length, 1, `logged once: ${JSON.stringify(refusals)}`);
    const refusal = refusals[0]!;
    assert.equal(refusal.level, 'error');
    assert.equal(refusal.field, 'host-id');
    assert.match(refusal.msg, new RegExp(`host id "${id1}" is already registered by a live host at ${h2.address.replace(/\./g, '\\.')}`));
    assert.deepEqual(
      lines.filter((l) => /recovery failed/.test(l.msg)).map((l) => l.msg),
      [],
      'not retried',
    );
    assert.ok(
      lines.some((l) => /^stopping/.test(l.msg)),
      'it stopped (networks stay up)',
    );

    // A few seconds later: the holder's registration is as it was.
    await sleep(3000);
    const after = await hosts('h2');
    assert.deepEqual(
      after.map((x) => [x.id, x.address, x.state]),
      [[id1, h2.address, 'up']],
      'nothing taken over',
    );

    // The same host started with etcd reachable: refused at start, with the identical line.
    const startFrom = readFileSync(h1.log).length;
    await assert.rejects(lab.start('h1'), /exited/);
    const atStart = linesOf(logSince(startFrom)).filter((l) => l.code === 'WEFT_CONFLICT');
    assert.deepEqual(
      atStart.map((l) => [l.level, l.field, l.msg]),
      [[refusal.level, refusal.field, refusal.msg]],
      'the same error as a refused start',
    );
    console.log(`duplicate host id after an outage: h1 weftd exited ${exitMs} ms after etcd started`);
  });
});
