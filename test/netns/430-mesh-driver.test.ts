/**
 * The mesh driver in the product, no store: `weft lab up --mesh` starts a weftd per host with
 * mesh flags pointed at each other (no etcd), `weft network create -d mesh` on each host, and
 * sandboxes made with `weft run` on three hosts talk across them. Shown: every pair pings;
 * addresses come from the ring (distinct, each in its host's own space); with the h1–h3
 * underlay dropped (nft in both namespaces) h1→h3 is relayed through h2 and returns to direct;
 * names resolve across hosts through the embedded DNS; with a password, an underlay capture
 * finds no known payload (and finds it on the plaintext lab, so the check can fail).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import type { ClusterLab } from '../../src/lab/cluster-lab.js';
import { waitFor } from '../../src/lab/sim-host.js';
import {
  RANGE,
  cut,
  fastRoutes,
  heal,
  inBox,
  killBoxes,
  markerOnUnderlay,
  meshWeftdLab,
  netId,
  ping20,
  pingOk,
  runBox,
  sendMarker,
  sleevePackets,
  status,
  weftOk,
  type Box,
} from './mesh-weftd.js';

/** A 3-host mesh lab with a meshnet on every host and one sandbox per host. */
async function meshLab(extra: string[]): Promise<{ lab: ClusterLab; boxes: Box[] }> {
  const lab = await meshWeftdLab(3, ['--mesh-probe-ms', '500', ...extra], 60_000);
  try {
    // Made on h1 only: the definition is gossiped to every peer (no store), with the same id.
    const id = (await weftOk(lab, 'h1', ['network', 'create', '-d', 'mesh', '--subnet', RANGE, 'meshnet'])).trim();
    await waitFor('meshnet on every peer', async () => {
      for (const h of ['h2', 'h3']) if ((await netId(lab, h, 'meshnet')) !== id) return false;
      return true;
    });
    const boxes: Box[] = [];
    for (const [i, h] of ['h1', 'h2', 'h3'].entries()) boxes.push(await runBox(lab, h, `c${i + 1}`));
    return { lab, boxes };
  } catch (err) {
    await lab.down();
    throw err;
  }
}

