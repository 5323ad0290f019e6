/**
 * A real dockerd inside a SimHost's fake host namespace (tests and bench/docker.ts): its own
 * data-root, exec-root, API socket and pidfile under the host's directory, and weft's plugin
 * announced to it by a uniquely named spec file in /etc/docker/plugins (the only place, with
 * /run/docker/plugins, where dockerd looks). Cleanup removes containers, the daemon, the spec
 * file and any container process, even after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { mustRun, run, sleep, waitFor, type RunResult, type SimHost } from './sim-host.js';

/** Where a DockerLab lives: a directory of its own and the fake host's namespace (a SimHost or a lab host). */
export type DockerHost = Pick<SimHost, 'dir' | 'nsPath'>;

export interface DockerLabOptions {
  /** Announce weft's plugin to dockerd (a spec file in /etc/docker/plugins); default true. */
  plugin?: boolean;
  /** More dockerd flags (e.g. --log-level info to read swarm's errors). */
  extraArgs?: string[];
}

/** Debian's docker.io puts dockerd in /usr/sbin, Docker CE in /usr/bin; either is used as installed. */
export const DOCKERD = ['/usr/sbin/dockerd', '/usr/bin/dockerd'].find((p) => existsSync(p)) ?? '/usr/sbin/dockerd';
/** Why Docker tests cannot run here (for `skip`), or false. */
export const DOCKER_MISSING: string | false = existsSync(DOCKERD)
  ? false
  : 'no dockerd installed (scripts/install-test-deps.sh installs docker.io unless another Docker is present)';
/** The Debian docker.io client, matching the daemon (another `docker` may be first on PATH). */
export const DOCKER = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
const SPEC_DIR = '/etc/docker/plugins';

export class DockerLab {
  readonly dir: string;
  readonly socket: string;
  readonly execRoot: string;
  readonly pidFile: string;
  /** Name under which dockerd knows weft (network and IPAM driver). */
  readonly plugin = `weft-${randomBytes(4).toString('hex')}`;
  readonly pluginSocket: string;
  private readonly specFile: string;
  private daemon?: ChildProcess;
  log = '';

  constructor(
    readonly host: DockerHost,
    private readonly options: DockerLabOptions = {},
  ) {
    this.dir = path.join(host.dir, 'dk');
    this.socket = path.join(this.dir, 'docker.sock');
    this.execRoot = path.join(this.dir, 'x');
    this.pidFile = path.join(this.dir, 'dockerd.pid');
    this.pluginSocket = path.join(host.dir, 'plugin.sock');
    this.specFile = path.join(SPEC_DIR, `${this.plugin}.spec`);
  }

  /** weftd flags that make it serve the plugin where this lab's spec file points. */
  get weftdArgs(): string[] {
    return ['--docker-plugin-socket', this.pluginSocket];
  }

  async start(): Promise<void> {
    mkdirSync(this.dir, { recursive: true });
    if (this.options.plugin !== false) {
      mkdirSync(SPEC_DIR, { recursive: true });
      writeFileSync(this.specFile, `unix://${this.pluginSocket}\n`);
    }
    const args = [
      '--net=' + this.host.nsPath,
      DOCKERD,
      '--storage-driver',
      'vfs',
      '--data-root',
      path.join(this.dir, 'data'),
      '--exec-root',
      this.execRoot,
      '-H',
      `unix://${this.socket}`,
      '--pidfile',
      this.pidFile,
      // Keep Docker's own bridge away from weft's default one (172.17.0.0/16).
      '--bip',
      '192.168.250.1/24',
      '--log-level',
      'warn',
      ...(this.options.extraArgs ?? []),
    ];
    const d = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.daemon = d;
    d.stderr.on('data', (c: Buffer) => {
      this.log = (this.log + c.toString()).slice(-20_000);
    });
    await waitFor(
      'dockerd API',
      async () => (await this.docker(['version', '--format', '{{.Server.Version}}'], 5000)).code === 0,
      60_000,
      200,
    );
  }

  /** Stop dockerd (containers stop with it, as without live-restore). */
  async stop(): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    const gone = new Promise<void>((r) => d.once('exit', () => r()));
    d.kill('SIGTERM');
    await Promise.race([gone, sleep(30_000).then(() => d.kill('SIGKILL'))]);
    this.daemon = undefined;
  }

  docker(args: string[], timeoutMs = 60_000): Promise<RunResult> {
    return run(DOCKER, ['-H', `unix://${this.socket}`, ...args], { timeoutMs });
  }

  async dockerOk(args: string[], timeoutMs = 60_000): Promise<string> {
    const r = await this.docker(args, timeoutMs);
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')} → ${r.code}: ${r.stderr}\n--- dockerd log ---\n${this.log.slice(-3000)}`);
    return r.stdout.trim();
  }

  /** Import a busybox-static root as an image (there is no registry here). */
  async importBusybox(tag = 'bb:latest'): Promise<string> {
    const root = path.join(this.dir, 'bbroot');
    mkdirSync(path.join(root, 'bin'), { recursive: true });
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    mkdirSync(path.join(root, 'www'), { recursive: true });
    writeFileSync(path.join(root, 'www', 'index.html'), 'weft-docker-ok\n');
    await mustRun('cp', ['/bin/busybox', path.join(root, 'bin', 'busybox')]);
    for (const c of ['sh', 'ip', 'ping', 'wget', 'nc', 'httpd', 'sleep', 'cat', 'ifconfig', 'true', 'echo', 'hostname']) {
      await run('ln', ['-sf', 'busybox', path.join(root, 'bin', c)]);
    }
    const tar = path.join(this.dir, 'bb.tar');
    await mustRun('tar', ['-C', root, '-cf', tar, '.']);
    await this.dockerOk(['import', tar, tag]);
    return tag;
  }

  async cleanup(): Promise<void> {
    if (this.daemon && this.daemon.exitCode === null) {
      const ids = (await this.docker(['ps', '-aq'], 20_000)).stdout.split('\n').filter(Boolean);
      if (ids.length) await this.docker(['rm', '-f', ...ids], 60_000);
    }
    // Cleanup keeps going (the pid file below still gets dockerd killed); the failure is said.
    await this.stop().catch((err: unknown) => process.stderr.write(`docker lab: stopping dockerd failed: ${(err as Error).message}\n`));
    try {
      const pid = Number(readFileSync(this.pidFile, 'utf8'));
      if (pid > 0) process.kill(pid, 'SIGKILL');
    } catch {
      /* not running */
    }
    killInNamespacesUnder(path.join(this.execRoot, 'netns'));
    rmSync(this.specFile, { force: true });
  }
}

/** Kill processes living in the container namespaces dockerd bound under dir. */
function killInNamespacesUnder(dir: string): void {
  const inodes = new Set<number>();
  try {
    for (const f of readdirSync(dir)) {
      try {
        inodes.add(statSync(path.join(dir, f)).ino);
      } catch {
        /* raced */
      }
    }
  } catch {
    return;
  }
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      if (inodes.has(statSync(`/proc/${p}/ns/net`).ino)) process.kill(Number(p), 'SIGKILL');
    } catch {
      /* raced */
    }
  }
}
