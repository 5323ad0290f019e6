/**
 * weftd starts while its cluster store is unreachable (as dockerd starts with its KV store
 * away), on a 2-host lab (l2, one real etcd) with an overlay network and a sandbox on each host:
 *  - etcd killed, then h2's weftd killed and started again: it comes up (REST socket answers),
 *    local scope is fully usable (a bridge network and a sandbox on it), cluster calls answer
 *    WEFT_STORE_UNAVAILABLE within 5 s, and the store's absence is logged once, not per retry;
 *  - the cross-host flow between the two sandboxes keeps working throughout, and h2's endpoint
 *    keeps its kernel objects (same interface indexes): nothing was torn down because the store
 *    could not be read at start;
 *  - etcd started again: within BACK_BOUND_MS h2 is registered (both hosts up), its global
 *    network and endpoint are reconciled (it knows h1's endpoint as a peer, h1 still knows its
 *    endpoint), and a new global sandbox on h2 reaches h1's sandbox.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { labClient, peerEndpoints, sleep, until } from '../../src/lab/lab-tools.js';
import { run } from '../../src/lab/sim-host.js';
import { WeftError } from '../../src/errors.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';
import type { HostInfo } from '../../src/cluster/cluster-agent.js';

/** From etcd's return to h2 registered, reconciled and a new global sandbox reachable (generous: the machine is shared). */
const BACK_BOUND_MS = 20_000;
/** How long etcd stays away after h2's weftd is up again: long enough for several retries at the backoff's cap (2 s). */
const AWAY_AFTER_START_MS = 8000;
const client = (lab: ClusterLab, h: string, timeoutMs = 8000) => labClient(lab, h, timeoutMs);
const ip = (sb: SandboxView) => sb.endpoints[0]!.ipv4!.split('/')[0]!;

/** One ICMP echo from inside a sandbox's namespace. */
async function ping(from: SandboxView, to: string): Promise<boolean> {
  const r = await run('nsenter', [`--net=${from.netnsPath}`, 'busybox', 'ping', '-c', '1', '-W', '1', to], { timeoutMs: 5000 });
  return r.code === 0;
}

/** "<index>: eth0@if<peer index>" inside a sandbox: a re-made endpoint would have new indexes. */
async function linkIdentity(sb: SandboxView): Promise<string> {
  const r = await run('nsenter', [`--net=${sb.netnsPath}`, 'ip', '-o', 'link', 'show', 'dev', sb.endpoints[0]!.ifname]);
  assert.equal(r.code, 0, r.stderr);
  return /^\d+: [^:]+/.exec(r.stdout)![0];
}

