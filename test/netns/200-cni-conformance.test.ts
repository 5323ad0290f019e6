/**
 * weft's CNI plugins called exactly as a runtime calls them (environment, stdin, stdout, exit
 * code), for every verb and every supported cniVersion, with weftd running in a fake host;
 * errors give the spec's error JSON and change nothing; then ADD/DEL with weftd stopped (the
 * in-process fallback), and weftd seeing the result when it comes back.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { SimHost, mustRun, run } from '../../src/lab/sim-host.js';
import { installCniPlugins } from '../../src/cli/cni-command.js';
import { SUPPORTED_VERSIONS } from '../../src/api/cni/cni-versions.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';
import { execPlugin, type Invocation } from './cni-harness.js';

describe('CNI plugin conformance (weft, weft-ipam)', () => {
  let h: SimHost;
  let bin: string;
  const containers: string[] = [];

  before(async () => {
    h = await SimHost.create('cni');
    await h.start();
    bin = path.join(h.dir, 'cni-bin');
    // The install configuration names the fake host's weftd and store: nothing in the
    // network configurations below says where weft is.
    installCniPlugins(bin, { socket: h.socket, stateDir: h.stateDir, runDir: h.runDir });
  });
  after(async () => {
    for (const c of containers) await run('ip', ['netns', 'del', c]);
    await h?.cleanup();
  });

  const conf = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    cniVersion: '1.0.0',
    name: 'cninet',
    type: 'weft',
    bridge: 'cnit0',
    ipam: { subnet: '10.201.0.0/24' },
    ...extra,
  });
  const container = async (tag: string): Promise<string> => {
    const name = `${h.ns}-${tag}`.slice(0, 60);
    await mustRun('ip', ['netns', 'add', name]);
    containers.push(name);
    return `/run/netns/${name}`;
  };
  const plugin = (inv: Invocation, stdin: string | Record<string, unknown>, which = 'weft') =>
    execPlugin(path.join(bin, which), { hostNs: h.nsPath, ...inv }, typeof stdin === 'string' ? stdin : JSON.stringify(stdin));
  const addrs = async (ns: string, ifname: string): Promise<string[]> => {
    const r = await SimHost.inNetns(ns, 'ip', ['-j', 'addr', 'show', 'dev', ifname]);
    if (r.code !== 0) return [];
    return (JSON.parse(r.stdout) as { addr_info: { family: string; local: string; prefixlen: number }[] }[])[0]!.addr_info
      .filter((a) => a.family === 'inet')
      .map((a) => `${a.local}/${a.prefixlen}`);
  };
  /** Everything a failed call must leave untouched. */
  const snapshot = async (): Promise<string> => {
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    const nets = await h.client.request<NetworkInspect[]>('GET', '/v1/networks');
    const links = (await h.inHost('ip', ['-o', 'link', 'show'])).stdout
      .split('\n')
      .map((l) => l.split(': ')[1])
      .sort();
    return JSON.stringify({
      sbs: sbs.map((s) => [s.name, s.endpoints.length]),
      nets: nets.map((n) => [n.Name, Object.keys(n.Containers).length]),
      links,
    });
  };

  it('runs against the weftd of the fake host', async () => {
    const info = await h.client.request<{ pid: number }>('GET', '/v1/info');
    assert.ok(info.pid > 0);
    assert.ok(existsSync(path.join(bin, 'weft')) && existsSync(path.join(bin, 'weft-ipam')), 'install put both executables in the bin dir');
  });

  it('VERSION lists every supported version', async () => {
    for (const which of ['weft', 'weft-ipam']) {
      const r = await plugin({ command: 'VERSION' }, '', which);
      assert.equal(r.code, 0, r.stdout);
      assert.deepEqual(r.json, { cniVersion: '1.1.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
      const bad = await plugin({ command: 'VERSION' }, { cniVersion: '9.9.9' }, which);
      assert.equal(bad.code, 1);
      assert.equal(bad.json?.code, 1);
    }
  });

  for (const v of SUPPORTED_VERSIONS) {
    it(`ADD, ADD again, CHECK, STATUS, GC, DEL, DEL again — cniVersion ${v}`, async () => {
      const ns = await container(`v${v.replace(/\./g, '')}`);
      const cid = `ctr-${v}`;
      const c = conf({ cniVersion: v });
      const inv = { containerId: cid, netns: ns, ifname: 'eth0' };
      const add = await plugin({ command: 'ADD', ...inv }, c);
      assert.equal(add.code, 0, add.stdout + add.stderr);
      const res = add.json!;
      assert.equal(res.cniVersion, v);
      const ifs = res.interfaces as { name: string; mac?: string; sandbox?: string; mtu?: number }[];
      assert.equal(ifs.length, 3);
      assert.equal(ifs[0]!.name, 'cnit0');
      assert.deepEqual({ name: ifs[2]!.name, sandbox: ifs[2]!.sandbox }, { name: 'eth0', sandbox: ns });
      assert.equal(ifs[2]!.mtu, v === '1.1.0' ? 1500 : undefined, 'interface mtu only from 1.1.0');
      const ips = res.ips as { version?: string; address: string; gateway: string; interface: number }[];
      assert.equal(ips.length, 1);
      assert.match(ips[0]!.address, /^10\.201\.0\.\d+\/24$/);
      assert.equal(ips[0]!.gateway, '10.201.0.1');
      assert.equal(ips[0]!.interface, 2);
      assert.equal(ips[0]!.version, v.startsWith('0.') ? '4' : undefined, 'ips carry "version" only before 1.0.0');
      assert.deepEqual(res.routes, [{ dst: '0.0.0.0/0', gw: '10.201.0.1' }]);
      // The kernel has what the result says.
      assert.deepEqual(await addrs(ns, 'eth0'), [ips[0]!.address]);
      const mac = (JSON.parse((await SimHost.inNetns(ns, 'ip', ['-j', 'link', 'show', 'eth0'])).stdout) as { address: string }[])[0]!
        .address;
      assert.equal(mac, ifs[2]!.mac);
      const hostVeth = JSON.parse((await h.inHost('ip', ['-j', 'link', 'show', ifs[1]!.name])).stdout) as { master: string }[];
      assert.equal(hostVeth[0]!.master, 'cnit0');
      // weft's model has it: an external sandbox named after the container, on the network.
      const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/cninet');
      assert.ok(Object.values(net.Containers).some((x) => x.IPv4Address === ips[0]!.address));
      const sbName = Object.values(net.Containers).find((x) => x.IPv4Address === ips[0]!.address)!.Name;
      const sb = await h.client.request<SandboxView>('GET', `/v1/sandboxes/${sbName}`);
      assert.equal(sb.kind, 'external');
      assert.equal(sb.netnsPath, ns);
      assert.equal(sb.labels['weft.cni/container-id'], cid);

      const again = await plugin({ command: 'ADD', ...inv }, c);
      assert.equal(again.code, 0, again.stdout);
      assert.deepEqual(again.json, res, 'ADD again reports the same attachment');
      assert.deepEqual(await addrs(ns, 'eth0'), [ips[0]!.address]);

      const check = await plugin({ command: 'CHECK', ...inv }, { ...c, prevResult: res });
      if (v === '0.3.0' || v === '0.3.1') assert.equal(check.json?.code, 1, 'CHECK needs 0.4.0');
      else assert.equal(check.code, 0, check.stdout);
      for (const verb of ['STATUS', 'GC']) {
        const r = await plugin({ command: verb }, { ...c, 'cni.dev/valid-attachments': [{ containerID: cid, ifname: 'eth0' }] });
        if (v === '1.1.0') assert.equal(r.code, 0, `${verb}: ${r.stdout}`);
        else assert.deepEqual([r.code, r.json?.code, r.json?.cniVersion], [1, 1, v], `${verb} needs 1.1.0`);
      }
      assert.deepEqual(await addrs(ns, 'eth0'), [ips[0]!.address], 'GC kept the valid attachment');

      const del = await plugin({ command: 'DEL', ...inv }, { ...c, prevResult: res });
      assert.equal(del.code, 0, del.stdout);
      assert.equal(del.stdout, '');
      assert.deepEqual(await addrs(ns, 'eth0'), [], 'eth0 is gone');
      assert.notEqual((await h.inHost('ip', ['link', 'show', ifs[1]!.name])).code, 0, 'host veth is gone');
      assert.notEqual((await h.cli(['sandbox', 'inspect', sbName])).code, 0, 'sandbox is gone');
      const net2 = await h.client.request<NetworkInspect>('GET', '/v1/networks/cninet');
      assert.ok(!Object.values(net2.Containers).some((x) => x.IPv4Address === ips[0]!.address), 'address released');
      const del2 = await plugin({ command: 'DEL', ...inv }, c);
      assert.equal(del2.code, 0, 'DEL is idempotent');
    });
  }

  it('errors: the spec error JSON on stdout, non-zero exit, nothing changed', async () => {
    const ns = await container('err');
    const before = await snapshot();
    const inv = { command: 'ADD', containerId: 'errctr', netns: ns, ifname: 'eth0' };
    const cases: [string, Invocation, string | Record<string, unknown>, number][] = [
      ['bad JSON', inv, '{"cniVersion": "1.0.0", "name": ', 6],
      ['unknown cniVersion', inv, conf({ cniVersion: '9.9.9' }), 1],
      ['missing cniVersion', inv, { ...conf(), cniVersion: undefined }, 1],
      ['missing CNI_NETNS on ADD', { ...inv, omit: ['CNI_NETNS'] }, conf(), 4],
      ['missing CNI_CONTAINERID', { ...inv, omit: ['CNI_CONTAINERID'] }, conf(), 4],
      ['missing CNI_COMMAND', { ...inv, omit: ['CNI_COMMAND'] }, conf(), 4],
      ['bad ifname (slash)', { ...inv, ifname: 'eth/0' }, conf(), 4],
      ['bad ifname (16 bytes)', { ...inv, ifname: 'a234567890123456' }, conf(), 4],
      ['bad container id', { ...inv, containerId: '-x' }, conf(), 4],
      ['bad network name', inv, conf({ name: 'no spaces' }), 7],
      ['wrong field type', inv, conf({ mtu: 'big' }), 7],
      ['netns does not exist', { ...inv, netns: '/run/netns/weft-no-such-ns' }, conf(), 3],
      ['conflicting existing network', inv, conf({ bridge: 'otherbr0', name: 'cninet' }), 7],
      ['CHECK without prevResult', { ...inv, command: 'CHECK' }, conf(), 7],
    ];
    for (const [what, i, stdin, code] of cases) {
      const r = await plugin(i, stdin);
      assert.notEqual(r.code, 0, `${what}: exit status`);
      assert.ok(r.json, `${what}: error JSON on stdout (${r.stdout})`);
      assert.equal(r.json.code, code, `${what}: code (${r.stdout})`);
      assert.equal(typeof r.json.msg, 'string', what);
      assert.equal(typeof r.json.cniVersion, 'string', what);
    }
    assert.equal(await snapshot(), before, 'nothing changed');
    assert.deepEqual(await addrs(ns, 'eth0'), []);
  });

  it('a network made with weft network create is used; one made by CNI shows in weft network inspect', async () => {
    await h.cliOk(['network', 'create', '--subnet', '10.202.0.0/24', '-o', 'com.docker.network.bridge.name=clibr0', 'fromcli']);
    const ns = await container('cli');
    const r = await plugin(
      { command: 'ADD', containerId: 'clictr', netns: ns, ifname: 'eth0' },
      conf({ name: 'fromcli', bridge: undefined, ipam: undefined }),
    );
    assert.equal(r.code, 0, r.stdout);
    assert.match((r.json!.ips as { address: string }[])[0]!.address, /^10\.202\.0\./);
    assert.equal((r.json!.interfaces as { name: string }[])[0]!.name, 'clibr0');
    const made = JSON.parse(await h.cliOk(['network', 'inspect', 'cninet'])) as NetworkInspect[];
    assert.equal(made[0]!.Labels['weft.cni/created-by'], 'weft');
    assert.equal(made[0]!.Options['com.docker.network.bridge.name'], 'cnit0');
    assert.equal(made[0]!.IPAM.Config[0]!.Subnet, '10.201.0.0/24');
    assert.equal((await plugin({ command: 'DEL', containerId: 'clictr', netns: ns, ifname: 'eth0' }, conf({ name: 'fromcli' }))).code, 0);
  });

  it('capabilities: static ip and mac, dns, aliases, port mappings recorded; CNI_ARGS IP', async () => {
    const ns = await container('caps');
    const c = conf({
      cniVersion: '1.1.0',
      dns: { nameservers: ['10.201.0.1'], search: ['example.test'] },
      runtimeConfig: {
        ips: ['10.201.0.77/24'],
        mac: '02:00:00:00:00:77',
        aliases: { cninet: ['web'] },
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }],
      },
    });
    const r = await plugin({ command: 'ADD', containerId: 'capctr', netns: ns, ifname: 'eth0' }, c);
    assert.equal(r.code, 0, r.stdout);
    assert.equal((r.json!.ips as { address: string }[])[0]!.address, '10.201.0.77/24');
    assert.equal((r.json!.interfaces as { mac: string }[])[2]!.mac, '02:00:00:00:00:77');
    assert.deepEqual(r.json!.dns, { nameservers: ['10.201.0.1'], search: ['example.test'] });
    assert.deepEqual(await addrs(ns, 'eth0'), ['10.201.0.77/24']);
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    const sb = sbs.find((s) => s.labels['weft.cni/container-id'] === 'capctr')!;
    assert.deepEqual(JSON.parse(sb.labels['weft.cni/port-mappings']!), [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' }]);
    assert.deepEqual(sb.endpoints[0]!.aliases, ['web']);
    assert.deepEqual(sb.dns, ['10.201.0.1']);
    assert.equal((await plugin({ command: 'DEL', containerId: 'capctr', netns: ns, ifname: 'eth0' }, c)).code, 0);
    const ns2 = await container('args');
    const r2 = await plugin(
      { command: 'ADD', containerId: 'argctr', netns: ns2, ifname: 'eth0', args: 'IgnoreUnknown=1;IP=10.201.0.88;K8S_POD_NAME=p' },
      conf(),
    );
    assert.equal(r2.code, 0, r2.stdout);
    assert.equal((r2.json!.ips as { address: string }[])[0]!.address, '10.201.0.88/24');
    assert.equal((await plugin({ command: 'DEL', containerId: 'argctr', netns: ns2, ifname: 'eth0' }, conf())).code, 0);
  });

  it('a second network for the same container joins the same sandbox; traffic flows; GC drops stale attachments', async () => {
    const ns1 = await container('m1');
    const ns2 = await container('m2');
    const other = conf({ cniVersion: '1.1.0', name: 'cninet2', bridge: 'cnit1', ipam: { subnet: '10.203.0.0/24' } });
    const a1 = await plugin({ command: 'ADD', containerId: 'multi1', netns: ns1, ifname: 'eth0' }, conf());
    const a2 = await plugin({ command: 'ADD', containerId: 'multi1', netns: ns1, ifname: 'net1' }, other);
    const b1 = await plugin({ command: 'ADD', containerId: 'multi2', netns: ns2, ifname: 'eth0' }, conf());
    for (const r of [a1, a2, b1]) assert.equal(r.code, 0, r.stdout);
    const sb = (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).find((s) => s.labels['weft.cni/container-id'] === 'multi1')!;
    assert.deepEqual(sb.endpoints.map((e) => e.ifname).sort(), ['eth0', 'net1']);
    assert.equal((a2.json!.routes as unknown[] | undefined)?.length ?? 0, 0, 'only the first network gives the default route');
    const ipB = (b1.json!.ips as { address: string }[])[0]!.address.split('/')[0]!;
    const ping = await SimHost.inNetns(ns1, 'busybox', ['ping', '-c', '1', '-W', '2', ipB]);
    assert.equal(ping.code, 0, `multi1 reaches multi2 over cninet: ${ping.stdout}`);
    // GC with only multi1/eth0 valid: multi1's net1 is not on cninet, so it stays; multi2 goes.
    const gc = await plugin(
      { command: 'GC' },
      { ...conf({ cniVersion: '1.1.0' }), 'cni.dev/valid-attachments': [{ containerID: 'multi1', ifname: 'eth0' }] },
    );
    assert.equal(gc.code, 0, gc.stdout);
    assert.deepEqual(await addrs(ns2, 'eth0'), [], 'stale attachment collected');
    assert.equal((await addrs(ns1, 'eth0')).length, 1, 'valid attachment kept');
    assert.equal((await addrs(ns1, 'net1')).length, 1, 'other network untouched');
    // weft-run sandboxes are never collected by CNI GC.
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.ok(!sbs.some((s) => s.labels['weft.cni/container-id'] === 'multi2'));
    const d1 = await plugin({ command: 'DEL', containerId: 'multi1', netns: ns1, ifname: 'net1' }, other);
    assert.equal(d1.code, 0);
    assert.ok(
      (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).some((s) => s.labels['weft.cni/container-id'] === 'multi1'),
      'sandbox stays while eth0 is attached',
    );
    assert.equal((await plugin({ command: 'DEL', containerId: 'multi1', netns: ns1, ifname: 'eth0' }, conf())).code, 0);
    assert.ok(
      !(await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).some((s) => s.labels['weft.cni/container-id'] === 'multi1'),
      'last DEL removes the sandbox',
    );
  });

  it('DEL succeeds when the namespace is already gone, and for a container never added', async () => {
    const ns = await container('gone');
    const a = await plugin({ command: 'ADD', containerId: 'gonectr', netns: ns, ifname: 'eth0' }, conf());
    assert.equal(a.code, 0, a.stdout);
    await mustRun('ip', ['netns', 'del', path.basename(ns)]);
    const d = await plugin({ command: 'DEL', containerId: 'gonectr', netns: ns, ifname: 'eth0' }, conf());
    assert.equal(d.code, 0, d.stdout);
    const never = await plugin(
      { command: 'DEL', containerId: 'neveradded', ifname: 'eth0', omit: ['CNI_NETNS'] },
      conf({ name: 'nosuchnet' }),
    );
    assert.equal(never.code, 0, never.stdout);
  });

  it('weft-ipam: ADD reserves in the weft network, again is idempotent, DEL releases', async () => {
    const c = {
      cniVersion: '1.0.0',
      name: 'ipamnet',
      type: 'bridge',
      bridge: 'ipamb0',
      ipam: { type: 'weft-ipam', subnet: '10.204.0.0/24' },
    };
    const inv = { command: 'ADD', containerId: 'ipamctr', netns: '/run/netns/unused', ifname: 'eth0' };
    const r = await plugin(inv, c, 'weft-ipam');
    assert.equal(r.code, 0, r.stdout);
    assert.equal(r.json!.interfaces, undefined, 'IPAM results have no interfaces');
    assert.deepEqual(r.json!.ips, [{ address: '10.204.0.2/24', gateway: '10.204.0.1' }]);
    assert.deepEqual((await plugin(inv, c, 'weft-ipam')).json!.ips, r.json!.ips);
    const other = await plugin({ ...inv, containerId: 'ipamctr2' }, c, 'weft-ipam');
    assert.deepEqual(other.json!.ips, [{ address: '10.204.0.3/24', gateway: '10.204.0.1' }]);
    assert.equal((await plugin({ ...inv, command: 'CHECK' }, c, 'weft-ipam')).code, 0);
    assert.equal((await plugin({ ...inv, command: 'DEL' }, c, 'weft-ipam')).code, 0);
    assert.equal((await plugin({ ...inv, command: 'CHECK' }, c, 'weft-ipam')).json?.code, 3, 'released');
    const gc = await plugin({ command: 'GC' }, { ...c, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }, 'weft-ipam');
    assert.equal(gc.code, 0, gc.stdout);
    const again = await plugin({ ...inv, containerId: 'ipamctr3' }, c, 'weft-ipam');
    assert.deepEqual(again.json!.ips, [{ address: '10.204.0.4/24', gateway: '10.204.0.1' }], 'round-robin continues');
    const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/ipamnet');
    assert.equal(net.Labels['weft.cni/created-by'], 'weft-ipam');
    await plugin({ ...inv, command: 'DEL', containerId: 'ipamctr3' }, c, 'weft-ipam');
  });

  it('works with weftd stopped (in-process fallback) and weftd sees the result after restart', async () => {
    const ns = await container('fb');
    await h.stop();
    const c = conf({ cniVersion: '1.1.0' });
    const add = await plugin({ command: 'ADD', containerId: 'fallback1', netns: ns, ifname: 'eth0' }, c);
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const ip = (add.json!.ips as { address: string }[])[0]!.address;
    assert.deepEqual(await addrs(ns, 'eth0'), [ip]);
    const st = await plugin({ command: 'STATUS' }, c);
    assert.equal(st.code, 0, st.stdout);
    await h.start();
    const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/cninet');
    assert.ok(
      Object.values(net.Containers).some((x) => x.IPv4Address === ip),
      'weftd sees the fallback ADD',
    );
    await h.stop();
    const del = await plugin({ command: 'DEL', containerId: 'fallback1', netns: ns, ifname: 'eth0' }, c);
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.deepEqual(await addrs(ns, 'eth0'), []);
    await h.start();
    const net2 = await h.client.request<NetworkInspect>('GET', '/v1/networks/cninet');
    assert.ok(!Object.values(net2.Containers).some((x) => x.IPv4Address === ip), 'weftd sees the fallback DEL');
  });

  it('STATUS reports code 50 when the store cannot be reached', async () => {
    await h.stop();
    // The plugin's own environment may point the fallback elsewhere (here: nowhere usable).
    const r = await plugin({ command: 'STATUS', env: { WEFT_STATE_DIR: '/etc/hostname/weft' } }, conf({ cniVersion: '1.1.0' }));
    assert.equal(r.json?.code, 50, r.stdout + r.stderr);
    assert.notEqual(r.code, 0);
    await h.start();
  });
});
