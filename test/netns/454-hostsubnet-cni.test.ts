/**
 * Kubernetes-style nodes on hostsubnet: each simulated node (a `weft lab` host with its weftd)
 * has the weft CNI plugin installed with `weft cni install`, and the test calls it as a kubelet's
 * runtime does (CNI_* environment, config on stdin, inside the node's namespace) for pods whose
 * namespaces it made. Pods get addresses from their node's subnet lease; pods on different nodes
 * talk. h1's network is provisioned with `weft network create` (Flannel's daemon per node);
 * h2's is created by its first ADD from the same config (driver hostsubnet in the conflist).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import { killAndWait } from '../../src/lab/etcd-process.js';
import { execPlugin } from './cni-harness.js';

const node = process.execPath;
const CLUSTER = '10.246.0.0/16';
const CONF = {
  cniVersion: '1.0.0',
  name: 'hs-pods',
  type: 'weft',
  driver: 'hostsubnet',
  ipam: { subnet: CLUSTER },
  options: { backend: 'vxlan', 'subnet-len': '24' },
};

interface Pod {
  node: string;
  id: string;
  ns: string;
  ip?: string;
  gateway?: string;
}

describe(
  'hostsubnet for Kubernetes-style nodes: the weft CNI plugin gives pods addresses from their node’s lease',
  { timeout: 600_000 },
  () => {
    let lab: ClusterLab;
    const tag = randomBytes(3).toString('hex');
    const pods: Pod[] = [
      { node: 'h1', id: `pod-a-${tag}`, ns: `hs-pod-${tag}-a` },
      { node: 'h1', id: `pod-b-${tag}`, ns: `hs-pod-${tag}-b` },
      { node: 'h2', id: `pod-c-${tag}`, ns: `hs-pod-${tag}-c` },
    ];
    const procs: ChildProcess[] = [];
    const binOf = (h: string): string => path.join(lab.state.dir, h, 'cni-bin');
    const cni = (p: Pod, command: 'ADD' | 'DEL' | 'CHECK', prevResult?: unknown) =>
      execPlugin(
        path.join(binOf(p.node), 'weft'),
        { command, containerId: p.id, netns: `/run/netns/${p.ns}`, ifname: 'eth0', hostNs: `/run/netns/${lab.host(p.node).ns}` },
        JSON.stringify(prevResult ? { ...CONF, prevResult } : CONF),
        60_000,
      );
    const bridgeSubnet = async (h: string): Promise<string | undefined> => {
      const r = JSON.parse((await lab.exec(h, ['ip', '-j', '-4', 'addr', 'show'])).stdout) as {
        ifname: string;
        addr_info: { local: string }[];
      }[];
      const a = r.filter((l) => l.ifname.startsWith('whb')).flatMap((l) => l.addr_info.map((x) => x.local));
      return a.length === 1 ? a[0]!.split('.').slice(0, 3).join('.') : undefined;
    };

    before(async () => {
      lab = await ClusterLab.up({ hosts: 2, underlay: 'l2', name: `hs${tag}` });
      for (const h of ['h1', 'h2']) {
        const s = lab.host(h);
        const r = await lab.weft(h, [
          'cni',
          'install',
          '--bin-dir',
          binOf(h),
          '--socket',
          s.socket,
          '--state-dir',
          s.stateDir,
          '--run-dir',
          s.runDir,
        ]);
        assert.equal(r.code, 0, r.stderr);
      }
      for (const p of pods) {
        await mustRun('ip', ['netns', 'add', p.ns]);
        await mustRun('ip', ['-n', p.ns, 'link', 'set', 'lo', 'up']);
      }
    });
    after(async () => {
      for (const p of procs) if (p.pid && p.exitCode === null) await killAndWait(p.pid);
      for (const p of pods) await run('ip', ['netns', 'del', p.ns]);
      await lab?.down();
    });

    it('ADD on each node: pods are addressed from that node’s /24, with its gateway', async () => {
      const created = await lab.weft('h1', [
        'network',
        'create',
        '-d',
        'hostsubnet',
        '--subnet',
        CLUSTER,
        '-o',
        'backend=vxlan',
        '-o',
        'subnet-len=24',
        'hs-pods',
      ]);
      assert.equal(created.code, 0, created.stderr);
      for (const p of pods) {
        const r = await cni(p, 'ADD');
        assert.equal(r.code, 0, `ADD ${p.id} on ${p.node}: ${r.stdout} ${r.stderr}`);
        const ips = (r.json as { ips: { address: string; gateway: string }[] }).ips;
        p.ip = ips[0]!.address.split('/')[0]!;
        p.gateway = ips[0]!.gateway;
        const check = await cni(p, 'CHECK', r.json);
        assert.equal(check.code, 0, `CHECK ${p.id}: ${check.stdout}`);
      }
      for (const h of ['h1', 'h2']) {
        const sub = await bridgeSubnet(h);
        assert.ok(sub, `${h} has its subnet on its bridge`);
        for (const p of pods.filter((x) => x.node === h)) {
          assert.ok(p.ip!.startsWith(`${sub}.`), `${p.id} ${p.ip} from ${h}'s lease ${sub}.0/24`);
          assert.equal(p.gateway, `${sub}.1`);
        }
      }
      assert.notEqual(await bridgeSubnet('h1'), await bridgeSubnet('h2'), 'one subnet per node');
      const nets = JSON.parse((await lab.weft('h2', ['network', 'inspect', 'hs-pods'])).stdout) as { Driver?: string; driver?: string }[];
      assert.equal(nets[0]!.Driver ?? nets[0]!.driver, 'hostsubnet', "h2's network, made by its first ADD, is a hostsubnet network");
    });

    it('pods on different nodes exchange ICMP and TCP with their own addresses', async () => {
      const [a, b, c] = pods as [Pod, Pod, Pod];
      const inPod = (p: Pod, argv: string[]) => run('nsenter', [`--net=/run/netns/${p.ns}`, ...argv], { timeoutMs: 10_000 });
      const pairs: [Pod, Pod][] = [
        [a, c],
        [c, a],
        [b, c],
        [a, b],
      ];
      for (const [x, y] of pairs)
        await waitFor(
          `ping ${x.id} → ${y.id}`,
          async () => (await inPod(x, ['busybox', 'ping', '-c', '1', '-W', '2', y.ip!])).code === 0,
          15_000,
        );
      procs.push(spawn('nsenter', [`--net=/run/netns/${c.ns}`, node, NETTOOL, 'tcp-server', '7700'], { stdio: 'ignore' }));
      const reply = await waitFor(
        'tcp a → c',
        async () => {
          const r = await inPod(a, [node, NETTOOL, 'tcp-client', c.ip!, '7700', 'pod']);
          return r.code === 0 ? r.stdout.trim() : undefined;
        },
        15_000,
      );
      assert.equal(reply, `${a.ip} pod`);
    });

    it('DEL releases each pod; DEL again is a success', async () => {
      for (const p of pods) {
        assert.equal((await cni(p, 'DEL')).code, 0);
        assert.equal((await cni(p, 'DEL')).code, 0, 'delete of what is gone');
      }
      for (const p of pods) {
        const links = JSON.parse((await run('ip', ['-n', p.ns, '-j', 'link', 'show'])).stdout) as { ifname: string }[];
        assert.deepEqual(
          links.map((l) => l.ifname),
          ['lo'],
          `${p.id}'s namespace is back to loopback only`,
        );
      }
    });
  },
);
