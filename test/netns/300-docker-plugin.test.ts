/**
 * weft as Docker's network + IPAM driver: a real dockerd in a fake host namespace uses weft
 * through the plugin socket; containers talk over weft networks; weftd and dockerd restart
 * under them; bad plugin requests get Docker-shaped errors and change nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { SimHost, NETTOOL, waitFor, sleep } from '../../src/lab/sim-host.js';
import { DOCKER_MISSING, DockerLab } from '../../src/lab/docker-lab.js';
import type { NetworkInspect } from '../../src/controller/inspect.js';
import type { SandboxView } from '../../src/controller/inspect.js';

function post(socketPath: string, method: string, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath, method: 'POST', path: `/${method}`, headers: { 'content-type': 'application/json' }, timeout: 10_000 },
      (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(s) as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('docker: weft as remote network and IPAM driver', { skip: DOCKER_MISSING }, () => {
  let h: SimHost;
  let dk: DockerLab;
  let image: string;

  before(async () => {
    h = await SimHost.create('docker', ['--firewall', 'nftables']);
    dk = new DockerLab(h);
    // weftd asks this dockerd for the names of networks Docker creates through the plugin.
    process.env.DOCKER_HOST = `unix://${dk.socket}`;
    await h.start(dk.weftdArgs);
    await dk.start();
    image = await dk.importBusybox();
  });
  after(async () => {
    await dk?.cleanup();
    await h?.cleanup();
  });

  const inspect = async (ref: string): Promise<NetworkInspect> => h.client.request<NetworkInspect>('GET', `/v1/networks/${ref}`);
  // busybox-static's wget crashes (SIGSEGV) here; a raw HTTP request with nc does the same job.
  const wget = async (net: string, url: string) => {
    const u = new URL(url);
    const r = await dk.docker(
      [
        'run',
        '--rm',
        '--network',
        net,
        image,
        'sh',
        '-c',
        `printf 'GET ${u.pathname} HTTP/1.0\r\n\r\n' | nc -w 3 ${u.hostname} ${u.port || 80}`,
      ],
      60_000,
    );
    return { ...r, stdout: r.stdout.split('\r\n\r\n').slice(1).join('') };
  };
  /** The page srv serves on dnet, fetched from a second container once it answers (30 s at most). */
  const srvPage = (what: string): Promise<string> =>
    waitFor(
      what,
      async () => {
        const w = await wget('dnet', 'http://10.93.0.10/');
        return w.code === 0 ? w.stdout : undefined;
      },
      30_000,
      500,
    );
  const inCtr = (c: string, args: string[]) => dk.docker(['exec', c, ...args]);

  it('runs a real dockerd and weftd in the same fake host, with the plugin socket served', async () => {
    const v = await dk.dockerOk(['version', '--format', '{{.Server.Version}}']);
    assert.match(v, /^\d+\.\d+/);
    const act = await post(dk.pluginSocket, 'Plugin.Activate', '');
    assert.deepEqual(act.json, { Implements: ['NetworkDriver', 'IpamDriver'] });
  });

  it('docker network create with weft driver + IPAM makes a weft network with the same id', async () => {
    const id = await dk.dockerOk([
      'network',
      'create',
      '-d',
      dk.plugin,
      '--ipam-driver',
      dk.plugin,
      '--subnet',
      '10.93.0.0/24',
      '--gateway',
      '10.93.0.1',
      '--ip-range',
      '10.93.0.128/25',
      '-o',
      'weft.name=dnet',
      'dnet',
    ]);
    const n = await inspect('dnet');
    assert.equal(n.Id, id, 'weft network id is the Docker network id');
    assert.equal(n.Driver, 'bridge');
    assert.deepEqual(
      n.IPAM.Config.map((c) => [c.Subnet, c.Gateway, c.IPRange]),
      [['10.93.0.0/24', '10.93.0.1', '10.93.0.128/25']],
    );
    const ls = await h.cliOk(['network', 'ls']);
    assert.match(ls, /dnet/);
    const br = n.Options?.['com.docker.network.bridge.name'] ?? `wf-${id.slice(0, 12)}`;
    const addr = await h.inHost('ip', ['-o', '-4', 'addr', 'show', 'dev', br]);
    assert.match(addr.stdout, /10\.93\.0\.1\/24/, 'gateway address on the bridge in the fake host');
  });

  it('two containers reach each other by IP; --ip, --mac-address, --alias are honoured', async () => {
    await dk.dockerOk([
      'run',
      '-d',
      '--name',
      'srv',
      '--network',
      'dnet',
      '--ip',
      '10.93.0.10',
      '--mac-address',
      '02:42:0a:5d:00:0a',
      '--network-alias',
      'web',
      image,
      'httpd',
      '-f',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    const a = await inCtr('srv', ['ip', '-o', 'addr', 'show', 'eth0']);
    assert.match(a.stdout, /inet 10\.93\.0\.10\/24/);
    const l = await inCtr('srv', ['ip', '-o', 'link', 'show', 'eth0']);
    assert.match(l.stdout, /02:42:0a:5d:00:0a/);
    const r = await inCtr('srv', ['ip', 'route']);
    assert.match(r.stdout, /default via 10\.93\.0\.1/);
    const body = await srvPage('wget from a second container');
    assert.equal(body.trim(), 'weft-docker-ok');
    // weft's view: an endpoint with the address Docker asked for, its veth on the bridge.
    const n = await inspect('dnet');
    const eps = Object.values(n.Containers);
    assert.ok(
      eps.some((e) => e.IPv4Address === '10.93.0.10/24' && e.MacAddress === '02:42:0a:5d:00:0a'),
      JSON.stringify(eps),
    );
    const di = JSON.parse(await dk.dockerOk(['inspect', 'srv'])) as {
      NetworkSettings: { Networks: Record<string, { Aliases: string[]; IPAddress: string }> };
    }[];
    assert.ok(di[0]!.NetworkSettings.Networks.dnet!.Aliases.includes('web'));
    // A dynamically addressed container gets one from the ip-range.
    const dyn = await dk.dockerOk(['run', '--rm', '--network', 'dnet', image, 'ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.match(dyn, /inet 10\.93\.0\.(12[89]|1[3-9]\d|2[0-4]\d|25[0-4])\/24/, 'from the --ip-range');
  });

  it('docker network connect / disconnect a running container', async () => {
    const id2 = await dk.dockerOk(['network', 'create', '-d', dk.plugin, '--ipam-driver', dk.plugin, '--subnet', '10.95.0.0/24', 'dnet2']);
    // The plugin request has only the id; weftd then asks Docker's API for the name.
    await waitFor("Docker's name in weft", async () => (await inspect(id2)).Name === 'dnet2', 10_000);
    await dk.dockerOk(['network', 'connect', '--ip', '10.95.0.7', 'dnet2', 'srv']);
    const a = await inCtr('srv', ['ip', '-o', '-4', 'addr']);
    assert.match(a.stdout, /eth1\s+inet 10\.95\.0\.7\/24/);
    const w = await wget('dnet2', 'http://10.95.0.7/');
    assert.equal(w.stdout.trim(), 'weft-docker-ok', w.stderr);
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    const sb = sbs.find((s) => s.endpoints.some((e) => e.ipv4 === '10.95.0.7/24'));
    assert.ok(sb, 'weft records the second endpoint');
    const hostIf = sb.endpoints.find((e) => e.ipv4 === '10.95.0.7/24')!.hostIfname!;
    assert.equal((await h.inHost('ip', ['link', 'show', hostIf])).code, 0);
    await dk.dockerOk(['network', 'disconnect', 'dnet2', 'srv']);
    const b = await inCtr('srv', ['ip', '-o', 'link']);
    assert.doesNotMatch(b.stdout, /eth1/);
    assert.notEqual((await h.inHost('ip', ['link', 'show', hostIf])).code, 0, 'host veth removed');
    const n2 = await inspect(id2);
    assert.equal(Object.keys(n2.Containers).length, 0);
  });

  it('docker run -p publishes the port through weft: an outside client reaches it with its own address', async () => {
    const outside = await h.outsideMachine('out', 'uplink', '198.18.3.1/24', '198.18.3.2/24');
    await dk.dockerOk([
      'run',
      '-d',
      '--name',
      'pub',
      '--network',
      'dnet',
      '-p',
      '18081:80',
      image,
      'httpd',
      '-f',
      '-vv',
      '-p',
      '80',
      '-h',
      '/www',
    ]);
    const r = await waitFor(
      'published port answers',
      async () => {
        const o = await SimHost.inNetns(`/run/netns/${outside}`, process.execPath, [
          NETTOOL,
          'tcp-client',
          '198.18.3.1',
          '18081',
          'GET / HTTP/1.0\r\n\r\n',
        ]);
        return o.code === 0 && o.stdout.includes('HTTP/') ? o.stdout : undefined;
      },
      20_000,
    );
    assert.match(r, /HTTP\/1\.[01] \d{3}/);
    const logs = await dk.docker(['logs', 'pub']);
    assert.match(logs.stdout + logs.stderr, /198\.18\.3\.2/, "httpd saw the outside client's real address");
    const rules = (await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout;
    assert.match(rules, /18081/, "the mapping is in weft's nftables table");
    await dk.dockerOk(['rm', '-f', 'pub']);
    await waitFor(
      'port unpublished',
      async () => !(await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout.includes('18081'),
      10_000,
    );
  });

  it('restarting weftd while containers run: traffic continues, state matches', async () => {
    const before = await inspect('dnet');
    await h.stop('SIGTERM');
    // Docker retries an unreachable plugin (1, 2, 4, 8 s): a container started while weftd is
    // down gets its network once weftd is back.
    const duringP = wget('dnet', 'http://10.93.0.10/');
    await sleep(1500);
    await h.start(dk.weftdArgs);
    const during = await duringP;
    assert.equal(
      during.stdout.trim(),
      'weft-docker-ok',
      `a container started while weftd was down still talks (Docker retries the plugin): ${during.stderr}`,
    );
    await sleep(2500); // a couple of resync periods, to see reconcile leave Docker's endpoints alone
    const afterN = await inspect('dnet');
    const srvEp = (n: NetworkInspect) => Object.values(n.Containers).find((e) => e.IPv4Address === '10.93.0.10/24');
    assert.deepEqual(srvEp(afterN), srvEp(before));
    const w = await wget('dnet', 'http://10.93.0.10/');
    assert.equal(w.stdout.trim(), 'weft-docker-ok');
    const doc = await h.client.request<{ violations: string[] }>('GET', '/v1/doctor');
    assert.deepEqual(doc.violations, [], 'doctor finds weft consistent');
  });

  it('restarting dockerd: the weft networks are still usable', async () => {
    await dk.stop();
    await dk.start();
    const ls = await dk.dockerOk(['network', 'ls', '--format', '{{.Name}} {{.Driver}}']);
    assert.match(ls, new RegExp(`dnet ${dk.plugin}`));
    await dk.dockerOk(['start', 'srv']);
    const a = await inCtr('srv', ['ip', '-o', '-4', 'addr', 'show', 'eth0']);
    assert.match(a.stdout, /10\.93\.0\.10\/24/);
    const body = await srvPage('wget after dockerd restart');
    assert.equal(body.trim(), 'weft-docker-ok');
    assert.ok((await inspect('dnet')).Id);
  });

  it('bad plugin requests get Docker-shaped errors and change nothing', async () => {
    const snapshot = async () =>
      JSON.stringify([await h.client.request('GET', '/v1/networks'), await h.client.request('GET', '/v1/sandboxes')]);
    const before = await snapshot();
    const bad = await post(dk.pluginSocket, 'NetworkDriver.CreateNetwork', '{"NetworkID": ');
    assert.equal(bad.status, 500);
    assert.match(String(bad.json.Err), /malformed JSON/);
    const unknown = await post(
      dk.pluginSocket,
      'NetworkDriver.CreateEndpoint',
      JSON.stringify({ NetworkID: 'f'.repeat(64), EndpointID: 'e'.repeat(64), Interface: {} }),
    );
    assert.equal(unknown.status, 500);
    assert.match(String(unknown.json.Err), /network .* not found/);
    const join = await post(
      dk.pluginSocket,
      'NetworkDriver.Join',
      JSON.stringify({ NetworkID: (await inspect('dnet')).Id, EndpointID: 'e'.repeat(64), SandboxKey: '/nonexistent' }),
    );
    assert.match(String(join.json.Err), /endpoint .* not found/);
    const overlap = await post(
      dk.pluginSocket,
      'IpamDriver.RequestPool',
      JSON.stringify({ AddressSpace: 'weft-local', Pool: '10.93.0.0/16', V6: false }),
    );
    assert.equal(overlap.status, 500);
    assert.match(String(overlap.json.Error), /overlaps/);
    const sub = await post(
      dk.pluginSocket,
      'IpamDriver.RequestPool',
      JSON.stringify({ AddressSpace: 'weft-local', SubPool: '10.1.0.0/24' }),
    );
    assert.ok(sub.json.Error);
    const nopool = await post(dk.pluginSocket, 'IpamDriver.RequestAddress', JSON.stringify({ PoolID: 'nope' }));
    assert.match(String(nopool.json.Error), /not found/);
    const unknownMethod = await post(dk.pluginSocket, 'NetworkDriver.Frobnicate', '{}');
    assert.equal(unknownMethod.status, 500);
    assert.equal(await snapshot(), before, 'nothing changed');
    // Docker itself surfaces the overlap as an error of `docker network create`.
    const r = await dk.docker(['network', 'create', '-d', dk.plugin, '--ipam-driver', dk.plugin, '--subnet', '10.93.0.0/16', 'clash']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /overlaps/);
  });

  it('removing containers and networks through Docker removes them from weft', async () => {
    await dk.dockerOk(['rm', '-f', 'srv']);
    await dk.dockerOk(['network', 'rm', 'dnet', 'dnet2']);
    const names = (await h.client.request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name);
    assert.deepEqual(
      names.filter((n) => n === 'dnet' || n === 'dnet2' || n.startsWith('docker-')),
      [],
      names.join(','),
    );
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.deepEqual(
      sbs.filter((s) => s.name.startsWith('docker-')),
      [],
    );
    // A default pool from weft's IPAM when Docker gives no subnet.
    const id = await dk.dockerOk(['network', 'create', '-d', dk.plugin, '--ipam-driver', dk.plugin, 'auto']);
    const n = await inspect(id);
    assert.match(n.IPAM.Config[0]!.Subnet, /^(172|192)\./);
    await dk.dockerOk(['network', 'rm', 'auto']);
    // The pools were given back: the same subnet can be requested again.
    await dk.dockerOk(['network', 'create', '-d', dk.plugin, '--ipam-driver', dk.plugin, '--subnet', '10.93.0.0/24', 'again']);
    await dk.dockerOk(['network', 'rm', 'again']);
  });
});
