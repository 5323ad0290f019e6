/**
 * pipework's scenario without pipework's flaw: `weft attach CONTAINER` gives a running Docker
 * container an interface on a weft network with a fixed IP and gateway, and the attachment
 * comes back by itself when the container restarts (weftd follows the engine's events), even
 * when the restart happened while weftd was down.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SimHost, waitFor } from '../../src/lab/sim-host.js';
import { DOCKER_MISSING, DockerLab } from '../../src/lab/docker-lab.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const GET_SCRIPT = `require('http').get({host:process.argv[1],port:80,path:'/',timeout:2000},r=>{let s='';r.on('data',c=>s+=c);r.on('end',()=>{process.stdout.write(s);process.exit(0)})}).on('error',e=>{console.error(e.message);process.exit(1)}).on('timeout',()=>process.exit(2))`;

describe('docker: weft attach CONTAINER survives restarts', { skip: DOCKER_MISSING }, () => {
  let h: SimHost;
  let dk: DockerLab;
  let image: string;

  before(async () => {
    h = await SimHost.create('dkattach');
    dk = new DockerLab(h);
    await h.start(dk.weftdArgs);
    await dk.start();
    image = await dk.importBusybox();
    await h.cliOk(['network', 'create', '--subnet', '10.94.0.0/24', 'pw']);
  });
  after(async () => {
    await dk?.cleanup();
    await h?.cleanup();
  });

  const httpFromHost = async (ip: string): Promise<string | undefined> => {
    const r = await h.inHost(process.execPath, ['-e', GET_SCRIPT, ip], 10_000);
    return r.code === 0 ? r.stdout : undefined;
  };
  const addrOf = async (c: string, ifname: string): Promise<string> =>
    (await dk.docker(['exec', c, 'ip', '-o', 'addr', 'show', ifname])).stdout;
  const attachments = () => h.client.request<{ containerId: string; networkId: string; ipv4?: string }[]>('GET', '/v1/attachments');

  it('has a real dockerd next to weftd', async () => {
    assert.match(await dk.dockerOk(['version', '--format', '{{.Server.Version}}']), /^\d+\./);
    assert.deepEqual(await attachments(), []);
  });

  it('refuses unknown or stopped containers and records nothing', async () => {
    const r = await h.cli(['attach', 'no-such-container', '--network', 'pw', '--docker-host', `unix://${dk.socket}`]);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /container "no-such-container" not found/);
    await dk.dockerOk(['create', '--name', 'stopped', '--network', 'none', image, 'sleep', '600']);
    const s = await h.cli(['attach', 'stopped', '--network', 'pw', '--docker-host', `unix://${dk.socket}`]);
    assert.notEqual(s.code, 0);
    assert.match(s.stderr, /not running/);
    const g = await h.cli([
      'attach',
      'stopped',
      '--network',
      'pw',
      '--ip',
      '10.94.0.9/24@10.94.0.77',
      '--docker-host',
      `unix://${dk.socket}`,
    ]);
    assert.notEqual(g.code, 0);
    assert.deepEqual(await attachments(), []);
  });

  it('attaches a running container with a fixed IP, gateway, MAC and interface name', async () => {
    await dk.dockerOk(['run', '-d', '--name', 'pw1', '--network', 'none', image, 'httpd', '-f', '-p', '80', '-h', '/www']);
    await h.cliOk([
      'attach',
      'pw1',
      '--network',
      'pw',
      '--ip',
      '10.94.0.50/24@10.94.0.1',
      '--mac',
      '02:00:0a:5e:00:32',
      '--ifname',
      'eth5',
      '--docker-host',
      `unix://${dk.socket}`,
    ]);
    assert.match(await addrOf('pw1', 'eth5'), /inet 10\.94\.0\.50\/24/);
    const link = (await dk.docker(['exec', 'pw1', 'ip', '-o', 'link', 'show', 'eth5'])).stdout;
    assert.match(link, /02:00:0a:5e:00:32/);
    assert.match((await dk.docker(['exec', 'pw1', 'ip', 'route'])).stdout, /default via 10\.94\.0\.1 dev eth5/);
    assert.equal((await waitFor('http to the attached container', () => httpFromHost('10.94.0.50'), 10_000, 200)).trim(), 'weft-docker-ok');
    assert.equal((await attachments()).length, 1);
  });

  it('docker restart: the interface and address come back without any command', async () => {
    const pid1 = JSON.parse(await dk.dockerOk(['inspect', '--format', '{{json .State.Pid}}', 'pw1'])) as number;
    await dk.dockerOk(['restart', '-t', '1', 'pw1']);
    const pid2 = JSON.parse(await dk.dockerOk(['inspect', '--format', '{{json .State.Pid}}', 'pw1'])) as number;
    assert.notEqual(pid1, pid2, 'a new process, so a new network namespace');
    await waitFor('address back after restart', async () => /inet 10\.94\.0\.50\/24/.test(await addrOf('pw1', 'eth5')), 15_000, 100);
    assert.match((await dk.docker(['exec', 'pw1', 'ip', '-o', 'link', 'show', 'eth5'])).stdout, /02:00:0a:5e:00:32/);
    assert.equal((await waitFor('http after restart', () => httpFromHost('10.94.0.50'), 10_000, 200)).trim(), 'weft-docker-ok');
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    const mine = sbs.filter((s) => s.endpoints.some((e) => e.ipv4 === '10.94.0.50/24'));
    assert.equal(mine.length, 1, 'exactly one sandbox holds the address');
    assert.equal(mine[0]!.pid, pid2);
  });

  it('a restart while weftd is down is caught up when weftd comes back', async () => {
    await h.stop('SIGTERM');
    await dk.dockerOk(['restart', '-t', '1', 'pw1']);
    assert.doesNotMatch(await addrOf('pw1', 'eth5'), /10\.94\.0\.50/, 'nothing re-attached it while weftd was down');
    await h.start(dk.weftdArgs);
    await waitFor('address back after weftd start', async () => /inet 10\.94\.0\.50\/24/.test(await addrOf('pw1', 'eth5')), 15_000, 100);
    assert.equal((await waitFor('http after catch-up', () => httpFromHost('10.94.0.50'), 10_000, 200)).trim(), 'weft-docker-ok');
  });

  it('docker rm removes the attachment record and the sandbox', async () => {
    await dk.dockerOk(['rm', '-f', 'pw1']);
    await waitFor('attachment forgotten', async () => (await attachments()).length === 0, 10_000, 100);
    const sbs = await h.client.request<SandboxView[]>('GET', '/v1/sandboxes');
    assert.ok(!sbs.some((s) => s.endpoints.some((e) => e.ipv4 === '10.94.0.50/24')), 'address released');
  });
});
