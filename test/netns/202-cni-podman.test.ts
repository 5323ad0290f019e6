/**
 * A real CNI runtime: podman (network_backend = "cni") starts two containers on a weft network
 * from a conflist (weft → portmap), inside the fake host, and they reach each other over HTTP.
 * podman's own state (storage, tmp, network configs) lives in the test's directory.
 * Needs podman, runc and jq (scripts/install-deps.sh installs them). Without podman the test
 * is reported as skipped with the reason; with podman present, any failure fails the test.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { SimHost, run, waitFor } from '../../src/lab/sim-host.js';
import { installCniPlugins } from '../../src/cli/cni-command.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';

const PODMAN = '/usr/bin/podman';
const hasPodman = existsSync(PODMAN);

// This sandbox refuses setrlimit: the OCI runtime wrapper drops .process.rlimits, then runc.
const WRAPPER = `#!/bin/sh
bundle=""; prev=""
for a in "$@"; do
  case "$prev" in --bundle|-b) bundle="$a" ;; esac
  case "$a" in --bundle=*) bundle="\${a#--bundle=}" ;; esac
  prev="$a"
done
if [ -n "$bundle" ] && [ -f "$bundle/config.json" ]; then
  jq 'del(.process.rlimits)' "$bundle/config.json" > "$bundle/config.json.weft" && mv "$bundle/config.json.weft" "$bundle/config.json"
fi
exec /usr/sbin/runc "$@"
`;

describe(
  'podman with network_backend = "cni" on a weft network',
  { skip: hasPodman ? false : 'podman is not installed (scripts/install-deps.sh installs podman, runc, jq)' },
  () => {
    let h: SimHost;
    let env: NodeJS.ProcessEnv;

    before(async () => {
      for (const tool of ['/usr/sbin/runc', '/usr/bin/jq', '/bin/busybox'])
        assert.ok(existsSync(tool), `podman is installed but ${tool} is missing`);
      h = await SimHost.create('cnipod');
      await h.start();
      const d = path.join(h.dir, 'podman');
      const bin = path.join(d, 'cni-bin');
      installCniPlugins(bin, { socket: h.socket, stateDir: h.stateDir, runDir: h.runDir });
      for (const sub of ['net.d', 'root', 'runroot', 'tmp', 'static', 'img/bin', 'img/etc'])
        mkdirSync(path.join(d, sub), { recursive: true });
      writeFileSync(path.join(d, 'runc-wrap'), WRAPPER);
      chmodSync(path.join(d, 'runc-wrap'), 0o755);
      writeFileSync(
        path.join(d, 'containers.conf'),
        [
          '[network]',
          'network_backend = "cni"',
          `cni_plugin_dirs = ["/usr/lib/cni", "${bin}"]`,
          `network_config_dir = "${path.join(d, 'net.d')}"`,
          '[engine]',
          'runtime = "weftrunc"',
          'cgroup_manager = "cgroupfs"',
          'events_logger = "file"',
          `tmp_dir = "${path.join(d, 'tmp')}"`,
          `static_dir = "${path.join(d, 'static')}"`,
          '[engine.runtimes]',
          `weftrunc = ["${path.join(d, 'runc-wrap')}"]`,
          '',
        ].join('\n'),
      );
      writeFileSync(
        path.join(d, 'storage.conf'),
        `[storage]\ndriver = "vfs"\ngraphroot = "${path.join(d, 'root')}"\nrunroot = "${path.join(d, 'runroot')}"\n`,
      );
      writeFileSync(
        path.join(d, 'net.d', 'weftpod.conflist'),
        JSON.stringify({
          cniVersion: '1.0.0',
          name: 'weftpod',
          plugins: [
            {
              type: 'weft',
              bridge: 'podbr0',
              ipam: { subnet: '10.207.0.0/24' },
            },
            { type: 'portmap', capabilities: { portMappings: true } },
          ],
        }),
      );
      env = { ...process.env, CONTAINERS_CONF: path.join(d, 'containers.conf'), CONTAINERS_STORAGE_CONF: path.join(d, 'storage.conf') };
      // A busybox image, imported from a tarball (there is no registry here).
      const img = path.join(d, 'img');
      writeFileSync(path.join(img, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
      await run('cp', ['/bin/busybox', path.join(img, 'bin/busybox')]);
      for (const c of ['sh', 'ip', 'wget', 'httpd', 'sleep', 'cat']) symlinkSync('busybox', path.join(img, 'bin', c));
      const tar = spawn('tar', ['-C', img, '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
      const imp = spawn(PODMAN, ['import', '-', 'bb:latest'], { env, stdio: ['pipe', 'ignore', 'pipe'] });
      tar.stdout.pipe(imp.stdin);
      let err = '';
      imp.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const code = await new Promise<number | null>((r) => imp.on('close', r));
      assert.equal(code, 0, `podman import: ${err}`);
    });
    after(async () => {
      if (h) {
        // eslint-disable-next-line no-restricted-syntax -- best-effort: h.cleanup() below removes the namespace the containers live in anyway
        await podman(['rm', '-af', '-t', '0']).catch(() => undefined);
        await h.cleanup();
      }
    });

    const podman = (args: string[], timeoutMs = 120_000) => run('nsenter', [`--net=${h.nsPath}`, PODMAN, ...args], { timeoutMs, env });

    it('two containers on the weft network reach each other; weft records them; rm detaches', async () => {
      const web = await podman([
        'run',
        '-d',
        '--name',
        'web',
        '--network',
        'weftpod',
        'bb:latest',
        'httpd',
        '-f',
        '-p',
        '80',
        '-h',
        '/etc',
      ]);
      assert.equal(web.code, 0, `podman run web: ${web.stderr}`);
      const cid = web.stdout.trim();
      const ip = (await podman(['inspect', 'web', '--format', '{{(index .NetworkSettings.Networks "weftpod").IPAddress}}'])).stdout.trim();
      assert.match(ip, /^10\.207\.0\.\d+$/);
      const sb = (await h.client.request<SandboxView[]>('GET', '/v1/sandboxes')).find((s) => s.labels['weft.cni/container-id'] === cid);
      assert.ok(sb, 'weft has a sandbox for the podman container');
      assert.equal(sb.endpoints[0]!.ipv4, `${ip}/24`);
      const body = await waitFor(
        'HTTP from the second container',
        async () => {
          const r = await podman(['run', '--rm', '--network', 'weftpod', 'bb:latest', 'wget', '-qO-', `http://${ip}/passwd`]);
          return r.code === 0 ? r.stdout : undefined;
        },
        60_000,
        500,
      );
      assert.match(body, /^root:x:0:0/);
      const rm = await podman(['rm', '-f', '-t', '0', 'web']);
      assert.equal(rm.code, 0, rm.stderr);
      const net = await h.client.request<NetworkInspect>('GET', '/v1/networks/weftpod');
      assert.deepEqual(net.Containers, {}, 'podman rm ran DEL: nothing left on the network');
    });
  },
);
