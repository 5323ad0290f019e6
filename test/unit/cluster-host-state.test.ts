import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { HostStateCore, type AliveRecord, type HostRecord } from '../../src/cluster/host-state-core.js';
import { resolveAdvertiseAddr, secondFamilyAddress } from '../../src/cluster/advertise-addr.js';
import { hasJoinedBefore, loadHostIdentity, recordJoined, validateHostId } from '../../src/cluster/host-identity.js';
import { WeftError } from '../../src/errors.js';
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const rec = (id: string, extra: Partial<HostRecord> = {}): HostRecord => ({
  id,
  name: id,
  address: `198.18.0.${id.length}`,
  registeredAt: 't',
  ...extra,
});
const alive = (lease = '1'): AliveRecord => ({ token: 't', address: '198.18.0.9', pid: 1, lease, since: 0 });
const types = (ts: { type: string; host: { id: string } }[]) => ts.map((t) => `${t.type}:${t.host.id}`);

describe('host state machine', () => {
  it('up on liveness, down when it vanishes, gone after the grace, quiet afterwards', () => {
    const c = new HostStateCore(1000);
    assert.deepEqual(types(c.setRecord(rec('h1'), 0)), ['hostDown:h1']); // a record without liveness is down
    assert.deepEqual(types(c.setAlive('h1', alive(), 10)), ['hostUp:h1']);
    assert.deepEqual(types(c.setAlive('h1', alive('2'), 20)), [], 'a new lease is not a new up');
    assert.deepEqual(types(c.deleteAlive('h1', 100)), ['hostDown:h1']);
    assert.equal(c.nextDeadline(), 1100);
    assert.deepEqual(types(c.tick(1099)), []);
    assert.deepEqual(types(c.tick(1100)), ['hostGone:h1']);
    assert.deepEqual(c.views(), []);
    assert.deepEqual(types(c.setRecord(rec('h1', { downSince: 100 }), 1200)), [], 'no second gone');
    assert.deepEqual(types(c.setAlive('h1', alive('3'), 1300)), ['hostUp:h1'], 'comes back');
  });

  it('counts the grace from the downSince the first observer recorded', () => {
    const c = new HostStateCore(1000);
    assert.deepEqual(types(c.setRecord(rec('h2', { downSince: 0 }), 5000)), ['hostDown:h2', 'hostGone:h2']);
  });

  it('a deleted record means gone for a host in grace; back before the grace means up again', () => {
    const c = new HostStateCore(1000);
    c.setRecord(rec('a'), 0);
    c.setAlive('a', alive(), 0);
    c.setRecord(rec('b'), 0);
    c.setAlive('b', alive(), 0);
    assert.deepEqual(types(c.deleteAlive('a', 10)), ['hostDown:a']);
    assert.deepEqual(types(c.deleteRecord('a', 20)), ['hostGone:a']);
    assert.deepEqual(types(c.deleteAlive('b', 10)), ['hostDown:b']);
    assert.deepEqual(types(c.setAlive('b', alive(), 500)), ['hostUp:b']);
    assert.equal(c.nextDeadline(), undefined);
  });

  it('a full resync yields exactly the differences', () => {
    const c = new HostStateCore(1000);
    c.setRecord(rec('a'), 0);
    c.setAlive('a', alive(), 0);
    c.setRecord(rec('b'), 0);
    c.setAlive('b', alive(), 0);
    const ts = c.resync(
      [rec('a'), rec('c')],
      new Map([
        ['a', alive()],
        ['c', alive()],
      ]),
      50,
    );
    assert.deepEqual(types(ts).sort(), ['hostGone:b', 'hostUp:c']);
    assert.deepEqual(
      types(
        c.resync(
          [rec('a'), rec('c')],
          new Map([
            ['a', alive()],
            ['c', alive()],
          ]),
          60,
        ),
      ),
      [],
    );
  });
});

describe('advertise address', () => {
  const u = {
    addresses: new Map([
      ['eth0', ['198.18.0.2']],
      ['eth1', ['198.19.0.2', 'fd00::2']],
    ]),
    defaultInterface: 'eth1',
  };
  it('defaults to the default route interface, takes an IP or an interface', () => {
    assert.equal(resolveAdvertiseAddr(undefined, u), '198.19.0.2');
    assert.equal(resolveAdvertiseAddr('eth0', u), '198.18.0.2');
    assert.equal(resolveAdvertiseAddr('198.18.0.2', u), '198.18.0.2');
    assert.equal(resolveAdvertiseAddr(undefined, { ...u, defaultSource: '198.18.0.2' }), '198.18.0.2');
  });
  it('an IPv4 advertise address brings the IPv6 address of its own interface (dual-stack routing), none otherwise', () => {
    assert.equal(secondFamilyAddress('198.19.0.2', u), 'fd00::2');
    assert.equal(secondFamilyAddress('198.18.0.2', u), undefined, 'eth0 has no IPv6 address');
    assert.equal(secondFamilyAddress('fd00::2', u), undefined, 'an IPv6 advertise address needs no second one');
  });
  it('refuses what this host cannot advertise', () => {
    for (const [flag, info, re] of [
      ['10.9.9.9', u, /not an address of this host/],
      ['127.0.0.1', u, /cannot be reached/],
      ['eth9', u, /does not exist/],
      ['bad name!', u, /neither an IP address nor an interface/],
      [undefined, { addresses: new Map<string, string[]>() }, /no default route/],
    ] as const) {
      assert.throws(
        () => resolveAdvertiseAddr(flag, info),
        (e: unknown) => e instanceof WeftError && e.field === 'advertise-addr' && re.test(e.message),
      );
    }
  });
});

describe('host identity', () => {
  it('is created once, kept, private, and bound to its state dir', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-hostid-'));
    try {
      const a = loadHostIdentity(dir);
      assert.match(a.id, /^[a-z0-9]{25}$/);
      assert.deepEqual(loadHostIdentity(dir), a);
      assert.equal(statSync(path.join(dir, 'host-id.json')).mode & 0o777, 0o600);
      assert.throws(() => loadHostIdentity(dir, 'other'), /belongs to host/);
      const b = mkdtempSync(path.join(tmpdir(), 'weft-hostid-'));
      assert.equal(loadHostIdentity(b, 'h1').id, 'h1');
      writeFileSync(path.join(b, 'host-id.json'), '{bad');
      assert.throws(
        () => loadHostIdentity(b),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT_STORE',
      );
      rmSync(b, { recursive: true });
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
  it('validates ids', () => {
    for (const ok of ['h1', 'a', 'node-7']) assert.equal(validateHostId(ok), ok);
    for (const bad of ['', 'H1', '-a', 'a-', 'a_b', 'x'.repeat(64), 'a/b']) {
      assert.throws(
        () => validateHostId(bad),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT',
      );
    }
  });

  it('a state directory says whether its host was a cluster member: the join marker, or a block journal from before it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'weft-joined-'));
    try {
      assert.equal(hasJoinedBefore(dir), false);
      recordJoined(dir, 'h1', 'etcd://198.18.0.2:2379');
      assert.equal(hasJoinedBefore(dir), true);
      const older = mkdtempSync(path.join(tmpdir(), 'weft-joined-'));
      try {
        writeFileSync(path.join(older, 'cluster-ipam.json'), '{}');
        assert.equal(hasJoinedBefore(older), true);
      } finally {
        rmSync(older, { recursive: true, force: true });
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
