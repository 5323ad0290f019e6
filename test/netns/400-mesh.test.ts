/**
 * The store-less mesh across real namespaces: four hosts on a 198.18.0.0/24 underlay, each
 * running a MeshRouter process with a TUN sleeve and an address from the ring (three seed the
 * ring, the fourth gets space by donation). Shown here: every pair talks through the encrypted
 * sleeve; with the h0–h2 underlay link dropped by nft in h0's namespace traffic is relayed and
 * returns to direct after the rule goes; names resolve everywhere; a killed peer is detected by
 * all within the stated bound, then forgotten (ring space and names gone); wrong-password and
 * password-less peers are refused; an underlay capture never sees a known payload (and does in
 * a plaintext control run).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { NETTOOL, sleep, waitFor } from '../../src/lab/sim-host.js';
import { MeshLab, type MeshNode } from './mesh-lab.js';

const PASSWORD = 'mesh test password 7f3a';
/** Lab membership timing (see mesh-lab.ts): probe 500 ms, suspicion ×3 → min 1.5 s, max 9 s at 4 peers. */
const DETECTION_BOUND_MS = 4 * 500 + 9000 + 3000;

/** tcpdump on every port of the switch, resolved once it is really capturing. */
async function capture(lab: MeshLab, file: string, filter: string[]): Promise<ReturnType<MeshLab['spawnIn']>> {
  // "any": every port of the switch (a capture on br0 itself misses unicast forwarded between ports).
  const dump = lab.spawnIn('switch', 'tcpdump', ['--immediate-mode', '-i', 'any', '-U', '-n', '-w', file, ...filter]);
  let err = '';
  dump.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  await waitFor('tcpdump listening', () => err.includes('listening on'), 20_000);
  await sleep(1000); // under heavy load the first packets after the banner were sometimes missing
  return dump;
}

const pingOk = async (lab: MeshLab, from: number, to: string): Promise<boolean> =>
  (await lab.exec(from, 'busybox', ['ping', '-c', '2', '-W', '2', to], 20_000)).code === 0;

