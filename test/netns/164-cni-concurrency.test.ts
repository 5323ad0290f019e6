/**
 * CNI correctness under pressure (issue 9, defect 7), through weftd's CNI endpoint (what the
 * plugin executable forwards): ten concurrent ADDs of one container and interface give one
 * sandbox and every caller the same complete result; identity uses the whole container id
 * (ids sharing a 12-character prefix are different containers); GC collects only attachments
 * CNI made — a label an API client sets cannot make it collect theirs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimHost } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

interface CniOut {
  exitCode: number;
  output?: { code?: number; msg?: string; interfaces?: { name: string; mac?: string; sandbox?: string }[]; ips?: { address: string }[] };
}

describe('CNI under pressure: concurrency, identity, GC', () => {
  let h: SimHost;
  const conf = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ cniVersion: '1.1.0', name: 'cc', type: 'weft', ipam: { subnet: '10.164.0.0/24' }, ...extra });
  const cni = (command: string, containerId: string, netns: string, stdin = conf()): Promise<CniOut> =>
    h.client.request<CniOut>('POST', '/v1/cni', {
      plugin: 'weft',
      env: { CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: netns, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      stdin,
    });
  const container = async (tag: string): Promise<string> => `/run/netns/${await h.extraNetns(tag)}`;
  const sandboxesOf = async (cid: string): Promise<SandboxView[]> =>
    (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).filter((s) => s.labels['weft.cni/container-id'] === cid);

  before(async () => {
    h = await SimHost.create('cnicc');
    await h.start();
  });
  after(async () => {
    await h?.cleanup();
  });

  it('ten concurrent ADDs of one container: one sandbox, and every caller gets the same complete result', async () => {
    const ns = await container('c10');
    // The network exists first, so the ADDs race on the container, not on creating the network.
    assert.equal((await cni('ADD', 'warmup', await container('warm'))).exitCode, 0);
    const results = await Promise.all(Array.from({ length: 10 }, () => cni('ADD', 'concurrent1', ns)));
    for (const [i, r] of results.entries()) {
      assert.equal(r.exitCode, 0, `ADD ${i}: ${JSON.stringify(r.output)}`);
      for (const itf of r.output!.interfaces!) assert.ok(itf.mac, `ADD ${i}: interface ${itf.name} has its MAC (a complete result)`);
    }
    for (const r of results.slice(1)) assert.deepEqual(r.output, results[0]!.output, 'every caller got the same result');
    const sbs = await sandboxesOf('concurrent1');
    assert.equal(sbs.length, 1, 'one sandbox');
    assert.equal(sbs[0]!.endpoints.length, 1, 'one endpoint');
    const ifs = (await SimHost.inNetns(ns, 'ip', ['-o', 'link', 'show'])).stdout.match(/eth\d/g);
    assert.deepEqual(ifs, ['eth0'], 'one interface in the container');
  });

  it('identity uses the whole container id: ids sharing a long prefix are different containers', async () => {
    const long = 'a'.repeat(1000);
    const near = 'aaaaaaaaaaaab';
    const a = await cni('ADD', long, await container('long'));
    const b = await cni('ADD', near, await container('near'));
    assert.equal(a.exitCode, 0, JSON.stringify(a.output));
    assert.equal(b.exitCode, 0, `the second id is another container, not "try again later": ${JSON.stringify(b.output)}`);
    assert.notEqual(a.output!.ips![0]!.address, b.output!.ips![0]!.address);
    assert.equal((await sandboxesOf(long)).length, 1);
    assert.equal((await sandboxesOf(near)).length, 1);
    assert.equal((await cni('DEL', near, '')).exitCode, 0);
    assert.equal((await sandboxesOf(near)).length, 0);
    assert.equal((await sandboxesOf(long)).length, 1, 'deleting one leaves the other');
    assert.equal((await cni('DEL', long, '')).exitCode, 0);
  });

  it('GC collects only what CNI made: API clients cannot set the CNI label, and their sandboxes stay', async () => {
    const mine = await cni('ADD', 'gcmine', await container('gcm'));
    assert.equal(mine.exitCode, 0);
    const forged = await h.client
      .request<SandboxView>('POST', '/v1/sandboxes', {
        name: 'forged',
        labels: { 'weft.cni/container-id': 'forged' },
        networks: [{ network: 'cc' }],
      })
      .then(
        () => 'created',
        (e: Error) => e.message,
      );
    assert.match(forged, /reserved for weft/, 'the API refuses the label CNI uses to recognise its sandboxes');
    const own = await h.client.request<SandboxView>('POST', '/v1/sandboxes', { name: 'apiown', networks: [{ network: 'cc' }] });
    const gc = await cni('GC', '', '', conf({ 'cni.dev/valid-attachments': [] }));
    assert.equal(gc.exitCode, 0, JSON.stringify(gc.output));
    assert.equal((await sandboxesOf('gcmine')).length, 0, "CNI's own attachment was collected");
    const left = (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).map((s) => s.name);
    assert.ok(left.includes('apiown'), "the API's sandbox on the same network is not GC's");
    await h.client.request('DELETE', `/v1/sandboxes/${own.id}`);
  });
});
