/**
 * The overlay through the real CLI only: `weft lab up`, then `weft lab exec hN -- weft …` on
 * each host's weftd (etcd, cluster agent, wireguard-go supervised by weftd).
 *  - VNIs are claimed in etcd under /weft/v1/vni/<n>: a VNI another network holds, one out of
 *    range, and an MTU over the underlay are refused with clear errors and nothing is written;
 *    network rm frees the claim.
 *  - `-o encrypted`: weftd runs one wireguard-go device per host, the public keys travel
 *    through etcd (the private key stays in the host's state directory), sandboxes started with
 *    `weft run` on two hosts talk, and a capture on the underlay (tcpdump --immediate-mode)
 *    finds WireGuard packets but none of a known payload string.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { addrOf, node, overlayCliLab } from './overlay-cli-lab.js';

const SECRET = 'weft-cli-encrypted-payload-4c1d';

describe('overlay through the CLI: VNI claims in etcd, -o encrypted over wireguard-go (lab, 2 hosts)', { timeout: 300_000 }, () => {
  const L = overlayCliLab({ prefix: 'ov' });
  const { onHost, ok, etcdctl: etcd } = L;
  const vniKeys = async (): Promise<string[]> =>
    (await etcd(['get', '--prefix', '--keys-only', '/weft/v1/vni/'])).split('\n').filter(Boolean);

  it('a VNI is claimed in etcd; taken, out of range and too-large MTU are refused, nothing written; rm frees it', async () => {
    const id = (
      await ok('h1', [
        'network',
        'create',
        '-d',
        'overlay',
        '--subnet',
        '10.87.0.0/24',
        '-o',
        'com.docker.network.driver.overlay.vxlanid_list=5000',
        'ovl-v',
      ])
    ).trim();
    assert.equal((await etcd(['get', '--print-value-only', '/weft/v1/vni/5000'])).trim(), JSON.stringify(id));
    const refused: [string, string[], RegExp][] = [
      ['h2', ['-o', 'com.docker.network.driver.overlay.vxlanid_list=5000'], /VNI 5000 is already used by another overlay network/],
      ['h2', ['-o', 'com.docker.network.driver.overlay.vxlanid_list=0'], /VNI 0 is out of range 1-16777215/],
      ['h1', ['-o', 'com.docker.network.driver.overlay.vxlanid_list=16777216'], /out of range 1-16777215/],
      ['h1', ['-o', 'com.docker.network.driver.mtu=1460'], /MTU 1460 is larger than the underlay allows \(1500 - 50 = 1450\)/],
    ];
    for (const [h, opt, re] of refused) {
      const r = await onHost(h, ['network', 'create', '-d', 'overlay', '--subnet', '10.86.0.0/24', ...opt, 'ovl-bad']);
      assert.notEqual(r.code, 0, `${opt.join(' ')} was accepted`);
      assert.match(r.stderr, re);
    }
    assert.deepEqual(await vniKeys(), ['/weft/v1/vni/5000'], 'no other claim was written');
    for (const h of ['h1', 'h2']) assert.doesNotMatch(await ok(h, ['network', 'ls']), /ovl-bad/);
    // Allocated when not given: from 4096 up, distinct on both hosts.
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.85.0.0/24', 'ovl-a1']);
    await ok('h2', ['network', 'create', '-d', 'overlay', '--subnet', '10.84.0.0/24', 'ovl-a2']);
    assert.deepEqual((await vniKeys()).sort(), ['/weft/v1/vni/4096', '/weft/v1/vni/4097', '/weft/v1/vni/5000']);
    for (const n of ['ovl-v', 'ovl-a1', 'ovl-a2']) await ok('h1', ['network', 'rm', n]);
    assert.deepEqual(await vniKeys(), [], 'every claim released by network rm');
  });

  it('-o encrypted: weft run on two hosts talk over wireguard-go; the underlay capture has WireGuard packets but no payload', async () => {
    await ok('h1', ['network', 'create', '-d', 'overlay', '-o', 'encrypted', '--subnet', '10.89.0.0/24', 'ovl-enc']);
    await L.waitNetwork('h2', 'ovl-enc');
    await ok('h1', ['run', '-d', '--name', 'e1', '--network', 'ovl-enc', '--', node, NETTOOL, 'tcp-server', '7600']);
    await ok('h2', ['run', '-d', '--name', 'e2', '--network', 'ovl-enc', '--', node, NETTOOL, 'tcp-server', '7600']);
    const [e1, e2] = [await L.inspect('h1', 'e1'), await L.inspect('h2', 'e2')];
    const [ip1, ip2] = [addrOf(e1), addrOf(e2)];

    // Keys: each host's private key is a 0600 file in its own state dir; etcd holds only public keys.
    const pubs: string[] = [];
    for (const h of ['h1', 'h2']) {
      const dir = `${L.host(h).stateDir}/wireguard-keys`;
      const files = readdirSync(dir);
      assert.equal(files.length, 1, `${h}: one key file`);
      const priv = readFileSync(`${dir}/${files[0]!}`, 'utf8').trim();
      const data = await etcd(['get', '--prefix', '--print-value-only', '/weft/v1/hostdata/']);
      assert.ok(!data.includes(priv), `${h}'s private key is not in etcd`);
      pubs.push(...[...data.matchAll(/"wgPublicKey":"([^"]+)"/g)].map((m) => m[1]!));
    }
    assert.equal(new Set(pubs).size, 2, 'both public keys published');

    const pcap = `/tmp/${L.name}-enc.pcap`;
    const dump = spawn(
      'nsenter',
      [`--net=/run/netns/${L.host('h1').ns}`, 'tcpdump', '--immediate-mode', '-i', 'eth0', '-n', '-U', '-w', pcap],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
      },
    );
    let dumpErr = '';
    dump.stderr.on('data', (d: Buffer) => (dumpErr += d.toString()));
    try {
      await waitFor('tcpdump listening', () => dumpErr.includes('listening'), 10_000);
      const t0 = Date.now();
      const reply = await waitFor(
        'tcp from e1 to e2 over the encrypted overlay',
        async () => {
          const r = await run('nsenter', [`--net=${e1.netnsPath}`, node, NETTOOL, 'tcp-client', ip2, '7600', SECRET]);
          return r.code === 0 ? r.stdout.trim() : undefined;
        },
        30_000,
      );
      console.log(`encrypted overlay via CLI: first reply ${Date.now() - t0} ms after both runs returned`);
      assert.equal(reply, `${ip1} ${SECRET}`);
      for (let i = 0; i < 5; i++) {
        const r = await run('nsenter', [`--net=${e1.netnsPath}`, node, NETTOOL, 'tcp-client', ip2, '7600', `${SECRET}-${i}`]);
        assert.equal(r.code, 0, r.stderr);
      }
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await new Promise<void>((resolve) => {
        if (dump.exitCode !== null) return resolve();
        dump.once('exit', () => resolve());
        dump.kill('SIGTERM');
      });
    }
    const raw = readFileSync(pcap);
    const text = (await run('tcpdump', ['-n', '-r', pcap])).stdout;
    rmSync(pcap, { force: true });
    const wgPackets = text.split('\n').filter((l) => /\.51871[ :]/.test(l)).length;
    assert.ok(wgPackets >= 10, `the capture saw the traffic as WireGuard (${wgPackets} packets to or from port 51871)`);
    assert.equal(raw.indexOf(Buffer.from(SECRET)), -1, 'the payload never crosses the underlay in the clear');
    assert.doesNotMatch(text, /\.4789[ :]/, 'no plain VXLAN on the underlay');
  });
});
