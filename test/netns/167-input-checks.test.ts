/**
 * The input checks Docker makes, on every path that takes them (issue 9, defect 11): a CIDR
 * with host bits is refused (CLI, REST, CNI, Docker's IPAM protocol), a DNS name with a label
 * over 63 characters is refused (alias, sandbox name, hostname), and a malformed
 * percent-encoded path is the client's error (400), not the daemon's (500).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { SimHost } from '../../src/lab/sim-host.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';

/** One raw request (the path is sent as given) → status and parsed body. */
function raw(socket: string, method: string, p: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method,
        path: p,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => {
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = text;
          }
          resolve({ status: res.statusCode ?? 0, body: parsed });
        });
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (payload) req.write(payload);
    req.end();
  });
}

describe('Docker-style input checks', () => {
  let h: SimHost;
  const networks = async (): Promise<string[]> => (await h.client.request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name);
  const sandboxes = async (): Promise<string[]> => (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).map((s) => s.name);

  before(async () => {
    h = await SimHost.create('input');
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', '10.77.0.0/24', 'okn']);
  });
  after(async () => {
    await h?.cleanup();
  });

  it('refuses a subnet with host bits set (CLI and REST), naming the network address', async () => {
    const r = await h.cli(['network', 'create', '--subnet', '10.20.0.5/24', 'hb']);
    assert.notEqual(r.code, 0, 'refused');
    assert.match(r.stderr, /host bits.*10\.20\.0\.0\/24/, r.stderr);
    const api = await raw(h.socket, 'POST', '/v1/networks', { name: 'hb2', ipam: { config: [{ subnet: '10.20.0.5/24' }] } });
    assert.equal(api.status, 400, JSON.stringify(api.body));
    const r6 = await h.cli(['network', 'create', '--ipv6', '--subnet', 'fd00:20::1/64', 'hb6']);
    assert.notEqual(r6.code, 0);
    const range = await h.cli(['network', 'create', '--subnet', '10.21.0.0/24', '--ip-range', '10.21.0.5/25', 'hbr']);
    assert.notEqual(range.code, 0, 'an ip-range with host bits is refused too');
    assert.deepEqual(
      (await networks()).filter((n) => n.startsWith('hb')),
      [],
      'nothing was created',
    );
  });

  it('refuses a CNI config whose subnet has host bits, and a Docker IPAM pool with host bits', async () => {
    const ctr = `/run/netns/${await h.extraNetns('ctr')}`;
    const cni = await raw(h.socket, 'POST', '/v1/cni', {
      plugin: 'weft',
      env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'hbctr', CNI_NETNS: ctr, CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' },
      stdin: JSON.stringify({ cniVersion: '1.0.0', name: 'hbcni', type: 'weft', ipam: { subnet: '10.22.0.9/24' } }),
    });
    const out = cni.body as { exitCode: number; output: { code: number; details?: string } };
    assert.equal(out.exitCode, 1, JSON.stringify(cni.body));
    assert.equal(out.output.code, 7, 'invalid network configuration');
    assert.match(out.output.details ?? '', /host bits/);
    assert.ok(!(await networks()).includes('hbcni'));
    const plugin = path.join(h.dir, 'docker/plugins/weft.sock');
    const pool = await raw(plugin, 'POST', '/IpamDriver.RequestPool', { AddressSpace: 'LocalDefault', Pool: '10.23.0.5/24' });
    assert.ok(pool.status >= 400, `Docker IPAM refuses it (${pool.status} ${JSON.stringify(pool.body)})`);
    assert.match(JSON.stringify(pool.body), /host bits/);
  });

  it('refuses DNS names with a label longer than 63 characters: alias, sandbox name, hostname', async () => {
    const long = 'a'.repeat(64);
    const alias = await h.cli(['run', '--network', `okn,alias=${long}`, '--', 'true']);
    assert.notEqual(alias.code, 0, 'a 64-character alias is not a DNS label');
    assert.match(alias.stderr, /at most 63/, alias.stderr);
    const dots = await h.cli(['run', '--network', 'okn,alias=a..b', '--', 'true']);
    assert.notEqual(dots.code, 0, 'an empty label is refused');
    const name = await raw(h.socket, 'POST', '/v1/sandboxes', { name: long, networks: [{ network: 'okn' }] });
    assert.equal(name.status, 400, 'a sandbox name is answered by the embedded DNS: same rule');
    const host = await h.cli(['run', '--hostname', long, '--', 'true']);
    assert.notEqual(host.code, 0, 'a 64-character hostname label is refused');
    assert.deepEqual(await sandboxes(), [], 'no sandbox was left behind');
    const ok = await h.cli(['run', '--network', `okn,alias=${'b'.repeat(63)}`, '--hostname', 'web-1.example', '--', 'true']);
    assert.equal(ok.code, 0, `63 characters is fine: ${ok.stderr}`);
  });

  it('answers 400 for malformed percent-encoding in a path, never 500', async () => {
    for (const [method, p] of [
      ['GET', '/v1/networks/%ZZ'],
      ['DELETE', '/v1/networks/%E0%A4%A'],
      ['GET', '/v1/sandboxes/%'],
      ['POST', '/v1/networks/%G1/connect'],
      ['GET', '/v1/networks/%00'],
    ] as const) {
      const r = await raw(h.socket, method, p, method === 'POST' ? { sandbox: 'x' } : undefined);
      assert.equal(r.status, 400, `${method} ${p} → ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal((r.body as { error: { code: string } }).error.code, 'WEFT_INVALID_ARGUMENT');
    }
    assert.equal((await raw(h.socket, 'GET', '/v1/networks/okn')).status, 200, 'a well-formed path still works');
  });
});