describe('weftd starts while its cluster store is unreachable (2-host lab, overlay)', { timeout: 600_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({ hosts: 2, underlay: 'l2', name: `ss${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await lab?.down();
  });

  it('local scope at once, flows kept, global endpoints back when etcd returns', async () => {
    const net = await client(lab, 'h1', 30_000).request<NetworkInspect>('POST', '/v1/networks', {
      name: 'ssov',
      driver: 'overlay',
      ipam: { config: [{ subnet: '10.212.0.0/24' }] },
    });
    assert.deepEqual([net.Driver, net.Scope], ['overlay', 'global'], 'the global driver under test is the one active');
    await until('h2 knows ssov', () => client(lab, 'h2').request('GET', '/v1/networks/ssov'), 15_000);
    const mk = (h: string, name: string, network: string) =>
      client(lab, h, 30_000).request<SandboxView>('POST', '/v1/sandboxes', { name, networks: [{ network }] });
    const s1 = await mk('h1', 'ss1', 'ssov');
    const s2 = await mk('h2', 'ss2', 'ssov');
    await until('ss1 → ss2 over the overlay', async () => ((await ping(s1, ip(s2))) ? true : undefined), 20_000);
    const identity = await linkIdentity(s2);

    // The flow, probed all along: the longest run of lost echoes is reported.
    let probing = true;
    const probes = { ok: 0, lost: 0, longestGapMs: 0 };
    const prober = (async () => {
      let lastOk = Date.now();
      while (probing) {
        if (await ping(s1, ip(s2))) {
          probes.ok++;
          lastOk = Date.now();
        } else {
          probes.lost++;
          probes.longestGapMs = Math.max(probes.longestGapMs, Date.now() - lastOk);
        }
        await sleep(300);
      }
    })();
    try {
      const oldPid = lab.host('h2').pid;
      await lab.kill('e1');
      const tKill = Date.now();
      await lab.kill('h2');
      const logFrom = readFileSync(lab.host('h2').log).length;
      const logSince = () => readFileSync(lab.host('h2').log).subarray(logFrom).toString('utf8');
      const t0 = Date.now();
      await lab.start('h2'); // resolves once GET /v1/info answers (bounded: 30 s)
      const startMs = Date.now() - t0;
      assert.notEqual(lab.host('h2').pid, oldPid, 'a new weftd');

      // Local scope, at once.
      const info = await client(lab, 'h2').request<{ pid: number }>('GET', '/v1/info');
      assert.equal(info.pid, lab.host('h2').pid);
      const local = await client(lab, 'h2', 30_000).request<NetworkInspect>('POST', '/v1/networks', {
        name: 'sslocal',
        driver: 'bridge',
        ipam: { config: [{ subnet: '10.213.0.0/24' }] },
      });
      assert.equal(local.Scope, 'local');
      const l1 = await mk('h2', 'ssl1', 'sslocal');
      assert.match(l1.endpoints[0]!.ipv4 ?? '', /^10\.213\.0\.\d+\/24$/, 'a sandbox on a local network while etcd is away');
      const names = (await client(lab, 'h2').request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name);
      assert.ok(names.includes('sslocal') && names.includes('bridge'), `local networks listed: ${names.join(' ')}`);

      // Global scope: a clear, bounded refusal.
      for (const [what, call] of [
        ['host ls', () => client(lab, 'h2').request('GET', '/v1/hosts')],
        ['a global sandbox', () => mk('h2', 'ssrefused', 'ssov')],
      ] as const) {
        const t = Date.now();
        await assert.rejects(call(), (err: unknown) => err instanceof WeftError && err.code === 'WEFT_STORE_UNAVAILABLE', what);
        assert.ok(Date.now() - t <= 5500, `${what}: refused after ${Date.now() - t} ms`);
      }

      // The flow and h2's endpoint: untouched by a start without the store.
      await until('ss1 → ss2 after the restart', async () => ((await ping(s1, ip(s2))) ? true : undefined), 10_000);
      await until('ss2 → ss1 after the restart', async () => ((await ping(s2, ip(s1))) ? true : undefined), 10_000);
      assert.equal(await linkIdentity(s2), identity, "ss2's interface is the same kernel object");

      // Several retries later: the store's absence is said once, not once per retry.
      await sleep(AWAY_AFTER_START_MS);
      const msgs = logSince()
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => (JSON.parse(l) as { msg: string }).msg);
      const count = (re: RegExp) => msgs.filter((m) => re.test(m)).length;
      assert.equal(count(/^cluster store unreachable at start/), 1, 'said once at start');
      // Answers to the refused requests above are logged per request, not per retry.
      const aboutStore = msgs.filter((m) => m !== 'request failed' && /store|lease|recover/.test(m));
      assert.ok(aboutStore.length <= 3, `no log line per retry: ${JSON.stringify(aboutStore)}`);

      await client(lab, 'h2').request('DELETE', '/v1/sandboxes/ssl1');
      await client(lab, 'h2').request('DELETE', '/v1/networks/sslocal');

      await lab.start('e1');
      const tBack = Date.now();
      try {
        const both = await until(
          'h2 registered, both hosts up',
          async () => {
            const hs = await client(lab, 'h2', 5000).request<HostInfo[]>('GET', '/v1/hosts');
            return hs.length === 2 && hs.every((h) => h.state === 'up') ? hs : undefined;
          },
          BACK_BOUND_MS,
        );
        const registeredMs = Date.now() - tBack;
        assert.deepEqual(both.map((h) => h.name).sort(), ['h1', 'h2']);
        const idOf = (name: string) => both.find((h) => h.name === name)!.id; // inspect's Peers are keyed by host id
        await until(
          'h2 knows h1 endpoint as a peer, h1 still knows h2 one',
          async () =>
            (await peerEndpoints(client(lab, 'h2'), 'ssov')).get(idOf('h1')) === 1 &&
            (await peerEndpoints(client(lab, 'h1'), 'ssov')).get(idOf('h2')) === 1
              ? true
              : undefined,
          BACK_BOUND_MS - (Date.now() - tBack),
        );
        await until(
          'h2 log: global scope reconciled',
          async () => (/global networks and endpoints reconciled/.test(logSince()) ? true : undefined),
          BACK_BOUND_MS - (Date.now() - tBack),
        );
        const s3 = await until('a new global sandbox on h2', () => mk('h2', 'ss3', 'ssov'), BACK_BOUND_MS - (Date.now() - tBack), 500);
        await until(
          'ss3 ↔ ss1',
          async () => ((await ping(s3, ip(s1))) && (await ping(s1, ip(s3))) ? true : undefined),
          BACK_BOUND_MS - (Date.now() - tBack),
        );
        const newSandboxMs = Date.now() - tBack;
        assert.ok(await ping(s1, ip(s2)), 'ss1 → ss2 still');
        assert.equal(await linkIdentity(s2), identity, "ss2's interface is still the same kernel object");
        const tail = logSince();
        assert.equal(tail.split('\n').filter((l) => /global networks and endpoints reconciled/.test(l)).length, 1);
        probing = false;
        await prober;
        assert.ok(probes.ok > 0, 'the prober ran');
        console.log(
          `store absent at start: h2 weftd up in ${startMs} ms with etcd away ${t0 - tKill} ms; after etcd started: ` +
            `registered ${registeredMs} ms, new global sandbox reachable ${newSandboxMs} ms; ` +
            `flow ss1→ss2: ${probes.ok} echoes answered, ${probes.lost} lost, longest gap ${probes.longestGapMs} ms`,
        );
      } finally {
        await lab.start('e1');
      }
    } finally {
      probing = false;
      await prober;
    }
  });
});
