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
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { NETTOOL, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import { killAndWait } from '../../src/lab/etcd-process.js';
import { execPlugin } from './cni-harness.js';
import { node, overlayCliLab, tcpFrom } from './overlay-cli-lab.js';

const SUBNET = '10.97.0.0/24';
const CONF = { cniVersion: '1.0.0', name: 'o3-pods', type: 'weft', driver: 'overlay', ipam: { subnet: SUBNET } };

interface Pod {
  node: string;
  id: string;
  ns: string;
  ip?: string;
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
    { node: 'h1', id: `pod-a-${tag}`, ns: `o3-pod-${tag}-a` },
    { node: 'h1', id: `pod-b-${tag}`, ns: `o3-pod-${tag}-b` },
    { node: 'h2', id: `pod-c-${tag}`, ns: `o3-pod-${tag}-c` },
    // Only for the refusal on a node without a cluster store.
    { node: 'h2', id: `pod-d-${tag}`, ns: `o3-pod-${tag}-d` },
    // A pod with a hostPort (runtimeConfig.portMappings).
    { node: 'h1', id: `pod-e-${tag}`, ns: `o3-pod-${tag}-e` },
  ];
  const [a, b, c, d, e] = pods as [Pod, Pod, Pod, Pod, Pod];
  const procs: ChildProcess[] = [];
  const binOf = (h: string): string => path.join(L.lab.state.dir, h, 'cni-bin');
  const cni = (p: Pod, command: 'ADD' | 'DEL' | 'CHECK', conf: Record<string, unknown> = CONF) =>
    execPlugin(
      path.join(binOf(p.node), 'weft'),
      { command, containerId: p.id, netns: `/run/netns/${p.ns}`, ifname: 'eth0', hostNs: `/run/netns/${L.host(p.node).ns}` },
      JSON.stringify(command === 'CHECK' ? { ...conf, prevResult: p.result } : conf),
      60_000,
    );
  const inPod = (p: Pod, argv: string[]) => run('nsenter', [`--net=/run/netns/${p.ns}`, ...argv], { timeoutMs: 15_000 });
  const podLinks = async (p: Pod): Promise<string[]> =>
    (JSON.parse((await run('ip', ['-n', p.ns, '-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname);
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

  before(async () => {
    for (const h of ['h1', 'h2']) {
      const s = L.host(h);
      await L.ok(h, ['cni', 'install', '--bin-dir', binOf(h), '--socket', s.socket, '--state-dir', s.stateDir, '--run-dir', s.runDir]);
    }
    for (const p of pods) {
      await mustRun('ip', ['netns', 'add', p.ns]);
      await mustRun('ip', ['-n', p.ns, 'link', 'set', 'lo', 'up']);
    }
  });
  after(async () => {
    for (const p of procs) if (p.pid && p.exitCode === null) await killAndWait(p.pid);
    for (const p of pods) await run('ip', ['netns', 'del', p.ns]);
  });

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
      await waitFor(
        `ping ${x.id} → ${y.id}`,
        async () => (await inPod(x, ['busybox', 'ping', '-c', '1', '-W', '2', y.ip!])).code === 0,
        20_000,
        100,
      );
    procs.push(spawn('nsenter', [`--net=/run/netns/${c.ns}`, node, NETTOOL, 'tcp-server', '7700'], { stdio: 'ignore' }));
    procs.push(spawn('nsenter', [`--net=/run/netns/${a.ns}`, node, NETTOOL, 'tcp-server', '7700'], { stdio: 'ignore' }));
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
    assert.deepEqual(await podLinks(c), ['lo'], "c's namespace is back to loopback only");
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
    procs.push(spawn('nsenter', [`--net=/run/netns/${e.ns}`, node, NETTOOL, 'tcp-server', '7707'], { stdio: 'ignore' }));
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
    assert.deepEqual(await podLinks(d), ['lo'], 'nothing was made in the pod');
    assert.doesNotMatch(await L.ok('h2', ['sandbox', 'ls']), new RegExp(d.id));
    assert.doesNotMatch(await L.ok('h2', ['network', 'ls']), /o3-nostore/);
  });
});
