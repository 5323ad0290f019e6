/**
 * The installed CNI plugin executable trusts only its installation (issue 9, defect 6), run
 * exactly as a runtime runs it in a fake host: a `weftSocket` in the configuration (top level,
 * `args`, `runtimeConfig` — what pod authors fill on Kubernetes) never receives the request,
 * a `weftRepo` never decides the program run as root when weftd is down, and a configuration
 * larger than weftd accepts gets a CNI error JSON instead of a SIGPIPE death with no output.
 * (Framing, error paths and a sanitizer build: test/unit/cni-shim.test.ts.)
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SimHost, mustRun, run } from '../../src/lab/sim-host.js';
import { installCniPlugins } from '../../src/cli/cni-command.js';
import { execPlugin } from './cni-harness.js';

describe('CNI plugin executable: trust comes from the installation only', () => {
  let h: SimHost;
  let bin: string;
  let evilSock: string;
  const evilRequests: string[] = [];
  let evil: net.Server;
  const containers: string[] = [];

  before(async () => {
    h = await SimHost.create('cnitrust');
    await h.start();
    bin = path.join(h.dir, 'cni-bin');
    installCniPlugins(bin, { socket: h.socket });
    // Another "weftd" that would forge results, at a path a pod author could name.
    evilSock = path.join(h.dir, 'evil.sock');
    evil = net.createServer((s) => {
      s.on('data', (d: Buffer) => evilRequests.push(d.toString()));
      s.on('error', () => undefined);
      s.end('HTTP/1.0 200 OK\r\ncontent-length: 80\r\n\r\n{"exitCode":0,"output":{"cniVersion":"1.0.0","ips":[{"address":"6.6.6.6/32"}]}}');
    });
    await new Promise<void>((r) => evil.listen(evilSock, r));
  });
  after(async () => {
    evil?.close();
    for (const c of containers) await run('ip', ['netns', 'del', c]);
    await h?.cleanup();
  });

  const container = async (tag: string): Promise<string> => {
    const name = `${h.ns}-${tag}`.slice(0, 60);
    await mustRun('ip', ['netns', 'add', name]);
    containers.push(name);
    return `/run/netns/${name}`;
  };
  const conf = (extra: Record<string, unknown>): string =>
    JSON.stringify({ cniVersion: '1.0.0', name: 'trustnet', type: 'weft', ipam: { subnet: '10.163.0.0/24' }, ...extra });
  /** The plugin as a runtime runs it; WEFT_STATE_DIR/RUN_DIR keep any fallback on this test's store. */
  const plugin = (command: string, containerId: string, netns: string, stdin: string) =>
    execPlugin(
      path.join(bin, 'weft'),
      { command, containerId, netns, ifname: 'eth0', hostNs: h.nsPath, env: { WEFT_STATE_DIR: h.stateDir, WEFT_RUN_DIR: h.runDir } },
      stdin,
    );

  it('a weftSocket in the configuration (top level, args, runtimeConfig) is never contacted', async () => {
    const ns = await container('sock');
    const r = await plugin(
      'ADD',
      'trust1',
      ns,
      conf({ weftSocket: evilSock, args: { weftSocket: evilSock, cni: {} }, runtimeConfig: { weftSocket: evilSock } }),
    );
    assert.deepEqual(evilRequests, [], 'the socket a pod author named received nothing');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const ip = (r.json!.ips as { address: string }[])[0]!.address;
    assert.match(ip, /^10\.163\.0\.\d+\/24$/, 'the result is from the installed weftd, not a forged one');
  });

  it('a weftRepo in the configuration never decides what runs when weftd is down', async () => {
    const repo = path.join(h.dir, 'evilrepo');
    const marker = path.join(h.dir, 'evil-ran');
    mkdirSync(path.join(repo, 'dist/src/api/cni'), { recursive: true });
    writeFileSync(
      path.join(repo, 'dist/src/api/cni/cni-main.js'),
      `require('fs').writeFileSync(${JSON.stringify(marker)}, 'ran as root'); console.log('{"cniVersion":"1.0.0"}');`,
    );
    await h.stop();
    try {
      const ns = await container('repo');
      const r = await plugin('ADD', 'trust2', ns, conf({ weftRepo: repo, args: { weftRepo: repo, cni: {} } }));
      assert.equal(existsSync(marker), false, 'the program named in the configuration did not run');
      assert.ok(r.json, `the installed fallback answered with CNI JSON: ${r.stdout} ${r.stderr}`);
    } finally {
      await h.start();
    }
  });

  it('a configuration larger than weftd accepts gets a CNI error JSON, not a silent death', async () => {
    for (const size of [1_100_000, 2_000_000]) {
      const r = await plugin('ADD', 'trust3', '/run/netns/unused', conf({ pad: 'x'.repeat(size) }));
      assert.notEqual(r.code, 0);
      assert.ok(r.code < 128, `exited, not killed by a signal (${r.code})`);
      assert.equal(typeof r.json?.code, 'number', `error JSON printed for ${size} bytes: ${r.stdout} ${r.stderr}`);
      assert.match(String(r.json?.msg), /too large/);
    }
  });
});
