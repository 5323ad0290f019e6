/**
 * macvlan through every surface on the simulated LAN: `weft run` (400-macvlan-lan), the `weft`
 * CNI plugin called as a runtime calls it, Docker's remote driver (`docker network create -d
 * <weft> -o weft.driver=macvlan …`) with a real dockerd, and `weft attach CONTAINER`. Each
 * container must be on the LAN itself: the router reaches it and sees its own MAC.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { LanLab } from '../../src/lab/lan-lab.js';
import { DockerLab } from '../../src/lab/docker-lab.js';
import { SimHost, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import { installCniPlugins } from '../../src/cli/cni-command.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';
import { execPlugin, type Invocation } from './cni-harness.js';
import { IFNAMES } from '../../src/drivers/ifnames.js';

describe('macvlan through the CNI plugin, the Docker driver and weft attach', () => {
  let lab: LanLab;
  let h: SimHost;
  let dk: DockerLab;
  let image: string;
  let bin: string;
  const containers: string[] = [];

  before(async () => {
    lab = await LanLab.create('mvsurf', { hosts: 1, routerCidrs: ['198.18.50.1/24', '198.18.51.1/24', '198.18.52.1/24'], start: false });
    h = lab.hosts[0]!;
    dk = new DockerLab(h);
    await h.start(dk.weftdArgs);
    await dk.start();
    image = await dk.importBusybox();
    for (const n of ['eth1', 'eth2', 'eth3']) await lab.plug(h, n);
    bin = path.join(h.dir, 'cni-bin');
    installCniPlugins(bin, { socket: h.socket, stateDir: h.stateDir, runDir: h.runDir });
  });
  after(async () => {
    for (const c of containers) await run('ip', ['netns', 'del', c]);
    await dk?.cleanup();
    await lab?.cleanup();
  });

  /** The router pings `ip` (busybox) and then knows its MAC. */
  const routerPings = (ip: string): Promise<boolean> =>
    waitFor(
      `router ping ${ip}`,
      async () => (await lab.inRouter('busybox', ['ping', '-c', '1', '-W', '1', ip], 5000)).code === 0,
      10_000,
      200,
    );

  it('CNI: a "type": "weft" config with driver macvlan attaches a container to the LAN', async () => {
    const name = `${h.ns}-cni`.slice(0, 60);
    await mustRun('ip', ['netns', 'add', name]);
    containers.push(name);
    const netns = `/run/netns/${name}`;
    const conf = {
      cniVersion: '1.0.0',
      name: 'cnimv',
      type: 'weft',
      driver: 'macvlan',
      master: 'eth1',
      mode: 'bridge',
      ipam: { subnet: '198.18.50.0/24', gateway: '198.18.50.1', ipRange: '198.18.50.64/27' },
    };
    const inv = (command: string): Invocation => ({ command, containerId: 'ctr-mv-1', netns, ifname: 'eth0', hostNs: h.nsPath });
    const add = await execPlugin(path.join(bin, 'weft'), inv('ADD'), JSON.stringify(conf));
    assert.equal(add.code, 0, add.stdout + add.stderr);
    const res = add.json as {
      interfaces: { name: string; mac: string; sandbox?: string }[];
      ips: { address: string; gateway: string; interface: number }[];
    };
    assert.deepEqual(
      res.interfaces.map((i) => [i.name, i.sandbox]),
      [['eth0', netns]],
      'one interface, in the container (no host side)',
    );
    assert.deepEqual(res.ips, [{ address: '198.18.50.64/24', gateway: '198.18.50.1', interface: 0 }]);
    const link = (await SimHost.inNetns(netns, 'ip', ['-d', '-o', 'link', 'show', 'eth0'])).stdout;
    assert.match(link, /macvlan mode bridge/);
    assert.ok(await routerPings('198.18.50.64'));
    assert.equal((await lab.routerNeighbours()).get('198.18.50.64'), res.interfaces[0]!.mac);
    const n = await h.client.request<NetworkInspect>('GET', '/v1/networks/cnimv');
    assert.equal(n.Driver, 'macvlan');
    assert.equal(n.Options.parent, 'eth1');
    const check = await execPlugin(path.join(bin, 'weft'), inv('CHECK'), JSON.stringify({ ...conf, prevResult: add.json }));
    assert.equal(check.code, 0, check.stdout + check.stderr);
    const del = await execPlugin(path.join(bin, 'weft'), inv('DEL'), JSON.stringify(conf));
    assert.equal(del.code, 0, del.stdout + del.stderr);
    assert.notEqual((await SimHost.inNetns(netns, 'ip', ['link', 'show', 'eth0'])).code, 0, 'the child is gone');
    const again = await execPlugin(path.join(bin, 'weft'), inv('DEL'), JSON.stringify(conf));
    assert.equal(again.code, 0, 'DEL of what is gone succeeds');
  });

  it('Docker: docker network create -d weft -o weft.driver=macvlan puts containers on the LAN', async () => {
    await dk.dockerOk([
      'network',
      'create',
      '-d',
      dk.plugin,
      '--ipam-driver',
      dk.plugin,
      '--subnet',
      '198.18.51.0/24',
      '--gateway',
      '198.18.51.1',
      '-o',
      'weft.driver=macvlan',
      '-o',
      'parent=eth2',
      '-o',
      'weft.name=dmv',
      'dmv',
    ]);
    const n = await h.client.request<NetworkInspect>('GET', '/v1/networks/dmv');
    assert.equal(n.Driver, 'macvlan');
    assert.equal(n.Options.parent, 'eth2');
    await dk.dockerOk(['run', '-d', '--name', 'c1', '--network', 'dmv', '--ip', '198.18.51.20', image, 'sleep', '600']);
    const link = await dk.dockerOk(['exec', 'c1', 'ip', '-o', 'link', 'show', 'eth0']);
    const mac = /link\/ether ([0-9a-f:]{17})/.exec(link)?.[1];
    assert.ok(mac, link);
    assert.match(await dk.dockerOk(['exec', 'c1', 'ip', '-o', '-4', 'addr', 'show', 'eth0']), /198\.18\.51\.20\/24/);
    assert.match(await dk.dockerOk(['exec', 'c1', 'ip', 'route']), /default via 198\.18\.51\.1 dev eth0/);
    assert.ok(await routerPings('198.18.51.20'));
    assert.equal((await lab.routerNeighbours()).get('198.18.51.20'), mac, 'the router sees the container’s own MAC');
    const pong = await dk.docker(['exec', 'c1', 'ping', '-c', '1', '-W', '2', '198.18.51.1']);
    assert.equal(pong.code, 0, 'the container reaches its LAN gateway');
    await waitFor(
      'weft endpoint adopted',
      async () => {
        const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
        return sbs.some((s) => s.endpoints.some((e) => e.ipv4 === '198.18.51.20/24'));
      },
      10_000,
      100,
    );
    assert.match(await h.cliOk(['doctor']), /ok/);
    const pt = await dk.docker([
      'network',
      'create',
      '-d',
      dk.plugin,
      '--subnet',
      '198.18.53.0/24',
      '-o',
      'weft.driver=macvlan',
      '-o',
      'parent=eth3',
      '-o',
      'macvlan_mode=passthru',
      'dpt',
    ]);
    assert.notEqual(pt.code, 0);
    assert.match(pt.stderr, /passthru/);
    await dk.dockerOk(['rm', '-f', 'c1']);
    await dk.dockerOk(['network', 'rm', 'dmv']);
    assert.notEqual((await h.cli(['network', 'inspect', 'dmv'])).code, 0, 'the weft network went with the Docker network');
    const left = [...(await h.inHost('ip', ['-o', 'link'])).stdout.matchAll(/^\d+: ([^:@\s]+)[@:]/gm)].map((m) => m[1]!);
    assert.deepEqual(
      left.filter((l) => IFNAMES.macvlanRuntimeChild.pattern.test(l) || IFNAMES.runtimePeer.pattern.test(l)),
      [],
      'no child left in the host',
    );
  });

  it('weft attach: a running container joins a macvlan network and keeps it across a restart', async () => {
    await h.cliOk([
      'network',
      'create',
      '-d',
      'macvlan',
      '--subnet',
      '198.18.52.0/24',
      '--gateway',
      '198.18.52.1',
      '-o',
      'parent=eth3',
      'amv',
    ]);
    await dk.dockerOk(['run', '-d', '--name', 'c2', '--network', 'none', image, 'sleep', '600']);
    await h.cliOk([
      'attach',
      'c2',
      '--network',
      'amv',
      '--ip',
      '198.18.52.50/24',
      '--mac',
      '02:00:c6:12:34:32',
      '--docker-host',
      `unix://${dk.socket}`,
    ]);
    assert.match(await dk.dockerOk(['exec', 'c2', 'ip', '-o', '-4', 'addr']), /198\.18\.52\.50\/24/);
    assert.ok(await routerPings('198.18.52.50'));
    assert.equal((await lab.routerNeighbours()).get('198.18.52.50'), '02:00:c6:12:34:32');
    await dk.dockerOk(['restart', '-t', '1', 'c2']);
    await waitFor(
      'address back after restart',
      async () => /198\.18\.52\.50\/24/.test((await dk.docker(['exec', 'c2', 'ip', '-o', '-4', 'addr'])).stdout),
      15_000,
      100,
    );
    assert.ok(await routerPings('198.18.52.50'));
    await dk.dockerOk(['rm', '-f', 'c2']);
  });
});
