/**
 * Subnet leases on a real etcd (its own namespace, reached over a unix socket): hosts leasing
 * at once never get one subnet twice; a restarted host gets its own subnet back; a lease that
 * expired while its host was away is re-claimed from the journal; an etcd outage longer than the
 * TTL costs nothing; a dead host's lease expires and its subnet is leased again; a full pool is a
 * clear WEFT_IPAM_EXHAUSTED.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { EtcdStore } from '../../src/store/etcd-store.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { SubnetLeaser } from '../../src/cluster/subnet-lease.js';
import { resolveSubnetConfig, type LeaseRecord } from '../../src/ipam/subnet-leases.js';
import { WeftError } from '../../src/errors.js';
import { deleteNetnsWithProcesses, mustRun, sleep } from '../../src/lab/sim-host.js';
import { killAndWait, startEtcdMember, type EtcdMember } from '../../src/lab/etcd-process.js';

const ns = `hs-etcd-${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync('/tmp/hs-leases-');
let member: EtcdMember | undefined;
const stores: EtcdStore[] = [];
const prefix = `/weft-test/hs-${randomBytes(4).toString('hex')}/`;

async function startEtcd(): Promise<void> {
  member = await startEtcdMember({
    name: 'e1',
    nsPath: `/run/netns/${ns}`,
    dir: path.join(dir, 'etcd'),
    ip: '127.0.0.1',
    initialCluster: 'e1=http://127.0.0.1:2380',
    unixSocket: true,
  });
}

async function open(): Promise<EtcdStore> {
  const s = await EtcdStore.open({ target: parseEtcdUrl(member!.unixUrl!), prefix, opTimeoutMs: 2000 });
  stores.push(s);
  return s;
}

async function waitUntil(what: string, cond: () => Promise<boolean>, ms = 15_000): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > ms) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(50);
  }
  return Date.now() - t0;
}

const attrs = (ip: string) => ({ publicIp: ip, backend: 'vxlan' as const, data: { vtepMac: '02:00:00:00:00:01' } });

before(async () => {
  await mustRun('ip', ['netns', 'add', ns]);
  await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  await startEtcd();
});

after(async () => {
  for (const s of stores) await s.close().catch((err: unknown) => console.error('closing a store:', err));
  if (member) await killAndWait(member.pid);
  await deleteNetnsWithProcesses([ns]);
  rmSync(dir, { recursive: true, force: true });
});

describe('subnet leases on etcd', () => {
  it('etcd is the real one', async () => {
    const s = await open();
    assert.equal(s.backend, 'etcd');
  });

  it('16 hosts leasing at once get 16 distinct subnets, each recorded with its holder', async () => {
    const cfg = resolveSubnetConfig({ network: '10.70.0.0/16' });
    const leasers = await Promise.all(
      Array.from({ length: 16 }, async (_, i) => new SubnetLeaser(await open(), `host-${i}`, { ttlMs: 30_000 })),
    );
    const got = await Promise.all(leasers.map((l, i) => l.acquire('net-a', cfg, attrs(`198.18.0.${i + 2}`))));
    assert.equal(new Set(got.map((g) => g.subnet)).size, 16);
    const stored = await leasers[0]!.leases('net-a');
    assert.equal(stored.length, 16);
    for (const [i, g] of got.entries()) assert.equal(stored.find((s) => s.subnet === g.subnet)?.hostId, `host-${i}`);
    // Acquiring again is idempotent: the same subnet.
    assert.equal((await leasers[3]!.acquire('net-a', cfg, attrs('198.18.0.5'))).subnet, got[3]!.subnet);
    for (const l of leasers) await l.close(true);
    await waitUntil('revoked leases vanish', async () => (await leasers[0]!.leases('net-a')).length === 0, 5000);
  });

  it('a restarted host gets its own subnet back, and so does one whose lease expired while it was away', async () => {
    const cfg = resolveSubnetConfig({ network: '10.71.0.0/16' });
    const journal = path.join(dir, 'h1-leases.json');
    const first = new SubnetLeaser(await open(), 'h1', { ttlMs: 2000, journalFile: journal });
    const a = await first.acquire('net-b', cfg, attrs('198.18.0.2'));
    await first.close(false); // a crash: no revoke
    const second = new SubnetLeaser(await open(), 'h1', { ttlMs: 2000, journalFile: journal });
    assert.equal((await second.acquire('net-b', cfg, attrs('198.18.0.2'))).subnet, a.subnet, 'restart: own record taken over');
    await second.close(false);
    // Wait until the store forgets it: the journal is all that remembers the subnet now.
    const waited = await waitUntil('the lease expires', async () => (await second.leases('net-b')).length === 0, 10_000);
    assert.ok(waited >= 1000, `expired after ${waited} ms, TTL 2 s`);
    const third = new SubnetLeaser(await open(), 'h1', { ttlMs: 2000, journalFile: journal });
    assert.equal((await third.acquire('net-b', cfg, attrs('198.18.0.2'))).subnet, a.subnet, 'after expiry: re-claimed from the journal');
    await third.close(true);
  });

  it('a journal naming a subnet that is not the host’s first choice still wins while that subnet is free', async () => {
    const cfg = resolveSubnetConfig({ network: '10.72.0.0/16' });
    const journal = path.join(dir, 'h2-leases.json');
    writeFileSync(journal, JSON.stringify({ leases: { 'net-c': '10.72.9.0/24' } }));
    const l = new SubnetLeaser(await open(), 'h2', { ttlMs: 5000, journalFile: journal });
    assert.equal((await l.acquire('net-c', cfg, attrs('198.18.0.3'))).subnet, '10.72.9.0/24');
    await l.close(true);
  });

  it('a dead host’s lease expires, watchers hear it, its subnet is leased again; a full pool is a clear error', async () => {
    const cfg = resolveSubnetConfig({ network: '10.73.0.0/22', subnetMin: '10.73.0.0/24' }); // 4 subnets
    const hosts = await Promise.all(['a', 'b', 'c', 'd'].map(async (h) => new SubnetLeaser(await open(), `pool-${h}`, { ttlMs: 2000 })));
    const held = await Promise.all(hosts.map((l, i) => l.acquire('net-d', cfg, attrs(`198.18.1.${i + 2}`))));
    assert.equal(new Set(held.map((h) => h.subnet)).size, 4);
    const fifth = new SubnetLeaser(await open(), 'pool-e', { ttlMs: 2000 });
    await assert.rejects(fifth.acquire('net-d', cfg, attrs('198.18.1.9')), (err: unknown) => {
      assert.ok(err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED', String(err));
      assert.match(err.message, /no free \/24 subnet left in 10\.73\.0\.0\/22 \(4 leased/);
      return true;
    });
    // Watch from a live host, then kill host d (stop renewing).
    const seen: string[] = [];
    let snapshot: LeaseRecord[] = [];
    const stop = hosts[0]!.watch('net-d', { onSnapshot: (l) => (snapshot = l), onPut: () => undefined, onDelete: (s) => seen.push(s) });
    await waitUntil('the watch snapshot', async () => snapshot.length === 4, 5000);
    await hosts[3]!.close(false);
    const ms = await waitUntil('the dead host’s lease is deleted', async () => seen.includes(held[3]!.subnet), 10_000);
    stop();
    assert.ok(ms < 6000, `expiry seen after ${ms} ms (TTL 2 s)`);
    const again = await fifth.acquire('net-d', cfg, attrs('198.18.1.9'));
    assert.equal(again.subnet, held[3]!.subnet, 'the freed subnet is the only one left');
    for (const l of [...hosts.slice(0, 3), fifth]) await l.close(true);
  });

  it('an etcd outage longer than the TTL costs the host nothing', async () => {
    const cfg = resolveSubnetConfig({ network: '10.74.0.0/16' });
    const l = new SubnetLeaser(await open(), 'outage-host', { ttlMs: 2000, journalFile: path.join(dir, 'outage.json') });
    const a = await l.acquire('net-e', cfg, attrs('198.18.2.2'));
    await killAndWait(member!.pid);
    await sleep(4000); // twice the TTL with no keepalive reaching etcd
    await startEtcd();
    // etcd restores leases with a full TTL; the keepalives resume; the record is still ours.
    await sleep(3000);
    const after1 = await l.leases('net-e');
    assert.deepEqual(
      after1.map((r) => [r.subnet, r.hostId]),
      [[a.subnet, 'outage-host']],
    );
    const r = await l.recover();
    assert.deepEqual(r, { kept: [a.subnet], lost: [] });
    assert.equal((await l.acquire('net-e', cfg, attrs('198.18.2.2'))).subnet, a.subnet);
    await l.close(true);
    assert.equal((await l.leases('net-e')).length, 0, 'release by revoke');
  });
});
