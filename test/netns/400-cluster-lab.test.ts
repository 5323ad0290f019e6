/**
 * The multi-host lab end to end: `weft lab up` builds simulated hosts with a weftd each, and
 * `weft host ls` inside every host (through WEFT_HOST, as `weft lab exec` sets it) shows the
 * cluster. l2 with one etcd: a killed host is marked down, then removed after the grace, and
 * rejoins with its stable id; etcd stopped (8 s, 20 s with WEFT_LONG=1): clear
 * WEFT_STORE_UNAVAILABLE within 5 s, then everything reconverges without a restart; bad
 * weftd input fails clearly and changes nothing (an unreachable etcd too, for a host that never
 * joined), while a member restarting with etcd away starts (cluster calls answer
 * WEFT_STORE_UNAVAILABLE; 435 shows the rest). l3 with a 3-member etcd: hosts in different
 * subnets behind routers, one etcd member killed and the cluster keeps working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { sleep, until } from '../../src/lab/lab-tools.js';
import { WEFTD, run } from '../../src/lab/sim-host.js';
import { WeftClient } from '../../src/cli/client.js';
import { WeftError } from '../../src/errors.js';
import type { HostInfo } from '../../src/cluster/cluster-agent.js';

// A child node must not think it is part of this test run (it would report to the runner instead).
const cleanEnv: NodeJS.ProcessEnv = { ...process.env };
delete cleanEnv.NODE_TEST_CONTEXT;
const outageMs = process.env.WEFT_LONG === '1' ? 20_000 : 8000;
const labName = (p: string) => `${p}${randomBytes(3).toString('hex')}`.slice(0, 8);

async function hostLs(lab: ClusterLab, h: string): Promise<HostInfo[]> {
  const r = await lab.weft(h, ['host', 'ls', '--format', 'json']);
  if (r.code !== 0) throw new Error(`weft host ls on ${h}: ${r.stderr}`);
  // One JSON object per line, as `docker node ls --format json`.
  return r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as HostInfo);
}

describe('cluster lab, l2 underlay, one etcd', { timeout: 240_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({
      hosts: 3,
      underlay: 'l2',
      name: labName('ssc'),
      weftdArgs: ['--host-ttl-ms', '2000', '--host-grace-ms', '5000'],
    });
  });
  after(async () => lab?.down());

  it('every host lists all three up, with its own address from the default route', async () => {
    for (const h of ['h1', 'h2', 'h3']) {
      const hosts = await until(`3 up on ${h}`, async () => {
        const l = await hostLs(lab, h);
        return l.length === 3 && l.every((x) => x.state === 'up') ? l : undefined;
      });
      assert.deepEqual(
        hosts.map((x) => [x.name, x.address]),
        [
          ['h1', '198.18.0.11'],
          ['h2', '198.18.0.12'],
          ['h3', '198.18.0.13'],
        ],
      );
      assert.equal(hosts.find((x) => x.self)?.name, h);
    }
    const table = await lab.weft('h1', ['host', 'ls']);
    assert.match(table.stdout, /^ID\s+NAME\s+ADDRESS\s+STATE\s+LAST SEEN\s+ENDPOINTS/);
    const inspect = JSON.parse((await lab.weft('h2', ['host', 'inspect', 'h3'])).stdout) as HostInfo[];
    assert.equal(inspect[0]?.address, '198.18.0.13');
  });

  it('a killed host is marked down by the others, removed after the grace, and rejoins with its id', async () => {
    const idOf3 = (await hostLs(lab, 'h1')).find((x) => x.name === 'h3')!.id;
    const t0 = Date.now();
    await lab.kill('h3');
    for (const h of ['h1', 'h2']) {
      await until(
        `h3 down on ${h}`,
        async () => ((await hostLs(lab, h)).find((x) => x.name === 'h3')?.state === 'down' ? true : undefined),
        15_000,
      );
    }
    const down = Date.now() - t0;
    for (const h of ['h1', 'h2'])
      await until(`h3 gone on ${h}`, async () => ((await hostLs(lab, h)).some((x) => x.name === 'h3') ? undefined : true), 20_000);
    const gone = Date.now() - t0;
    console.log(`lab: h3 killed → down on h1,h2 within ${down} ms (TTL 2 s) → gone within ${gone} ms (grace 5 s)`);
    assert.ok(gone >= 5000, `removed after ${gone} ms, before the grace`);
    for (const h of ['h1', 'h2'])
      assert.match(readFileSync(lab.host(h).log, 'utf8'), /"msg":"hostGone".*"name":"h3"|"name":"h3".*"msg":"hostGone"/);
    await lab.start('h3');
    const back = await until('h3 back', async () => (await hostLs(lab, 'h1')).find((x) => x.name === 'h3' && x.state === 'up'));
    assert.equal(back.id, idOf3, 'same host id after a restart (kept in its state dir)');
  });

  it('bad weftd input fails clearly and changes nothing', async () => {
    const before = (await hostLs(lab, 'h1')).map((x) => `${x.id}:${x.state}`);
    const dir = mkdtempSync('/tmp/weft-lab-bad-');
    const id1 = (await hostLs(lab, 'h1')).find((x) => x.name === 'h1')!.id;
    let nsMade: string | undefined;
    const weftd = async (args: string[]) => {
      const t0 = Date.now();
      const r = await run(
        'nsenter',
        [
          `--net=/run/netns/${lab.host('h3').ns}`,
          process.execPath,
          WEFTD,
          '--state-dir',
          `${dir}/s${randomBytes(2).toString('hex')}`,
          '--run-dir',
          `${dir}/r`,
          '--firewall',
          'none',
          '--docker-plugin-socket',
          '',
          ...args,
        ],
        { timeoutMs: 20_000, env: cleanEnv },
      );
      return { ...r, ms: Date.now() - t0 };
    };
    try {
      const cases: [string[], RegExp][] = [
        [['--cluster-store', 'etcd://198.18.0.201:99999'], /cluster-store: port .{0,2}99999/],
        [['--cluster-store', 'http://198.18.0.201:2379'], /not an etcd URL/],
        [['--cluster-store', lab.state.etcdUrl!, '--host-id', 'Bad_Id'], /not a valid host id/],
        [
          ['--cluster-store', lab.state.etcdUrl!, '--advertise-addr', '10.9.9.9'],
          /advertise-addr: 10\.9\.9\.9 is not an address of this host/,
        ],
        [['--host-grace-ms', '1000'], /host-grace-ms needs --cluster-store/],
        [
          ['--cluster-store', lab.state.etcdUrl!, '--host-id', id1, '--run-dir', `${dir}/r2`],
          /host id .* is already registered by a live host at 198\.18\.0\.11/,
        ],
        // A host that never joined: an unreachable store is a misconfiguration, refused.
        [
          ['--cluster-store', 'etcd://198.18.0.250:2379', '--run-dir', `${dir}/r3`],
          /WEFT_STORE_UNAVAILABLE|cannot reach the cluster store/,
        ],
      ];
      for (const [args, re] of cases) {
        const r = await weftd(args);
        assert.notEqual(r.code, 0, args.join(' '));
        assert.match(r.stderr, re, args.join(' '));
        if (args.includes('etcd://198.18.0.250:2379')) {
          // weftd joins the cluster before it touches anything else: from its first log line to the error ≤ 5 s.
          const times = r.stderr
            .split('\n')
            .filter((l) => l.startsWith('{'))
            .map((l) => Date.parse((JSON.parse(l) as { time: string }).time));
          console.log(`lab: unreachable etcd refused after ${r.ms} ms of weftd run time`);
          assert.ok(times.length >= 2 && times[times.length - 1]! - times[0]! <= 5500, 'error within 5 s of starting to join');
        }
      }
      // A member (its state directory says it joined before) restarting while the store is away
      // is an outage, not bad input: weftd starts with its local scope (as dockerd with its KV
      // store away) and says plainly that cluster operations wait for the store (435 shows the
      // rest). In a namespace of its own (this weftd makes a default bridge and reconciles): an
      // underlay address, a default route, and no etcd behind it.
      mkdirSync(`${dir}/s3`, { recursive: true });
      writeFileSync(`${dir}/s3/cluster-joined.json`, JSON.stringify({ hostId: 'h-away', store: 'etcd://198.18.0.250:2379' }));
      const ns = `ss-away-${randomBytes(2).toString('hex')}`;
      await run('ip', ['netns', 'add', ns]);
      nsMade = ns;
      for (const args of [
        ['link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth1'],
        ['link', 'set', 'eth0', 'up'],
        ['link', 'set', 'eth1', 'up'],
        ['addr', 'add', '198.18.99.1/24', 'dev', 'eth0'],
        ['route', 'add', 'default', 'via', '198.18.99.254'],
      ]) {
        const r = await run('ip', ['-n', ns, ...args]);
        assert.equal(r.code, 0, `ip ${args.join(' ')}: ${r.stderr}`);
      }
      const socket = `${dir}/r3/weft.sock`;
      const child = spawn(
        'nsenter',
        [
          `--net=/run/netns/${ns}`,
          process.execPath,
          WEFTD,
          ...['--state-dir', `${dir}/s3`, '--run-dir', `${dir}/r3`, '--firewall', 'none', '--docker-plugin-socket', ''],
          ...['--cluster-store', 'etcd://198.18.0.250:2379'],
        ],
        { stdio: ['ignore', 'ignore', 'pipe'], env: cleanEnv },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      const c = new WeftClient(socket, 5000);
      try {
        const t0 = Date.now();
        await until('weftd answers with etcd unreachable', () => c.request('GET', '/v1/info'), 20_000);
        console.log(`lab: weftd with an unreachable etcd answered on its socket after ${Date.now() - t0} ms`);
        await assert.rejects(
          c.request('GET', '/v1/hosts'),
          (err: unknown) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
        );
        assert.match(stderr, /cluster store unreachable at start/);
      } finally {
        c.close();
        child.kill('SIGTERM');
        const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout' as const)]);
        if (code === 'timeout') child.kill('SIGKILL');
        assert.equal(code, 0, `weftd stopped on SIGTERM: ${stderr.slice(-500)}`);
      }
    } finally {
      if (nsMade) await run('ip', ['netns', 'del', nsMade]);
      rmSync(dir, { recursive: true, force: true });
    }
    assert.deepEqual(
      (await hostLs(lab, 'h1')).map((x) => `${x.id}:${x.state}`),
      before,
      'the cluster is unchanged',
    );
  });

  it(`etcd stopped for ${outageMs / 1000} s: clear errors within 5 s, then everything reconverges without a restart`, async () => {
    const before = await hostLs(lab, 'h1');
    const logStart = new Map(['h1', 'h2', 'h3'].map((h) => [h, readFileSync(lab.host(h).log).length]));
    await lab.kill('e1');
    const t0 = Date.now();
    const r = await lab.weft('h2', ['host', 'ls']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /WEFT_STORE_UNAVAILABLE/);
    assert.ok(Date.now() - t0 < 6500, `failed after ${Date.now() - t0} ms`);
    await sleep(Math.max(0, outageMs - (Date.now() - t0)));
    await lab.start('e1');
    const t1 = Date.now();
    for (const h of ['h1', 'h2', 'h3']) {
      await until(`${h} answers with 3 up`, async () => {
        const l = await hostLs(lab, h);
        return l.length === 3 && l.every((x) => x.state === 'up') ? l : undefined;
      });
    }
    console.log(`lab: etcd down ${outageMs} ms; all hosts list 3 up ${Date.now() - t1} ms after it returned`);
    const afterLs = await hostLs(lab, 'h1');
    assert.deepEqual(
      afterLs.map((x) => [x.id, x.lease]),
      before.map((x) => [x.id, x.lease]),
      'same hosts, same leases: nobody re-registered from scratch',
    );
    for (const h of ['h1', 'h2', 'h3']) {
      assert.doesNotMatch(readFileSync(lab.host(h).log).subarray(logStart.get(h)).toString(), /"msg":"hostDown"/, `${h} saw no host down`);
    }
  });
});

describe('cluster lab, l3 underlay, 3-member etcd', { timeout: 240_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({ hosts: 3, underlay: 'l3', etcd: 3, name: labName('ssd') });
  });
  after(async () => lab?.down());

  it('hosts in different subnets behind routers see each other; one etcd member down changes nothing', async () => {
    for (const h of ['h1', 'h2', 'h3']) {
      const l = await until(`3 up on ${h}`, async () => {
        const x = await hostLs(lab, h);
        return x.length === 3 && x.every((y) => y.state === 'up') ? x : undefined;
      });
      assert.deepEqual(
        l.map((x) => x.address),
        ['198.18.1.11', '198.18.2.11', '198.18.1.12'],
      );
    }
    // Every host reached the etcd members in segment 0 through its ToR and the spine.
    const routes = await lab.exec('h2', ['ip', 'route', 'get', '198.18.0.202']);
    assert.match(routes.stdout, /via 198\.18\.2\.1 dev eth0/);
    await lab.kill('e2');
    await sleep(3000);
    for (const h of ['h1', 'h2', 'h3']) {
      const l = await hostLs(lab, h);
      assert.equal(l.filter((x) => x.state === 'up').length, 3, `${h} still sees 3 up with 2 of 3 etcd members`);
    }
    await lab.start('e2');
  });
});