describe('mesh driver: three hosts, no etcd, plaintext (fast path where direct)', { timeout: 300_000 }, () => {
  let lab: ClusterLab;
  let boxes: Box[] = [];
  before(async () => {
    ({ lab, boxes } = await meshLab([]));
  });
  after(async () => {
    killBoxes(boxes);
    await lab?.down();
  });

  it('runs with no store: no etcd in the lab, a TUN sleeve and mesh status on every weftd', async () => {
    assert.ok(existsSync('/dev/net/tun'), 'the kernel has TUN');
    assert.equal(lab.state.etcd.length, 0);
    assert.equal(lab.state.etcdUrl, undefined);
    for (const h of ['h1', 'h2', 'h3']) {
      const s = await status(lab, h);
      assert.equal(s.name, h);
      assert.equal(s.encrypted, false);
      assert.equal(s.ring.universe, RANGE);
      const info = JSON.parse((await weftOk(lab, h, ['network', 'inspect', 'meshnet'])).trim()) as { Driver: string }[];
      assert.equal(info[0]?.Driver, 'mesh');
    }
    const peers = await weftOk(lab, 'h1', ['mesh', 'peers']);
    assert.match(peers, /^NAME\s+ADDRESS\s+STATE\s+LINK\s+ROUTE/);
    assert.match(peers, /h2\s+198\.18\.0\.12:6783\s+alive\s+established\s+direct/);
  });

  it('gives each sandbox a distinct ring address from its own host’s space', async () => {
    assert.equal(new Set(boxes.map((b) => b.ip)).size, 3);
    for (const b of boxes) {
      const s = await status(lab, b.host);
      const inOwn = s.ring.owned.some((r) => {
        const [lo, hi] = r.split('-').map((x) => x.split('.').reduce((n, o) => n * 256 + Number(o), 0));
        const v = b.ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
        return v >= lo! && v <= hi!;
      });
      assert.ok(inOwn, `${b.name} ${b.ip} is in ${b.host}'s ring space ${s.ring.owned.join(' ')}`);
    }
  });

  it('every pair of sandboxes on different hosts pings', async () => {
    for (const a of boxes)
      for (const b of boxes) if (a !== b) assert.ok(await pingOk(a, b.ip), `${a.name}@${a.host} → ${b.name}@${b.host}`);
  });

  it('carries direct peers on the kernel VXLAN fast path, not through the sleeve', async () => {
    const [c1, c2] = boxes as [Box, Box, Box];
    const s2 = await status(lab, 'h2');
    const routes = await waitFor('fast-path routes for h2 and h3 on h1', async () => {
      const r = await fastRoutes(lab, 'h1');
      return r.some((x) => x.endsWith('via 198.18.0.12')) && r.some((x) => x.endsWith('via 198.18.0.13')) ? r : undefined;
    });
    assert.ok(routes.length >= 2, routes.join('; '));
    assert.ok(
      s2.ring.owned.length > 0 && routes.some((r) => r.startsWith(s2.ring.owned[0]!.split('-')[0]!)),
      `h2's range ${s2.ring.owned.join(' ')} routed by VXLAN on h1: ${routes.join('; ')}`,
    );
    const before = (await sleevePackets(lab, 'h1')) + (await sleevePackets(lab, 'h2'));
    await ping20(c1, c2.ip);
    const after = (await sleevePackets(lab, 'h1')) + (await sleevePackets(lab, 'h2'));
    assert.ok(after - before < 5, `20 pings c1→c2 moved ${after - before} sleeve packets (expected none)`);
  });

  it('resolves sandbox names across hosts through the embedded DNS', async () => {
    const [c1, c2, c3] = boxes as [Box, Box, Box];
    for (const [from, to] of [
      [c1, c3],
      [c3, c2],
      [c2, c1],
    ] as const) {
      const answer = await waitFor(
        `${to.name} from ${from.name}`,
        async () => {
          const r = await inBox(from, ['busybox', 'nslookup', to.name, '10.32.0.1']);
          return r.code === 0 && r.stdout.includes(to.ip) ? r.stdout : undefined;
        },
        15_000,
      );
      assert.ok(answer.includes(to.ip));
    }
    const none = await inBox(c1, ['busybox', 'nslookup', 'no-such-box', '10.32.0.1']);
    assert.notEqual(none.code, 0, 'an unknown name is not answered with an address');
  });

  it('routes h1→h3 through h2 while their underlay is cut, and directly again after', async () => {
    const [c1, , c3] = boxes as [Box, Box, Box];
    await cut(lab, 'h1', '198.18.0.13');
    await cut(lab, 'h3', '198.18.0.11');
    try {
      const t0 = Date.now();
      await waitFor(
        'h1 routes to h3 via h2',
        async () => (await status(lab, 'h1')).routes.some((r) => r.dest === 'h3' && r.via === 'h2' && r.hops === 2),
        30_000,
      );
      console.log(`# relay route after ${Date.now() - t0} ms`);
      await waitFor(
        'no fast path to h3 on h1',
        async () => !(await fastRoutes(lab, 'h1')).some((x) => x.endsWith('via 198.18.0.13')),
        10_000,
      );
      const before = (await status(lab, 'h2')).counters.relayed ?? 0;
      await ping20(c1, c3.ip);
      const relayed = ((await status(lab, 'h2')).counters.relayed ?? 0) - before;
      assert.ok(relayed >= 40, `h2's sleeve relayed ${relayed} packets for 20 pings (expected ≥ 40)`);
      assert.ok(await pingOk(c1, c3.ip), 'c1 → c3 relayed');
      assert.ok(await pingOk(c3, c1.ip), 'c3 → c1 relayed');
    } finally {
      await heal(lab, 'h1');
      await heal(lab, 'h3');
    }
    const t1 = Date.now();
    await waitFor('direct again', async () => (await status(lab, 'h1')).routes.some((r) => r.dest === 'h3' && r.hops === 1), 30_000);
    console.log(`# direct again after ${Date.now() - t1} ms`);
    await waitFor('fast path to h3 again', async () => (await fastRoutes(lab, 'h1')).some((x) => x.endsWith('via 198.18.0.13')), 10_000);
    assert.ok(await pingOk(c1, c3.ip), 'c1 → c3 direct');
  });

  it('carries plaintext on the underlay without a password (the capture check can fail)', async () => {
    const [c1, c2] = boxes as [Box, Box, Box];
    assert.equal(await markerOnUnderlay(lab, async () => void (await sendMarker(c1, c2.ip))), true);
  });

  it('connect / forget refuse what they must', async () => {
    const r = await lab.weft('h1', ['mesh', 'forget', 'h2']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /alive/);
    assert.match(await weftOk(lab, 'h1', ['mesh', 'connect', '198.18.0.13']), /connecting to 198\.18\.0\.13:6783/);
  });
});

describe('mesh driver: three hosts with a password (encrypted sleeve)', { timeout: 300_000 }, () => {
  let lab: ClusterLab | undefined;
  let boxes: Box[] = [];
  const pw = `/tmp/msh-pw-${randomBytes(4).toString('hex')}`;
  before(async () => {
    writeFileSync(pw, 'mesh driver test password\n', { mode: 0o600 });
    ({ lab, boxes } = await meshLab(['--mesh-password-file', pw]));
  });
  after(async () => {
    killBoxes(boxes);
    await lab?.down();
    rmSync(pw, { force: true });
  });

  it('encrypts: sandboxes ping across hosts, and the underlay never shows the payload', async () => {
    const [c1, c2, c3] = boxes as [Box, Box, Box];
    for (const h of ['h1', 'h2', 'h3']) {
      assert.equal((await status(lab!, h)).encrypted, true);
      assert.deepEqual(await fastRoutes(lab!, h), [], `no fast path on ${h} when encrypted`);
    }
    assert.ok(await pingOk(c1, c2.ip));
    assert.ok(await pingOk(c3, c1.ip));
    assert.equal(await markerOnUnderlay(lab!, async () => void (await sendMarker(c1, c2.ip))), false);
  });
});
