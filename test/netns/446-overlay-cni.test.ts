/**
 * Pods on one overlay network across Kubernetes-style nodes: each simulated node (a `weft lab`
 * host with its weftd on the lab's etcd) has the weft CNI plugin installed with `weft cni
 * install`, and the test calls the installed executable as a runtime does (CNI_* environment,
 * config on stdin, inside the node's namespace) for pod namespaces it made.
 *  - the first ADD on h1 creates the overlay network from the config (global: h2 sees it);
 *    pods on h1 and h2 get addresses of its one subnet, the result lists the gateway-bridge leg
 *    that holds their default route; CHECK passes; ADD again reports the same attachment;
 *  - pods on different nodes exchange ICMP and TCP with their own addresses;
 *  - DEL on h2 removes the pod's endpoint there, and h1's FDB and neighbour entries for it;
 *    DEL again is a success;
 *  - runtimeConfig.portMappings (the nodes run nftables): a hostPort on h1 reaches the pod from
 *    h2 through its leg, with the client's own address seen, and goes with DEL;
 *  - a node whose weftd has no cluster store refuses an overlay config with a CNI error JSON
 *    naming --cluster-store, and makes nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { run, waitFor } from '../../src/lab/sim-host.js';
import { CniPods, podOf, type Pod as LabPod } from './cni-pods.js';
import { overlayCliLab, tcpFrom } from './overlay-cli-lab.js';

const SUBNET = '10.97.0.0/24';
const CONF = { cniVersion: '1.0.0', name: 'o3-pods', type: 'weft', driver: 'overlay', ipam: { subnet: SUBNET } };

interface Pod extends LabPod {
  mac?: string;
  /** Its leg's address on the node's gateway bridge. */
  leg?: string;
  result?: Record<string, unknown>;
}

interface AddResult {
  interfaces: { name: string; mac?: string; sandbox?: string }[];
  ips: { address: string; gateway?: string; interface?: number }[];
  routes: { dst: string; gw?: string }[];
}

