/**
 * Published ports never take over a host service (issue 9, defect 2): with a host program
 * listening (TCP) or bound (UDP) on a port, publishing that port is refused — through the CLI
 * (-p), the REST API, CNI portMappings and Docker's ProgramExternalConnectivity — naming the
 * port and the owning process, for wildcard and specific host addresses of either family; and
 * automatic choices (a -p range, host port 0) skip the port instead. SCTP is refused by the
 * same code when the kernel has SCTP; this kernel has none (unit tests cover its parsing).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import path from 'node:path';
import { NETTOOL, SimHost, waitFor } from '../../src/lab/sim-host.js';
import type { SandboxView } from '../../src/controller/inspect.js';

const node = process.execPath;

function post(socket: string, method: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { socketPath: socket, method: 'POST', path: `/${method}`, headers: { 'content-length': Buffer.byteLength(payload) } },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text || '{}') as Record<string, unknown> }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('published ports never take over host services', () => {
  let h: SimHost;
  const procs: ChildProcess[] = [];

  /** A server in the fake host bound to address:port; resolves with its pid once it listens. */
  const hostServer = async (proto: 'tcp' | 'udp', address: string, port: number): Promise<number> => {
    const script =
      proto === 'tcp'
        ? `require('net').createServer(s=>s.end('host-service\\n')).listen(${port}, ${JSON.stringify(address)}, () => console.log('ready'))`
        : `const s=require('dgram').createSocket(${JSON.stringify(address.includes(':') ? 'udp6' : 'udp4')}); s.on('message',(m,r)=>s.send('host-service',r.port,r.address)); s.bind(${port}, ${JSON.stringify(address)}, () => console.log('ready'))`;
    const p = spawn('nsenter', [`--net=${h.nsPath}`, node, '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    procs.push(p);
    await new Promise<void>((resolve, reject) => {
      p.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      p.once('exit', (c) => reject(new Error(`host server exited ${c}`)));
    });
    return p.pid!;
  };
  const sandboxCount = async (): Promise<number> => (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).length;

  before(async () => {
    h = await SimHost.create('ports', ['--firewall', 'nftables']);
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.161.0.0/24', 'n']);
  });
  after(async () => {
    for (const p of procs) p.kill('SIGKILL');
    await h?.cleanup();
  });

  it('refuses -p on a port a host program listens on, naming it and the process, and the service keeps working', async () => {
    const pid = await hostServer('tcp', '0.0.0.0', 9090);
    const r = await h.cli(['run', '-d', '--network', 'n', '-p', '9090:80', '--', 'sleep', '300']);
    assert.notEqual(r.code, 0, 'refused');
    assert.match(r.stderr, /host port 9090\/tcp is in use on the host/, r.stderr);
    assert.match(r.stderr, new RegExp(`pid ${pid} \\(node\\)`), 'names the owning process');
    assert.equal(await sandboxCount(), 0, 'no sandbox was made');
    const reply = await h.inHost(node, [NETTOOL, 'tcp-client', '127.0.0.1', '9090', 'x']);
    assert.match(reply.stdout, /host-service/, 'the host service still answers');
    const api = await h.client.request('POST', '/v1/sandboxes', { networks: [{ network: 'n' }], publish: ['9090:80'] }).then(
      () => 'accepted',
      (e: Error) => e.message,
    );
    assert.match(api, /in use on the host/, 'the REST API refuses it too');
  });

  it('refuses UDP and checks the address a mapping covers (specific IPs, wildcards, IPv6 dual stack)', async () => {
    /** Ask the API for a sandbox publishing `spec`: its error message, or "accepted". */
    const publish = (spec: string, name?: string): Promise<string> =>
      h.client.request('POST', '/v1/sandboxes', { ...(name ? { name } : {}), networks: [{ network: 'n' }], publish: [spec] }).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    await hostServer('udp', '0.0.0.0', 5353);
    assert.match(await publish('5353:53/udp'), /host port 5353\/udp is in use on the host.*bound to 0\.0\.0\.0:5353\/udp/);
    await hostServer('tcp', '127.0.0.1', 9191);
    assert.match(await publish('9191:80'), /9191\/tcp is in use.*127\.0\.0\.1:9191/, 'every-address publishing covers 127.0.0.1');
    assert.equal(await publish('10.161.0.1:9191:80', 'otherip'), 'accepted', 'another host address does not collide');
    await h.client.request('DELETE', '/v1/sandboxes/otherip');
    await hostServer('tcp', '0.0.0.0', 9292);
    assert.match(await publish('127.0.0.1:9292:80'), /127\.0\.0\.1:9292\/tcp is in use/, 'a wildcard listener covers a specific host IP');
    await hostServer('tcp', '::', 9393);
    assert.match(await publish('127.0.0.1:9393:80'), /9393\/tcp is in use.*\[::\]:9393/, 'an IPv6 wildcard listener is dual-stack');
    await hostServer('tcp', '::1', 9494);
    assert.match(await publish('[::1]:9494:80'), /\[::1\]:9494\/tcp is in use/);
    assert.equal(await publish('127.0.0.1:9494:80', 'v4only'), 'accepted', 'an IPv6-only address does not hold the IPv4 port');
    await h.client.request('DELETE', '/v1/sandboxes/v4only');
    assert.equal(await sandboxCount(), 0);
  });

  it('a range skips a port the host holds instead of failing', async () => {
    await hostServer('tcp', '0.0.0.0', 9400);
    const sb = await h.client.request<SandboxView>('POST', '/v1/sandboxes', {
      name: 'ranged',
      networks: [{ network: 'n' }],
      publish: ['9400-9401:80'],
    });
    assert.deepEqual(
      sb.ports?.map((p) => p.hostPort),
      [9401],
    );
    // A host program that binds the port afterwards is reported by the doctor.
    await hostServer('tcp', '0.0.0.0', 9401);
    const d = await h.client.request<{ violations: string[] }>('GET', '/v1/doctor');
    assert.ok(
      d.violations.some((v) => /ranged: published port 9401\/tcp is also held on the host/.test(v)),
      d.violations.join('; '),
    );
    await h.client.request('DELETE', '/v1/sandboxes/ranged');
  });

  it('refuses CNI portMappings on a host port in use, changing nothing', async () => {
    await hostServer('tcp', '0.0.0.0', 9595);
    const ns = await h.extraNetns('cni');
    const r = await h.client.request<{ exitCode: number; output: { code: number; msg: string } }>('POST', '/v1/cni', {
      plugin: 'weft',
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'portctr', CNI_NETNS: `/run/netns/${ns}`, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      stdin: JSON.stringify({
        cniVersion: '1.0.0',
        name: 'n',
        type: 'weft',
        runtimeConfig: { portMappings: [{ hostPort: 9595, containerPort: 80, protocol: 'tcp' }] },
      }),
    });
    assert.equal(r.exitCode, 1, JSON.stringify(r));
    assert.match(r.output.msg, /host port 9595\/tcp is in use on the host/);
    assert.equal(await sandboxCount(), 0);
    const links = await SimHost.inNetns(`/run/netns/${ns}`, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /eth0/, 'the container got no interface');
  });

  it("refuses Docker's ProgramExternalConnectivity on a host port in use", async () => {
    await hostServer('tcp', '0.0.0.0', 9696);
    const plugin = path.join(h.dir, 'docker/plugins/weft.sock');
    const netId = 'd'.repeat(64);
    const epId = 'e'.repeat(64);
    const created = await post(plugin, 'NetworkDriver.CreateNetwork', {
      NetworkID: netId,
      Options: {},
      IPv4Data: [{ AddressSpace: 'LocalDefault', Pool: '10.162.50.0/24', Gateway: '10.162.50.1/24' }],
    });
    assert.equal(created.status, 200, JSON.stringify(created.json));
    const ep = await post(plugin, 'NetworkDriver.CreateEndpoint', {
      NetworkID: netId,
      EndpointID: epId,
      Interface: { Address: '10.162.50.2/24' },
    });
    assert.equal(ep.status, 200, JSON.stringify(ep.json));
    const pec = await post(plugin, 'NetworkDriver.ProgramExternalConnectivity', {
      NetworkID: netId,
      EndpointID: epId,
      Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 9696, HostPortEnd: 9696 }] },
    });
    assert.ok(pec.status >= 400, `refused (${pec.status} ${JSON.stringify(pec.json)})`);
    assert.match(String(pec.json.Err), /host port 9696\/tcp is in use on the host/);
    const auto = await post(plugin, 'NetworkDriver.ProgramExternalConnectivity', {
      NetworkID: netId,
      EndpointID: epId,
      Options: { 'com.docker.network.portmap': [{ Proto: 6, Port: 80, HostPort: 9400, HostPortEnd: 9402 }] },
    });
    assert.equal(auto.status, 200, JSON.stringify(auto.json));
    const ports = (await h.inHost('nft', ['list', 'map', 'inet', 'weft', 'ports4_any'])).stdout;
    assert.match(ports, /tcp \. 9402 :/, 'published on the first free port of the range');
    assert.doesNotMatch(ports, /tcp \. 940[01] :/, 'the ports the host holds were skipped');
    await waitFor(
      'revoke',
      async () => (await post(plugin, 'NetworkDriver.RevokeExternalConnectivity', { NetworkID: netId, EndpointID: epId })).status === 200,
    );
    await post(plugin, 'NetworkDriver.DeleteEndpoint', { NetworkID: netId, EndpointID: epId });
    await post(plugin, 'NetworkDriver.DeleteNetwork', { NetworkID: netId });
  });
});
