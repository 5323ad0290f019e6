/**
 * weft among the reference CNI plugins (/usr/lib/cni): a conflist weft → portmap → bandwidth →
 * tuning → firewall run the way libcni runs it (ADD in order with prevResult, CHECK, DEL in
 * reverse), checked against iptables, tc, sysctls and real traffic in the fake host; and the
 * reference `bridge` plugin using `weft-ipam` for its addresses.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SimHost, NETTOOL, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import { installCniPlugins } from '../../src/cli/cni-command.js';
import type { NetworkInspect } from '../../src/controller/inspect.js';
import { ChainRunner, execPlugin, type ConfList } from './cni-harness.js';

const REF = '/usr/lib/cni';

describe('CNI chaining with the reference plugins', () => {
  let h: SimHost;
  let bin: string;
  let chain: ChainRunner;
  const containers: string[] = [];
  const servers: number[] = [];

  before(async () => {
    h = await SimHost.create('cnichain');
    await h.start();
    bin = path.join(h.dir, 'cni-bin');
    installCniPlugins(bin, { socket: h.socket, stateDir: h.stateDir, runDir: h.runDir });
    chain = new ChainRunner([REF, bin], h.nsPath);
  });
  after(async () => {
    for (const p of servers) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    for (const c of containers) await run('ip', ['netns', 'del', c]);
    await h?.cleanup();
  });

  const container = async (tag: string): Promise<string> => {
    const name = `${h.ns}-${tag}`.slice(0, 60);
    await mustRun('ip', ['netns', 'add', name]);
    await mustRun('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    containers.push(name);
    return `/run/netns/${name}`;
  };
  const inHost = async (cmd: string, args: string[]): Promise<string> => {
    const r = await h.inHost(cmd, args);
    return r.code === 0 ? r.stdout : '';
  };

  it('has the reference plugins and iptables, and runs them in the fake host', async () => {
    for (const p of ['bridge', 'portmap', 'bandwidth', 'tuning', 'firewall'])
      assert.ok(existsSync(path.join(REF, p)), `${REF}/${p} is installed`);
    const v = await execPlugin(path.join(REF, 'portmap'), { command: 'VERSION' }, '');
    assert.equal(v.code, 0);
    assert.ok((v.json!.supportedVersions as string[]).includes('1.0.0'));
    assert.equal((await h.inHost('iptables', ['-S'])).code, 0, 'iptables works in the fake host');
  });

  it('weft → portmap → bandwidth → tuning → firewall: ADD, CHECK, traffic, DEL in reverse', async () => {
    const list: ConfList = {
      cniVersion: '1.0.0',
      name: 'chainnet',
      plugins: [
        {
          type: 'weft',
          bridge: 'chainbr0',
          ipam: { ranges: [[{ subnet: '10.205.0.0/24' }], [{ subnet: 'fd00:205::/64' }]] },
        },
        { type: 'portmap', capabilities: { portMappings: true }, snat: true },
        { type: 'bandwidth', capabilities: { bandwidth: true } },
        { type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.rp_filter': '2' } },
        { type: 'firewall', backend: 'iptables' },
      ],
    };
    const ns = await container('chain');
    const att = {
      containerId: 'chainctr',
      netns: ns,
      ifname: 'eth0',
      runtimeConfig: {
        portMappings: [{ hostPort: 18080, containerPort: 8080, protocol: 'tcp' }],
        bandwidth: { ingressRate: 8_000_000, ingressBurst: 1_000_000, egressRate: 8_000_000, egressBurst: 1_000_000 },
      },
    };
    const res = await chain.add(list, att);
    const ifs = res.interfaces as { name: string; sandbox?: string }[];
    const ip = (res.ips as { address: string }[])[0]!.address.split('/')[0]!;
    const hostVeth = ifs[1]!.name;
    assert.equal(ifs[0]!.name, 'chainbr0');
    assert.match(ip, /^10\.205\.0\./);
    assert.match((res.ips as { address: string }[])[1]!.address, /^fd00:205::/);
    // portmap: DNAT rules in the fake host; reach the container through the host port.
    assert.match(await inHost('iptables', ['-t', 'nat', '-S']), /--dport 18080/);
    const srv = await import('node:child_process').then((m) =>
      m.spawn('nsenter', [`--net=${ns}`, process.execPath, NETTOOL, 'tcp-server', '8080'], { stdio: 'ignore' }),
    );
    servers.push(srv.pid!);
    const reply = await waitFor('reply through the published port', async () => {
      const r = await h.inHost(process.execPath, [NETTOOL, 'tcp-client', '10.205.0.1', '18080', 'via-portmap']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.match(reply, /via-portmap$/);
    // bandwidth: a token bucket on the host side of weft's veth.
    assert.match(await inHost('tc', ['qdisc', 'show', 'dev', hostVeth]), /tbf/);
    // tuning: the sysctl inside the container.
    const rp = await SimHost.inNetns(ns, 'cat', ['/proc/sys/net/ipv4/conf/eth0/rp_filter']);
    assert.equal(rp.stdout.trim(), '2');
    // firewall: the container's address in CNI-FORWARD.
    assert.match(await inHost('iptables', ['-S', 'CNI-FORWARD']), new RegExp(ip.replace(/\./g, '\\.')));
    // portmap 1.1.1's own CHECK looks for its IPv4 rules in the ip6tables chain (or for an IPv6
    // chain it never made, on IPv4-only networks) and fails whatever the main plugin is.
    await chain.check(list, att, ['portmap']);

    await chain.del(list, att);
    assert.doesNotMatch(await inHost('iptables', ['-t', 'nat', '-S']), /--dport 18080/, 'portmap rules gone');
    assert.doesNotMatch(await inHost('iptables', ['-S', 'CNI-FORWARD']), new RegExp(ip.replace(/\./g, '\\.')), 'firewall rules gone');
    assert.notEqual((await h.inHost('ip', ['link', 'show', hostVeth])).code, 0, 'veth gone');
    const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/chainnet');
    assert.equal(Object.keys(net.Containers).length, 0);
    await chain.del(list, att); // DEL again, whole chain
  });

  it('the reference bridge plugin with weft-ipam: weft hands out the addresses', async () => {
    const list: ConfList = {
      cniVersion: '1.0.0',
      name: 'refipam',
      plugins: [{ type: 'bridge', bridge: 'refb0', isGateway: true, ipam: { type: 'weft-ipam', subnet: '10.206.0.0/24' } }],
    };
    const ns1 = await container('ri1');
    const ns2 = await container('ri2');
    const a = { containerId: 'refctr1', netns: ns1, ifname: 'eth0' };
    const b = { containerId: 'refctr2', netns: ns2, ifname: 'eth0' };
    const ra = await chain.add(list, a);
    const rb = await chain.add(list, b);
    const ipA = (ra.ips as { address: string }[])[0]!.address;
    const ipB = (rb.ips as { address: string }[])[0]!.address;
    assert.deepEqual([ipA, ipB], ['10.206.0.2/24', '10.206.0.3/24']);
    assert.match((await SimHost.inNetns(ns1, 'ip', ['-4', '-o', 'addr', 'show', 'eth0'])).stdout, /10\.206\.0\.2\/24/);
    const ping = await SimHost.inNetns(ns1, 'busybox', ['ping', '-c', '1', '-W', '2', '10.206.0.3']);
    assert.equal(ping.code, 0, 'the two containers talk over the reference bridge');
    const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/refipam');
    assert.equal(net.Options['com.docker.network.bridge.name'], 'refb0', 'the weft network is the bridge the plugin uses');
    // A weft endpoint on the same network never gets an address the reference bridge holds.
    const ns3 = await container('ri3');
    const w = await execPlugin(
      path.join(bin, 'weft'),
      { command: 'ADD', containerId: 'refctr3', netns: ns3, ifname: 'eth0', hostNs: h.nsPath },
      JSON.stringify({ cniVersion: '1.0.0', name: 'refipam', type: 'weft' }),
    );
    assert.equal(w.code, 0, w.stdout);
    assert.equal((w.json!.ips as { address: string }[])[0]!.address, '10.206.0.4/24');
    const ping3 = await SimHost.inNetns(ns3, 'busybox', ['ping', '-c', '1', '-W', '2', '10.206.0.2']);
    assert.equal(ping3.code, 0, 'a weft container reaches a reference-bridge container on the shared bridge');
    await execPlugin(
      path.join(bin, 'weft'),
      { command: 'DEL', containerId: 'refctr3', netns: ns3, ifname: 'eth0', hostNs: h.nsPath },
      JSON.stringify({ cniVersion: '1.0.0', name: 'refipam', type: 'weft' }),
    );
    await chain.del(list, a);
    await chain.del(list, b);
    const again = await chain.add(list, a);
    assert.equal((again.ips as { address: string }[])[0]!.address, '10.206.0.5/24', 'released addresses come back round-robin');
    await chain.del(list, a);
  });
});
