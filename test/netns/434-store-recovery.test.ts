/**
 * Every host keeps (or gets back) its cluster store, on a 3-host lab (l2, one real etcd):
 *  - a hostsubnet network on the lab's own underlay subnet is refused on every host with a
 *    typed error and nothing routed. lab compare's subnet-restriction check used to create one:
 *    a host leased 198.18.0.192/26, every host routed it into the VXLAN, and with it etcd's
 *    198.18.0.201 — their etcd clients then failed ("circuit breaker is open") until the end of
 *    the run, which looked like a client that never recovers after an outage;
 *  - etcd killed (8 s, 20 s with WEFT_LONG=1) while every host runs a stream of store calls
 *    (global creates and deletes, host and network lists) over its live watches: cluster calls
 *    fail with WEFT_STORE_UNAVAILABLE within 5 s, local-scope work goes on, and once etcd is back
 *    every host answers GET /v1/hosts within a few seconds, sees a network created after the
 *    return (its watches resumed), and all hosts list the same global networks (nothing
 *    half-made by the calls that failed).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { labClient, sleep, until } from '../../src/lab/lab-tools.js';
import { WeftError } from '../../src/errors.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';

process.env.WEFT_TEST_DRIVERS = '1'; // the lab's weftds inherit it: cluster-null is registered
const HOSTS = ['h1', 'h2', 'h3'];
const OUTAGE_MS = process.env.WEFT_LONG === '1' ? 20_000 : 8000;
/** How soon after etcd answers again every host must read the store (the compare waited 60 s in vain). */
const BACK_BOUND_MS = 10_000;
const client = (lab: ClusterLab, h: string, timeoutMs = 8000) => labClient(lab, h, timeoutMs);
const codeOf = (err: unknown) => (err instanceof WeftError ? err.code : String(err));

const globalNames = async (lab: ClusterLab, h: string): Promise<string[]> =>
  (await client(lab, h).request<NetworkInspect[]>('GET', '/v1/networks'))
    .filter((n) => n.Scope === 'global')
    .map((n) => n.Name)
    .sort();