describe('mesh: four hosts, encrypted sleeve, no store', () => {
  let lab: MeshLab;
  const node = (i: number): MeshNode => lab.nodes.get(i)!;
  const addr = (i: number): string => node(i).tunAddress!;

  before(async () => {
    lab = await MeshLab.create(4);
    const pw = path.join(lab.dir, 'password');
    writeFileSync(pw, `${PASSWORD}\n`, { mode: 0o600 });
    for (let i = 0; i < 4; i++) {
      await lab.start(i, {
        passwordFile: pw,
        peers: ['198.18.0.10:6783'],
        ipalloc: i < 3 ? { init: 'seed', peers: ['h0', 'h1', 'h2'] } : { init: 'join' },
      });
    }
    await lab.until(
      'full mesh with sleeves',
      (s) => s.connections.filter((c) => c.established).length === 3 && s.sleeve !== undefined,
      60_000,
    );
  });

  after(async () => {
    if (process.env.MESH_TEST_LOGS) for (const n of lab?.nodes.values() ?? []) console.log(n.log);
    await lab?.destroy();
  });

  it('runs the encrypted sleeve: a TUN device with a ring address in every host, sessions encrypted', async () => {
    for (let i = 0; i < 4; i++) {
      const s = await node(i).status();
      assert.equal(s.encrypted, true);
      assert.ok(s.connections.every((c) => c.encrypted));
      const link = await lab.exec(i, 'ip', ['-d', '-j', 'link', 'show', 'weftmesh0']);
      const info = JSON.parse(link.stdout) as { linkinfo?: { info_kind?: string }; mtu: number }[];
      assert.equal(info[0]?.linkinfo?.info_kind, 'tun');
      const owner = (await node(0).status()).ring.ownership;
      assert.ok(Object.keys(owner).includes(`h${i}`), `h${i} owns ring space`);
    }
    assert.ok((await node(3).status()).ring.owned.length > 0, 'h3 got space by donation');
  });

  it('every pair of hosts exchanges traffic across the sleeve (ping and TCP)', async () => {
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) if (a !== b) assert.ok(await pingOk(lab, a, addr(b)), `h${a} → h${b}`);
    const server = lab.spawnIn(2, process.execPath, [NETTOOL, 'tcp-server', '7000']);
    try {
      // Generous: each attempt starts a node process, which took seconds at load 30.
      const r = await waitFor(
        'tcp echo h0→h2',
        async () => {
          const x = await lab.exec(0, process.execPath, [NETTOOL, 'tcp-client', addr(2), '7000', 'hello-mesh']);
          return x.code === 0 && x.stdout;
        },
        30_000,
      );
      assert.match(r, new RegExp(`^${addr(0).replace(/\./g, '\\.')} hello-mesh`), 'the echo names h0 mesh address: no NAT on the sleeve');
    } finally {
      server.kill('SIGKILL');
    }
  });

  it('h0–h2 underlay dropped (nft in h0): traffic is relayed, and goes direct again within seconds of the rule going', async () => {
    const dropped = Date.now();
    await lab.exec(0, 'nft', ['add', 'table', 'inet', 'meshtest']);
    await lab.exec(0, 'nft', ['add', 'chain', 'inet', 'meshtest', 'out', '{ type filter hook output priority 0; }']);
    await lab.exec(0, 'nft', ['add', 'chain', 'inet', 'meshtest', 'in', '{ type filter hook input priority 0; }']);
    await lab.exec(0, 'nft', ['add', 'rule', 'inet', 'meshtest', 'out', 'ip', 'daddr', '198.18.0.12', 'drop']);
    const rule = await lab.exec(0, 'nft', ['add', 'rule', 'inet', 'meshtest', 'in', 'ip', 'saddr', '198.18.0.12', 'drop']);
    assert.equal(rule.code, 0, rule.stderr);
    const direct = await lab.exec(0, 'busybox', ['ping', '-c', '1', '-W', '1', '198.18.0.12']);
    assert.notEqual(direct.code, 0, 'the underlay link is really gone');
    await lab.until(
      'h0 and h2 route to each other through a relay',
      (s) =>
        s.name === 'h0'
          ? s.routes.some((r) => r.dest === 'h2' && r.hops === 2)
          : s.name === 'h2'
            ? s.routes.some((r) => r.dest === 'h0' && r.hops === 2)
            : true,
      30_000,
    );
    const relayAfter = Date.now() - dropped;
    const before0 = (await node(0).status()).routes.find((r) => r.dest === 'h2')!;
    const relayedBefore = (await node(Number(before0.via.slice(1))).status()).counters.relayed!;
    assert.ok(await pingOk(lab, 0, addr(2)), 'h0 → h2 through the relay');
    assert.ok(await pingOk(lab, 2, addr(0)), 'h2 → h0 through the relay');
    const relayedAfter = (await node(Number(before0.via.slice(1))).status()).counters.relayed!;
    assert.ok(relayedAfter >= relayedBefore + 4, `${before0.via} relayed the pings (${relayedBefore} → ${relayedAfter})`);
    assert.notEqual((await node(0).status()).members.find((m) => m.name === 'h2')?.state, 'dead', 'indirect probes keep h2 alive for h0');
    await lab.exec(0, 'nft', ['delete', 'table', 'inet', 'meshtest']);
    const healed = Date.now();
    await lab.until(
      'direct again',
      (s) =>
        s.name === 'h0'
          ? s.routes.some((r) => r.dest === 'h2' && r.hops === 1)
          : s.name === 'h2'
            ? s.routes.some((r) => r.dest === 'h0' && r.hops === 1)
            : true,
      20_000,
    );
    const back = Date.now() - healed;
    assert.ok(back <= 10_000, `direct again after ${back} ms`);
    // The data really goes direct again: the former relay carries none of it.
    const relay = node(Number(before0.via.slice(1)));
    const relayedDirect = (await relay.status()).counters.relayed!;
    assert.ok(await pingOk(lab, 0, addr(2)));
    assert.ok(await pingOk(lab, 2, addr(0)));
    assert.equal((await relay.status()).counters.relayed! - relayedDirect, 0, `${before0.via} relayed nothing once direct`);
    console.log(
      `# relay routes in place ${relayAfter} ms after the drop rules were added; direct again ${back} ms after the rule was removed`,
    );
  });

  it('names registered on one peer resolve on every peer', async () => {
    await node(1).call('register', { key: 'c-web', names: ['web', 'www'], addrs: [addr(1)] });
    await node(2).call('register', { key: 'c-db', names: ['db'], addrs: [addr(2)] });
    for (let i = 0; i < 4; i++) {
      await waitFor(`h${i} resolves web and db`, async () => {
        const web = await node(i).call<string[]>('lookup', { name: 'WWW' });
        const db = await node(i).call<string[]>('lookup', { name: 'db' });
        return web[0] === addr(1) && db[0] === addr(2);
      });
    }
  });

  it(`a killed peer is dead for every other within ${DETECTION_BOUND_MS} ms; its names vanish; forget reclaims its space`, async () => {
    const t0 = Date.now();
    lab.kill(1);
    const took = await lab.until(
      'h1 dead everywhere',
      (s) => s.members.find((m) => m.name === 'h1')?.state === 'dead',
      DETECTION_BOUND_MS + 5000,
      [0, 2, 3],
    );
    const elapsed = Date.now() - t0;
    assert.ok(elapsed <= DETECTION_BOUND_MS, `detected after ${elapsed} ms (poll ${took} ms)`);
    console.log(`# h1 killed: dead for h0, h2, h3 after ${elapsed} ms (bound ${DETECTION_BOUND_MS} ms)`);
    for (const i of [0, 2, 3]) {
      assert.deepEqual(await node(i).call('lookup', { name: 'web' }), [], `h${i} does not serve the names of a dead peer`);
      // Hidden, not yet dropped: a dead peer may come back (h1's c-web and h2's c-db are both still held).
      assert.equal((await node(i).status()).names, 2, `h${i} still holds the dead peer's record`);
    }
    await assert.rejects(node(0).call('forget', { peer: 'h2' }), /alive/, 'a live peer cannot be forgotten');
    const f = await node(0).call<{ addresses: number }>('forget', { peer: 'h1' });
    assert.ok(f.addresses > 0);
    await lab.until(
      'h1 gone from every ring',
      (s) => s.ring.ownership.h1 === undefined && s.ring.conflicts.length === 0,
      10_000,
      [0, 2, 3],
    );
    await lab.until('h1 left everywhere', (s) => s.members.find((m) => m.name === 'h1')?.state !== 'dead', 10_000, [0, 2, 3]);
    // Forgotten: its records are dropped on every peer (only h2's c-db is left), not merely hidden.
    await lab.until("h1's names dropped everywhere", (s) => s.names === 1, 10_000, [0, 2, 3]);
    for (const i of [0, 2, 3]) assert.deepEqual(await node(i).call('lookup', { name: 'web' }), []);
    assert.deepEqual(await node(3).call('lookup', { name: 'db' }), [addr(2)], 'other names stay');
    assert.ok(await pingOk(lab, 3, addr(2)), 'the rest of the mesh still talks');
  });

  it('a peer with a wrong password, and one without a password, are refused', async () => {
    const bad = await lab.addHost();
    const wrong = path.join(lab.dir, 'wrong');
    writeFileSync(wrong, 'not the password\n');
    await lab.start(bad.index, { passwordFile: wrong, peers: ['198.18.0.10:6783'], tun: undefined });
    await waitFor('h0 refuses the wrong password', async () =>
      (await node(0).status()).refusals.some((r) => r.addr === bad.ip && /does not know the mesh password/.test(r.reason)),
    );
    await sleep(1500);
    const s = await node(bad.index).status();
    assert.equal(s.connections.length, 0);
    assert.deepEqual(
      s.members.map((m) => m.name),
      [bad.name],
      'it learned nothing about the mesh',
    );
    assert.ok(!(await node(0).status()).members.some((m) => m.name === bad.name), 'and the mesh nothing about it');
    lab.kill(bad.index);
    await waitFor('wrong-password router gone', () => node(bad.index).exited);
    await lab.start(bad.index, { peers: ['198.18.0.10:6783'], tun: undefined });
    await waitFor('h0 refuses the password-less peer', async () =>
      (await node(0).status()).refusals.some((r) => r.addr === bad.ip && /has no password/.test(r.reason)),
    );
    assert.ok(!(await node(0).status()).members.some((m) => m.name === bad.name));
    lab.kill(bad.index);
  });

  it('an underlay capture of traffic through the encrypted sleeve contains none of a known payload', async () => {
    const payload = `WEFT-SECRET-${Date.now()}`;
    const pcap = path.join(lab.dir, 'underlay.pcap');
    const dump = await capture(lab, pcap, ['udp or tcp']);
    const server = lab.spawnIn(2, process.execPath, [NETTOOL, 'tcp-server', '7001']);
    try {
      await waitFor(
        'payload through the sleeve',
        async () => (await lab.exec(0, process.execPath, [NETTOOL, 'tcp-client', addr(2), '7001', payload])).code === 0,
      );
      // Control: the same payload sent in the clear on the underlay must be seen by this capture.
      const plain = lab.spawnIn(2, process.execPath, [NETTOOL, 'tcp-server', '7002']);
      await waitFor(
        'payload on the underlay',
        async () => (await lab.exec(0, process.execPath, [NETTOOL, 'tcp-client', '198.18.0.12', '7002', `${payload}-CLEAR`])).code === 0,
      );
      plain.kill('SIGKILL');
      await sleep(500);
    } finally {
      server.kill('SIGKILL');
      dump.kill('SIGINT');
    }
    await waitFor('tcpdump flushed', () => dump.exitCode !== null || dump.signalCode !== null);
    const bytes = readFileSync(pcap);
    assert.ok(bytes.includes(Buffer.from(`${payload}-CLEAR`)), 'the capture does see clear text');
    const sleeveHits = bytes.toString('latin1').split(`${payload}-CLEAR`).length - 1;
    const total = bytes.toString('latin1').split(payload).length - 1;
    assert.equal(total, sleeveHits, 'the payload never appears except in the clear-text control');
    assert.ok(bytes.length > 10_000, `the capture holds the sleeve traffic (${bytes.length} bytes)`);
  });
});

