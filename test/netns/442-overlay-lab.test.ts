/**
 * The overlay end to end through the product: `weft lab up` (weftd per host on a real etcd),
 * `weft network create -d overlay` on h1, `weft run` on h1 and h2, traffic across; the cluster
 * agent's events program the peers; removing a sandbox on h2 takes its entries away on h1.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';

const node = process.execPath;

interface SandboxInfo {
  netnsPath: string;
  endpoints: { ipv4?: string; macAddress?: string }[];
}

describe('overlay through weftd, etcd and the cluster agent (lab, 2 hosts)', { timeout: 240_000 }, () => {
  let lab: ClusterLab;
  const ok = async (h: string, args: string[]): Promise<string> => {
    const r = await lab.weft(h, args);
    assert.equal(r.code, 0, `weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  const sandbox = async (h: string, name: string): Promise<SandboxInfo> =>
    (JSON.parse(await ok(h, ['sandbox', 'inspect', name])) as SandboxInfo[])[0]!;
  const overlayNs = (h: string, netId: string): string => `${lab.host(h).runDir}/overlay-netns/${netId.slice(0, 12)}`;

  before(async () => {
    lab = await ClusterLab.up({ hosts: 2, underlay: 'l2', name: `ov${randomBytes(3).toString('hex')}` });
  });
  after(async () => lab?.down());

  it('a network created on h1 carries TCP between sandboxes run on h1 and h2, programmed from etcd', async () => {
    const netId = (await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.88.0.0/24', 'ovl-e2e'])).trim();
    await waitFor('the network on h2', async () => (await lab.weft('h2', ['network', 'inspect', 'ovl-e2e'])).code === 0, 10_000);
    await ok('h1', ['run', '-d', '--name', 'a1', '--network', 'ovl-e2e', '--', node, NETTOOL, 'tcp-server', '7500']);
    await ok('h2', ['run', '-d', '--name', 'a2', '--network', 'ovl-e2e', '--', node, NETTOOL, 'tcp-server', '7500']);
    const [a1, a2] = [await sandbox('h1', 'a1'), await sandbox('h2', 'a2')];
    const ip1 = a1.endpoints[0]!.ipv4!.split('/')[0]!;
    const ip2 = a2.endpoints[0]!.ipv4!.split('/')[0]!;
    const t0 = Date.now();
    const reply = await waitFor(
      'tcp from h1 to h2 over the overlay',
      async () => {
        const r = await run('nsenter', [`--net=${a1.netnsPath}`, node, NETTOOL, 'tcp-client', ip2, '7500', 'across']);
        return r.code === 0 ? r.stdout.trim() : undefined;
      },
      15_000,
    );
    console.log(`overlay e2e: first cross-host TCP reply ${Date.now() - t0} ms after both runs returned`);
    assert.equal(reply, `${ip1} across`);
    const fdb = await run('nsenter', [`--net=${overlayNs('h1', netId)}`, 'bridge', 'fdb', 'show', 'dev', 'vxlan0']);
    assert.match(fdb.stdout, new RegExp(`${a2.endpoints[0]!.macAddress!} dst ${lab.host('h2').address} .*self permanent`));
  });

  it('removing the sandbox on h2 removes its FDB and neighbour entries on h1 within 1 s of the command returning', async () => {
    const a2 = await sandbox('h2', 'a2');
    const mac = a2.endpoints[0]!.macAddress!;
    const netId = (JSON.parse(await ok('h1', ['network', 'inspect', 'ovl-e2e'])) as { Id: string }[])[0]!.Id;
    await ok('h2', ['sandbox', 'rm', '-f', 'a2']);
    const t0 = Date.now();
    await waitFor(
      'h1 forgets a2',
      async () => {
        const f = await run('nsenter', [`--net=${overlayNs('h1', netId)}`, 'bridge', 'fdb', 'show', 'dev', 'vxlan0']);
        const n = await run('nsenter', [`--net=${overlayNs('h1', netId)}`, 'ip', 'neigh', 'show', 'dev', 'vxlan0']);
        return !f.stdout.includes(mac) && !n.stdout.includes(mac);
      },
      1000,
      20,
    );
    console.log(`overlay e2e: a2's entries gone on h1 ${Date.now() - t0} ms after sandbox rm returned`);
  });
});