describe('the cluster store stays reachable and comes back (3-host lab, l2, one etcd)', { timeout: 600_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({ hosts: 3, underlay: 'l2', name: `sf${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await lab?.down();
  });

  it('a hostsubnet network over the underlay is refused on every host, and no host loses the store', async () => {
    const etcdIp = lab.state.etcd[0]!.ip;
    const routeToEtcd = async (h: string) => (await lab.exec(h, ['ip', '-4', 'route', 'get', etcdIp])).stdout.split('\n')[0]!;
    const before = new Map<string, string>();
    for (const h of HOSTS) before.set(h, await routeToEtcd(h));
    const underlay = lab.host('h1').address.split('.').slice(0, 3).join('.') + '.0/24';
    for (const h of HOSTS) {
      await assert.rejects(
        client(lab, h, 30_000).request('POST', '/v1/networks', {
          name: 'sfunder',
          driver: 'hostsubnet',
          ipam: { config: [{ subnet: underlay }] },
          options: { backend: 'vxlan', vni: '103' },
        }),
        (err: unknown) => {
          assert.ok(err instanceof WeftError, String(err));
          assert.equal(err.code, 'WEFT_INVALID_ARGUMENT', err.message);
          assert.match(err.message, /underlay/);
          return true;
        },
        `${h}: a hostsubnet network on ${underlay} must be refused`,
      );
    }
    for (const h of HOSTS) {
      assert.equal(await routeToEtcd(h), before.get(h), `${h}: the route to etcd is unchanged`);
      assert.deepEqual(
        (await client(lab, h).request<NetworkInspect[]>('GET', '/v1/networks')).filter((n) => n.Name === 'sfunder'),
        [],
        `${h}: nothing left of the refused network`,
      );
      await client(lab, h, 5000).request('GET', '/v1/hosts');
    }
  });

  it(`etcd killed ${OUTAGE_MS / 1000} s under a stream of store calls: bounded errors, local work, every host back without a restart`, async () => {
    const pids = HOSTS.map((h) => lab.host(h).pid);
    let running = true;
    const calls = { ok: 0, failed: new Map<string, number>() };
    // Several callers per host, so calls are in flight on every client when etcd dies and returns.
    const loop = async (h: string, k: number) => {
      for (let i = 0; running; i++) {
        const c = client(lab, h);
        try {
          if (i % 3 === 0) await c.request('GET', '/v1/hosts');
          else if (i % 3 === 1) await c.request('GET', '/v1/networks');
          else {
            const name = `sfl-${h}-${k}-${i}`;
            await c.request('POST', '/v1/networks', {
              name,
              driver: 'cluster-null',
              ipam: { config: [{ subnet: `10.${100 + k}.${i % 250}.0/24` }] },
            });
            await c.request('DELETE', `/v1/networks/${name}`);
          }
          calls.ok++;
        } catch (err) {
          calls.failed.set(codeOf(err), (calls.failed.get(codeOf(err)) ?? 0) + 1);
          await sleep(50);
        } finally {
          c.close();
        }
      }
    };
    const loops = HOSTS.flatMap((h) => [0, 1, 2].map((k) => loop(h, HOSTS.indexOf(h) * 3 + k)));
    try {
      await sleep(2000);
      assert.ok(calls.ok > 0, 'store calls work before the outage');
      const e1 = lab.state.etcd[0]!.name;
      await lab.kill(e1);
      const tKill = Date.now();
      try {
        // A cluster call fails clearly and in bounded time on every host.
        for (const h of HOSTS) {
          const t0 = Date.now();
          await assert.rejects(
            client(lab, h).request('POST', '/v1/networks', {
              name: `sfout-${h}`,
              driver: 'cluster-null',
              ipam: { config: [{ subnet: '10.99.0.0/24' }] },
            }),
            (err: unknown) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE',
          );
          assert.ok(Date.now() - t0 <= 5500, `${h}: refused after ${Date.now() - t0} ms`);
        }
        // Local-scope work does not need the store. (Creating even a local network does: its name
        // must not clash with a global one.)
        const local = await client(lab, 'h2').request<SandboxView>('POST', '/v1/sandboxes', {
          name: 'sflocal',
          networks: [{ network: 'bridge' }],
        });
        assert.match(local.endpoints[0]!.ipv4 ?? '', /^\d+\.\d+\.\d+\.\d+\/\d+$/, 'a local attach works while etcd is away');
        await client(lab, 'h2').request('DELETE', '/v1/sandboxes/sflocal');
        await sleep(Math.max(0, OUTAGE_MS - (Date.now() - tKill)));
      } finally {
        await lab.start(e1);
      }
      const tBack = Date.now();
      const backMs: string[] = [];
      for (const h of HOSTS) {
        await until(
          `${h} reads the store again`,
          () => client(lab, h, 5000).request('GET', '/v1/hosts'),
          BACK_BOUND_MS - (Date.now() - tBack),
        );
        backMs.push(`${h} ${Date.now() - tBack} ms`);
      }
      const okBefore = calls.ok;
      await sleep(1500);
      assert.ok(calls.ok > okBefore, 'the callers work again');
      running = false;
      await Promise.all(loops);
      // Watches resumed: a network made now reaches every host.
      await client(lab, 'h1').request('POST', '/v1/networks', {
        name: 'sfafter',
        driver: 'cluster-null',
        ipam: { config: [{ subnet: '10.98.0.0/24' }] },
      });
      for (const h of HOSTS)
        await until(`${h} sees sfafter`, async () => ((await globalNames(lab, h)).includes('sfafter') ? true : undefined), 10_000);
      // Nothing half-made: the hosts agree on the global networks, and none of the refused ones exists.
      const lists = await until(
        'every host lists the same global networks',
        async () => {
          const l = await Promise.all(HOSTS.map((h) => globalNames(lab, h)));
          return l.every((x) => JSON.stringify(x) === JSON.stringify(l[0])) ? l : undefined;
        },
        10_000,
        200,
      );
      assert.deepEqual(
        lists[0]!.filter((n) => n.startsWith('sfout-')),
        [],
        'no network refused during the outage exists',
      );
      assert.deepEqual(
        HOSTS.map((h) => lab.host(h).pid),
        pids,
        'no weftd was restarted',
      );
      console.log(
        `store recovery: etcd away ${tBack - tKill} ms; back on ${backMs.join(', ')} after etcd answered; ` +
          `calls ok ${calls.ok}, failed ${JSON.stringify(Object.fromEntries(calls.failed))}`,
      );
    } finally {
      running = false;
      await Promise.all(loops);
    }
  });
});