describe('mesh: plaintext sleeve (no password) — the control for the capture test', () => {
  let lab: MeshLab;

  before(async () => {
    lab = await MeshLab.create(2);
    for (let i = 0; i < 2; i++) await lab.start(i, { peers: ['198.18.0.10:6783'], ipalloc: { init: 'seed', peers: ['h0', 'h1'] } });
    await lab.until('connected with sleeves', (s) => s.connections.some((c) => c.established) && s.sleeve !== undefined, 30_000);
  });

  after(async () => {
    await lab?.destroy();
  });

  it('carries traffic unencrypted, and the capture does find the payload inside the sleeve datagrams', async () => {
    const s = await lab.nodes.get(0)!.status();
    assert.equal(s.encrypted, false);
    const to = lab.nodes.get(1)!.tunAddress!;
    assert.ok(await pingOk(lab, 0, to));
    const payload = `WEFT-PLAIN-${Date.now()}`;
    const pcap = path.join(lab.dir, 'plain.pcap');
    const dump = await capture(lab, pcap, ['udp port 6783']);
    const server = lab.spawnIn(1, process.execPath, [NETTOOL, 'tcp-server', '7003']);
    try {
      for (let k = 0; k < 3; k++) {
        await waitFor(
          'payload through the sleeve',
          async () => (await lab.exec(0, process.execPath, [NETTOOL, 'tcp-client', to, '7003', payload])).code === 0,
        );
      }
      await sleep(500);
    } finally {
      server.kill('SIGKILL');
      dump.kill('SIGINT');
    }
    await waitFor('tcpdump flushed', () => dump.exitCode !== null || dump.signalCode !== null);
    if (!readFileSync(pcap).includes(Buffer.from(payload))) {
      const seen = await lab.exec(0, 'tcpdump', ['-r', pcap, '-nn']);
      assert.fail(`payload not in the plaintext sleeve capture (${seen.stdout.split('\n').length} packets); it holds:\n${seen.stdout}`);
    }
  });
});
