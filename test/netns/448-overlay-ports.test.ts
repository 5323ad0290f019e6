/**
 * Egress and published ports of overlay sandboxes, as a Docker user expects them (Docker hangs
 * every overlay container on docker_gwbridge): through the real CLI on a two-host lab.
 *  - outbound: a sandbox on h1 reaches a server in h2's host namespace (an address outside the
 *    overlay), masqueraded behind h1's underlay address;
 *  - `-p 18080:7800` on h1: a client on h2 reaches the sandbox through h1's underlay address
 *    (DNAT to the sandbox's leg on the gateway bridge); the host port is weft's (a second
 *    publication of it is refused); removing the sandbox removes the mapping.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { spawn, type ChildProcess } from 'node:child_process';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, WEFT, run, waitFor } from '../../src/lab/sim-host.js';

const node = process.execPath;
const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
};

interface SandboxInfo {
  netnsPath: string;
  endpoints: { ipv4?: string }[];
}

describe('overlay: egress and -p through the gateway bridge (lab, 2 hosts, real CLI)', { timeout: 300_000 }, () => {
  const name = `o2${randomBytes(3).toString('hex')}`;
  let lab: ClusterLab | undefined;
  let outside: ChildProcess | undefined;
  const weftCli = (args: string[], timeoutMs = 60_000) => run(node, [WEFT, ...args], { timeoutMs, env: cleanEnv() });
  const onHost = (h: string, args: string[]) => weftCli(['lab', 'exec', '--lab', name, h, '--', node, WEFT, ...args]);
  const ok = async (h: string, args: string[]): Promise<string> => {
    const r = await onHost(h, args);
    assert.equal(r.code, 0, `weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  const inspect = async (h: string, s: string): Promise<SandboxInfo> =>
    (JSON.parse(await ok(h, ['sandbox', 'inspect', s])) as SandboxInfo[])[0]!;
  /** tcp-client from a namespace: the reply, or undefined on failure. */
  const tcp = async (netns: string, host: string, port: number, msg: string, ms = 1500): Promise<string | undefined> => {
    const r = await run('nsenter', [`--net=${netns}`, node, NETTOOL, 'tcp-client', host, String(port), msg, String(ms)], {
      timeoutMs: ms + 10_000,
    });
    return r.code === 0 ? r.stdout.trim() : undefined;
  };

  before(async () => {
    // The lab runs weftd without a firewall unless told: these hosts get nftables (their own namespaces).
    const r = await weftCli(['lab', 'up', '--hosts', '2', '--name', name, '--weftd-arg=--firewall', '--weftd-arg=nftables'], 180_000);
    assert.equal(r.code, 0, `lab up: ${r.stderr}`);
    lab = ClusterLab.load(name);
  });
  after(async () => {
    if (outside?.exitCode === null) {
      const gone = new Promise((r) => outside!.once('exit', r));
      outside.kill('SIGTERM');
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
    }
    const r = await weftCli(['lab', 'down', '--lab', name], 120_000);
    if (r.code !== 0 && existsSync(`/run/netns/${lab?.host('h1').ns ?? 'none'}`)) await lab?.down();
  });

  it('outbound is masqueraded; -p publishes on the host through the leg, guarded, and goes with the sandbox', async () => {
    assert.equal(
      (await ok('h1', ['host', 'ls'])).split('\n').filter((l) => /\bup\b/.test(l)).length,
      2,
      'both hosts are up in the cluster store',
    );
    const tables = (await run('nsenter', [`--net=/run/netns/${lab!.host('h1').ns}`, 'nft', 'list', 'tables'])).stdout;
    assert.match(tables, /weft/, "h1's weftd runs the nftables firewall");
    const h1 = lab!.host('h1');
    const h2 = lab!.host('h2');
    await ok('h1', ['network', 'create', '-d', 'overlay', '--subnet', '10.95.0.0/24', 'o2-pub']);
    await ok('h1', ['run', '-d', '--name', 'web', '-p', '18080:7800', '--network', 'o2-pub', '--', node, NETTOOL, 'tcp-server', '7800']);
    const web = await inspect('h1', 'web');
    const webIp = web.endpoints[0]!.ipv4!.split('/')[0]!;

    // Outbound: a server outside the overlay (h2's own namespace) sees h1's underlay address.
    outside = spawn('nsenter', [`--net=/run/netns/${h2.ns}`, node, NETTOOL, 'tcp-server', '7801'], { stdio: 'ignore' });
    const out = await waitFor(
      'web reaches a server in h2 (outside the overlay)',
      () => tcp(web.netnsPath, h2.address, 7801, 'out'),
      15_000,
      200,
    );
    assert.equal(out, `${h1.address} out`, 'egress leaves masqueraded behind the host address');

    // Published: from another host, h1's address and the host port reach the sandbox.
    const t0 = Date.now();
    const reply = await waitFor('h2 reaches web through h1:18080', () => tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'in'), 15_000, 200);
    console.log(`overlay -p: reachable ${Date.now() - t0} ms after run returned`);
    assert.equal(reply, `${h2.address} in`, 'the sandbox sees the client, not a translated address');
    assert.notEqual(webIp, h2.address);

    // The host port is weft's: a second publication of it is refused, nothing is created.
    const dup = await onHost('h1', [
      'run',
      '-d',
      '--name',
      'web2',
      '-p',
      '18080:7800',
      '--network',
      'o2-pub',
      '--',
      node,
      NETTOOL,
      'tcp-server',
      '7800',
    ]);
    assert.notEqual(dup.code, 0, 'a host port already published is refused');
    assert.match(dup.stderr, /18080/);
    assert.doesNotMatch(await ok('h1', ['sandbox', 'ls']), /web2/);

    // The ruleset holds the mapping to the leg (one element), and loses it with the sandbox.
    const rules = async (): Promise<string> =>
      (await run('nsenter', [`--net=/run/netns/${h1.ns}`, 'nft', 'list', 'ruleset'], { timeoutMs: 10_000 })).stdout;
    assert.match(await rules(), /18080 : 10\.255\.\d+\.\d+ \. 7800/, 'DNAT to the leg address on the gateway bridge');
    await ok('h1', ['sandbox', 'rm', '-f', 'web']);
    assert.doesNotMatch(await rules(), /18080/, 'the mapping went with the sandbox');
    assert.equal(await tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'gone', 800), undefined, 'nothing answers on the port any more');
    // The port is free again for the next sandbox.
    await ok('h1', ['run', '-d', '--name', 'web3', '-p', '18080:7800', '--network', 'o2-pub', '--', node, NETTOOL, 'tcp-server', '7800']);
    const again = await waitFor(
      'h2 reaches web3 through h1:18080',
      () => tcp(`/run/netns/${h2.ns}`, h1.address, 18080, 'again'),
      15_000,
      200,
    );
    assert.equal(again, `${h2.address} again`);
    await ok('h1', ['sandbox', 'rm', '-f', 'web3']);
    await ok('h1', ['network', 'rm', 'o2-pub']);
  });
});
