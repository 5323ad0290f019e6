/**
 * Lab harness (tests, quickstart, benchmarks): a simulated host network namespace per test with weftd running inside
 * it (only the network namespace changes: `nsenter --net`), a private state/run directory,
 * and cleanup that removes every namespace, mount and process even when the test failed.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { WeftClient } from '../cli/client.js';
import type { SandboxView } from '../controller/inspect.js';
import { mountsUnder, pidsInNetns } from './lab-processes.js';

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const NETTOOL = path.join(REPO, 'dist/src/lab/nettool.js');
export const WEFT = path.join(REPO, 'bin/weft.js');
export const WEFTD = path.join(REPO, 'bin/weftd.js');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a program with arguments (never a shell), bounded in time. */
export function run(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(
      cmd,
      args,
      { timeout: opts.timeoutMs ?? 30_000, maxBuffer: 16 << 20, env: opts.env ?? process.env },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as NodeJS.ErrnoException & { code?: unknown }).code === 'number'
            ? (err as unknown as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

export async function mustRun(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<string> {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll until fn returns a truthy value or the timeout passes. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 10_000,
  stepMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(stepMs);
  }
}

/** Kill every process in the named namespaces, then delete them (missing = fine). */
export async function deleteNetnsWithProcesses(names: string[]): Promise<void> {
  for (const ns of names) {
    const pids = await run('ip', ['netns', 'pids', ns]);
    for (const p of pids.stdout.split('\n').filter(Boolean)) {
      try {
        process.kill(Number(p), 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    await run('ip', ['netns', 'del', ns]);
  }
}

export class SimHost {
  readonly ns: string;
  readonly nsPath: string;
  readonly dir: string;
  readonly socket: string;
  readonly runDir: string;
  readonly stateDir: string;
  daemon?: ChildProcess;
  daemonLog = '';
  private readonly extraNs: string[] = [];
  private readonly pids = new Set<number>();
  private clientCache?: WeftClient;

  constructor(
    readonly tag: string,
    readonly daemonArgs: string[] = ['--firewall', 'none'],
  ) {
    this.ns = `weft-t-${tag}-${randomBytes(3).toString('hex')}`;
    this.nsPath = `/run/netns/${this.ns}`;
    this.dir = mkdtempSync(path.join(tmpdir(), `weft-${tag}-`));
    this.runDir = path.join(this.dir, 'run');
    this.stateDir = path.join(this.dir, 'state');
    this.socket = path.join(this.runDir, 'weft.sock');
  }

  static async create(tag: string, daemonArgs?: string[]): Promise<SimHost> {
    const h = new SimHost(tag, daemonArgs);
    await mustRun('ip', ['netns', 'add', h.ns]);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    return h;
  }

  get client(): WeftClient {
    return (this.clientCache ??= new WeftClient(this.socket));
  }

  /** Start weftd inside the fake host and wait (readyMs, 15 s by default) until its API answers. */
  async start(extra: string[] = [], readyMs = 15_000): Promise<void> {
    const args = [
      '--net=' + this.nsPath,
      process.execPath,
      WEFTD,
      '--state-dir',
      this.stateDir,
      '--run-dir',
      this.runDir,
      ...this.daemonArgs,
      ...extra,
    ];
    const d = spawn('nsenter', args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.daemon = d;
    d.stderr.on('data', (c: Buffer) => {
      this.daemonLog += c.toString();
    });
    const exited = new Promise<never>((_, reject) =>
      d.once('exit', (code) => reject(new Error(`weftd exited (${code}): ${this.daemonLog}`))),
    );
    await Promise.race([
      waitFor('weftd API', async () => existsSync(this.socket) && (await this.client.request('GET', '/v1/info')), readyMs),
      exited,
    ]);
    d.removeAllListeners('exit');
  }

  /** Stop weftd (SIGTERM, or SIGKILL to simulate a crash). */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const d = this.daemon;
    if (!d || d.exitCode !== null || d.signalCode !== null) return;
    this.clientCache?.close();
    this.clientCache = undefined;
    const gone = new Promise<void>((r) => d.once('exit', () => r()));
    d.kill(signal);
    await Promise.race([gone, sleep(10_000).then(() => d.kill('SIGKILL'))]);
    this.daemon = undefined;
  }

  /** A sandbox as the API shows it. */
  sandbox(ref: string): Promise<SandboxView> {
    return this.client.request<SandboxView>('GET', `/v1/sandboxes/${encodeURIComponent(ref)}`);
  }

  /** `weft run -d ARGS`; the sandbox's process is killed at cleanup even if weftd is gone. */
  async runDetached(args: string[]): Promise<SandboxView> {
    const id = (await this.cliOk(['run', '-d', ...args])).trim();
    const sb = await this.sandbox(id);
    this.track(sb.pid);
    return sb;
  }

  /** Run the weft CLI against this host's daemon. */
  cli(args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return run(process.execPath, [WEFT, '-H', this.socket, ...args], { timeoutMs });
  }

  async cliOk(args: string[]): Promise<string> {
    const r = await this.cli(args);
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')} → ${r.code}: ${r.stderr}`);
    return r.stdout;
  }

  /** Run a command in the fake host's namespace. */
  inHost(cmd: string, args: string[], timeoutMs?: number): Promise<RunResult> {
    return run('nsenter', ['--net=' + this.nsPath, cmd, ...args], { timeoutMs });
  }

  /** Run a command in a namespace given by path. */
  static inNetns(nsPath: string, cmd: string, args: string[], timeoutMs?: number): Promise<RunResult> {
    return run('nsenter', ['--net=' + nsPath, cmd, ...args], { timeoutMs });
  }

  /** An extra namespace owned by this test (e.g. an outside client). */
  async extraNetns(tag: string): Promise<string> {
    const name = `${this.ns}-${tag}`.slice(0, 60);
    await mustRun('ip', ['netns', 'add', name]);
    await mustRun('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    this.extraNs.push(name);
    return name;
  }

  /**
   * A namespace standing for another machine, wired to this host by a veth: `hostIf` in the
   * host with `hostCidr`, `eth0` in the other side with `peerCidr`. Returns its name.
   */
  async outsideMachine(tag: string, hostIf: string, hostCidr: string, peerCidr: string): Promise<string> {
    const other = await this.extraNetns(tag);
    await mustRun('ip', ['-n', this.ns, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', other]);
    await mustRun('ip', ['-n', this.ns, 'addr', 'add', hostCidr, 'dev', hostIf]);
    await mustRun('ip', ['-n', this.ns, 'link', 'set', hostIf, 'up']);
    await mustRun('ip', ['-n', other, 'addr', 'add', peerCidr, 'dev', 'eth0']);
    await mustRun('ip', ['-n', other, 'link', 'set', 'eth0', 'up']);
    return other;
  }

  /** Remember a pid to kill at cleanup. */
  track(pid: number | undefined): void {
    if (pid) this.pids.add(pid);
  }

  async cleanup(): Promise<void> {
    // Cleanup keeps going: the namespaces below are deleted with everything in them anyway.
    await this.stop('SIGKILL').catch((err: unknown) =>
      process.stderr.write(`sim host ${this.ns}: stopping weftd failed: ${(err as Error).message}\n`),
    );
    // Processes tracked by the test, then anything else still living in our namespaces.
    for (const pid of this.pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killProcessesInNetns(this.nsPath, this.runDir);
    for (const m of mountsUnder(this.dir)) await run('umount', ['-l', m]);
    for (const n of [...this.extraNs, this.ns]) await run('ip', ['netns', 'del', n]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Kill processes whose network namespace is the fake host's or one under runDir. */
function killProcessesInNetns(hostNsPath: string, runDir: string): void {
  const netnsDir = path.join(runDir, 'netns');
  const sandboxNs = existsSync(netnsDir) ? readdirSync(netnsDir).map((f) => path.join(netnsDir, f)) : [];
  for (const pid of pidsInNetns([hostNsPath, ...sandboxNs])) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* raced */
    }
  }
}