describe('overlay through the weft CNI plugin: pods on two lab nodes on one overlay network', { timeout: 480_000 }, () => {
  // nftables in the nodes' namespaces, so portMappings are published (DNAT to the pod's leg).
  const L = overlayCliLab({ prefix: 'o3', weftdArgs: ['--firewall', 'nftables'] });
  const tag = randomBytes(3).toString('hex');
  const pods: Pod[] = [
    podOf('o3', tag, 'h1', 'a'),
    podOf('o3', tag, 'h1', 'b'),
    podOf('o3', tag, 'h2', 'c'),
    // Only for the refusal on a node without a cluster store.
    podOf('o3', tag, 'h2', 'd'),
    // A pod with a hostPort (runtimeConfig.portMappings).
    podOf('o3', tag, 'h1', 'e'),
  ];
  const [a, b, c, d, e] = pods as [Pod, Pod, Pod, Pod, Pod];
  const P = new CniPods(() => L.lab, pods);
  const cni = (p: Pod, command: 'ADD' | 'DEL' | 'CHECK', conf: Record<string, unknown> = CONF) =>
    P.exec(p, command, command === 'CHECK' ? { ...conf, prevResult: p.result } : conf);
  const inPod = (p: Pod, argv: string[]) => P.inPod(p, argv, 15_000);
  const networkId = async (): Promise<string> =>
    (JSON.parse(await L.ok('h1', ['network', 'inspect', CONF.name])) as { Id: string }[])[0]!.Id;
  /** h1's view of remote endpoints in the network's namespace: FDB and neighbour entries of vxlan0. */
  const h1Tables = async (): Promise<string> => {
    const ns = L.overlayNs('h1', await networkId());
    const f = await run('nsenter', [`--net=${ns}`, 'bridge', 'fdb', 'show', 'dev', 'vxlan0']);
    const n = await run('nsenter', [`--net=${ns}`, 'ip', 'neigh', 'show', 'dev', 'vxlan0']);
    assert.equal(f.code + n.code, 0, `h1's overlay namespace is readable: ${f.stderr} ${n.stderr}`);
    return `${f.stdout}\n${n.stdout}`;
  };

  before(() => P.setUp(['h1', 'h2'], L.ok));
  after(() => P.tearDown());

  it('ADD on h1 creates the overlay network; pods on both nodes get addresses of its subnet; CHECK passes', async () => {
    assert.equal(await L.upHosts(), 2, 'both nodes are up in the cluster store');
    for (const p of [a, b, c]) {
      const r = await cni(p, 'ADD');
      assert.equal(r.code, 0, `ADD ${p.id} on ${p.node}: ${r.stdout} ${r.stderr}`);
      p.result = r.json;
      const res = r.json as unknown as AddResult;
      const eth0 = res.interfaces.findIndex((i) => i.name === 'eth0' && i.sandbox === `/run/netns/${p.ns}`);
      assert.ok(eth0 >= 0, `eth0 in the pod's namespace is reported: ${r.stdout}`);
      const own = res.ips.find((i) => i.interface === eth0)!;
      assert.match(own.address, /^10\.97\.0\.\d+\/24$/, 'an address of the overlay subnet');
      assert.equal(own.gateway, '10.97.0.1');
      p.ip = own.address.split('/')[0]!;
      p.mac = res.interfaces[eth0]!.mac;
      // The default route is the gateway-bridge leg's, as in the pod's routing table.
      const leg = res.interfaces.findIndex((i) => i.name.startsWith('gw') && i.sandbox === `/run/netns/${p.ns}`);
      assert.ok(leg >= 0, `the gateway-bridge leg is reported: ${r.stdout}`);
      const legIp = res.ips.find((i) => i.interface === leg)!;
      p.leg = legIp.address.split('/')[0]!;
      assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: legIp.gateway }]);
      const route = await inPod(p, ['ip', '-j', 'route', 'show', 'default']);
      assert.equal((JSON.parse(route.stdout) as { gateway: string; dev: string }[])[0]?.gateway, legIp.gateway);
      const check = await cni(p, 'CHECK');
      assert.equal(check.code, 0, `CHECK ${p.id}: ${check.stdout}`);
    }
    assert.equal(new Set([a.ip, b.ip, c.ip]).size, 3, 'one address per pod across both nodes');
    // Each leg's address stays claimed on h1's gateway bridge (a later leg must not erase an earlier claim).
    const claims = (await run('ip', ['-n', L.host('h1').ns, 'neigh', 'show', 'dev', 'weft_gwbridge'])).stdout;
    for (const p of [a, b])
      assert.match(claims, new RegExp(`^${p.leg!.replace(/\./g, '\\.')} .*PERMANENT`, 'm'), `${p.id}'s leg claim: ${claims}`);
    assert.notEqual(a.leg, b.leg);
    const nets = JSON.parse(await L.ok('h2', ['network', 'inspect', CONF.name])) as { Driver: string; Labels: Record<string, string> }[];
    assert.equal(nets[0]!.Driver, 'overlay', "h2 attached to the overlay network h1's first ADD created");
    assert.equal(nets[0]!.Labels['weft.cni/created-by'], 'weft');
    // ADD again (a runtime retrying) reports the same attachment.
    const again = await cni(a, 'ADD');
    assert.equal(again.code, 0, again.stdout);
    assert.deepEqual((again.json as unknown as AddResult).ips, (a.result as unknown as AddResult).ips);
  });

  it('pods on different nodes exchange ICMP and TCP with their own addresses', async () => {
    for (const [x, y] of [
      [a, c],
      [c, a],
      [c, b],
      [a, b],
    ] as const)
      await P.waitPing(x, y, 20_000, 100);
    P.serveTcp(c, 7700);
    P.serveTcp(a, 7700);
    const ac = await waitFor('tcp a → c', () => tcpFrom(`/run/netns/${a.ns}`, c.ip!, 7700, 'pod'), 15_000, 200);
    assert.equal(ac, `${a.ip} pod`, 'c sees a’s own address (no NAT on the overlay)');
    const ca = await waitFor('tcp c → a', () => tcpFrom(`/run/netns/${c.ns}`, a.ip!, 7700, 'back'), 15_000, 200);
    assert.equal(ca, `${c.ip} back`);
  });

  it('DEL on h2 removes the pod’s endpoint there and its FDB and neighbour entries on h1; DEL again succeeds', async () => {
    assert.match(await L.ok('h2', ['sandbox', 'ls']), new RegExp(c.id), "c's sandbox is listed on h2 before DEL");
    const before = await h1Tables();
    assert.match(before, new RegExp(c.mac!), "h1's vxlan0 knows c's MAC before DEL");
    assert.match(before, new RegExp(`^${c.ip!.replace(/\./g, '\\.')} `, 'm'), "h1's vxlan0 has c's neighbour entry before DEL");
    const del = await cni(c, 'DEL');
    assert.equal(del.code, 0, del.stdout);
    const t0 = Date.now();
    await waitFor(
      'h1 forgets c',
      async () => {
        const t = await h1Tables();
        return !t.includes(c.mac!) && !new RegExp(`^${c.ip!.replace(/\./g, '\\.')} `, 'm').test(t);
      },
      10_000,
      50,
    );
    console.log(`overlay CNI: c's FDB/neighbour entries gone on h1 ${Date.now() - t0} ms after DEL returned`);
    assert.deepEqual(await P.links(c), ['lo'], "c's namespace is back to loopback only");
    assert.doesNotMatch(await L.ok('h2', ['sandbox', 'ls']), new RegExp(c.id), 'no sandbox left for c on h2');
    assert.equal((await cni(c, 'DEL')).code, 0, 'DEL of what is gone');
    assert.equal((await cni(c, 'CHECK')).code !== 0, true, 'CHECK of a deleted attachment fails');
    // The pods left on h1 keep talking.
    const ab = await tcpFrom(`/run/netns/${b.ns}`, a.ip!, 7700, 'still');
    assert.equal(ab, `${b.ip} still`);
    for (const p of [a, b]) assert.equal((await cni(p, 'DEL')).code, 0);
  });

  it('portMappings: a hostPort on h1 reaches the pod from h2 through the leg, and goes with DEL', async () => {
    const conf = {
      ...CONF,
      capabilities: { portMappings: true },
      runtimeConfig: { portMappings: [{ hostPort: 18097, containerPort: 7707, protocol: 'tcp' }] },
    };
    const add = await cni(e, 'ADD', conf);
    assert.equal(add.code, 0, add.stdout);
    P.serveTcp(e, 7707);
    const [h1, h2] = [L.host('h1'), L.host('h2')];
    const reply = await waitFor(
      'h2 reaches pod e through h1:18097',
      () => tcpFrom(`/run/netns/${h2.ns}`, h1.address, 18097, 'hp'),
      15_000,
      200,
    );
    assert.equal(reply, `${h2.address} hp`, 'the pod sees the client’s own address');
    assert.equal((await cni(e, 'DEL', conf)).code, 0);
    assert.equal(await tcpFrom(`/run/netns/${h2.ns}`, h1.address, 18097, 'gone', 800), undefined, 'the hostPort went with DEL');
  });

  it('a node whose weftd has no cluster store refuses an overlay config with a CNI error naming --cluster-store', async () => {
    await L.lab.kill('h2');
    L.host('h2').noStore = true;
    await L.lab.start('h2');
    for (const conf of [CONF, { ...CONF, name: 'o3-nostore', ipam: { subnet: '10.98.0.0/24' } }]) {
      const r = await cni(d, 'ADD', conf);
      assert.notEqual(r.code, 0, `${conf.name}: ADD without a cluster store was accepted: ${r.stdout}`);
      const err = r.json as { code?: number; msg?: string; details?: string } | undefined;
      assert.equal(err?.code, 7, `${conf.name}: CNI "invalid network configuration": ${r.stdout}`);
      assert.match(`${err?.msg} ${err?.details}`, /--cluster-store/, `${conf.name}: the error says what is missing`);
    }
    assert.deepEqual(await P.links(d), ['lo'], 'nothing was made in the pod');
    assert.doesNotMatch(await L.ok('h2', ['sandbox', 'ls']), new RegExp(d.id));
    assert.doesNotMatch(await L.ok('h2', ['network', 'ls']), /o3-nostore/);
  });
});
