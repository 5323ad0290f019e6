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
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, waitFor } from '../../src/lab/sim-host.js';
import { CniPods, podOf, type Pod as LabPod } from './cni-pods.js';

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

interface Pod extends LabPod {
  gateway?: string;
}

describe(
  'hostsubnet for Kubernetes-style nodes: the weft CNI plugin gives pods addresses from their node’s lease',
  { timeout: 600_000 },
  () => {
    let lab: ClusterLab;
    const tag = randomBytes(3).toString('hex');
    const pods: Pod[] = [podOf('hs', tag, 'h1', 'a'), podOf('hs', tag, 'h1', 'b'), podOf('hs', tag, 'h2', 'c')];
    const P = new CniPods(() => lab, pods);
    const cni = (p: Pod, command: 'ADD' | 'DEL' | 'CHECK', prevResult?: unknown) =>
      P.exec(p, command, prevResult ? { ...CONF, prevResult } : CONF);
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
      await P.setUp(['h1', 'h2'], async (h, args) => {
        const r = await lab.weft(h, args);
        assert.equal(r.code, 0, r.stderr);
      });
    });
    after(async () => {
      await P.tearDown();
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
      const pairs: [Pod, Pod][] = [
        [a, c],
        [c, a],
        [b, c],
        [a, b],
      ];
      for (const [x, y] of pairs) await P.waitPing(x, y, 15_000);
      P.serveTcp(c, 7700);
      const reply = await waitFor(
        'tcp a → c',
        async () => {
          const r = await P.inPod(a, [node, NETTOOL, 'tcp-client', c.ip!, '7700', 'pod'], 10_000);
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
      for (const p of pods) assert.deepEqual(await P.links(p), ['lo'], `${p.id}'s namespace is back to loopback only`);
    });
  },
);
