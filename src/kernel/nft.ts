/**
 * The only place weft runs `nft`. Scripts go in on stdin (`nft -f -`) so a whole change is one
 * atomic transaction; listing is per table (`nft -j list table …`) so weft never reads — or
 * trips over — anyone else's ruleset. By default nft runs in the caller's namespace (the daemon
 * lives in the namespace it manages); `netnsPath` wraps it in `nsenter --net=PATH` for tests.
 * With `inProcess`, scripts for the process's own namespace go through libnftables instead
 * (libnftables.ts): the same transaction without a child process.
 */
import { execFile } from 'node:child_process';
import { FirewallError, KernelError } from '../errors.js';
import { haveLibnftables, runNftScript } from './libnftables.js';

export interface NftExecutor {
  /** Apply a script as one transaction; throws FirewallError carrying nft's stderr. */
  apply(script: string): Promise<void>;
  /** `nft -j list table FAMILY NAME` parsed, or undefined when the table does not exist. */
  listTable(family: string, name: string): Promise<unknown>;
}

export interface NftOptions {
  /** Run nft inside this network namespace (via nsenter) instead of the current one. */
  netnsPath?: string;
  nftPath?: string;
  nsenterPath?: string;
  timeoutMs?: number;
  /**
   * Apply scripts inside this process through libnftables (src/kernel/libnftables.ts) instead of
   * forking nft: for callers on a latency path (policy). Only without `netnsPath`; when the
   * library cannot be loaded, or WEFT_NFT_EXEC=1 is set (to compare with the old path), nft runs
   * as a command as before. Listing always runs nft (JSON output, rare).
   */
  inProcess?: boolean;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Nft implements NftExecutor {
  private readonly opts: Required<Omit<NftOptions, 'netnsPath' | 'inProcess'>> & { netnsPath?: string };
  /** Whether apply() runs in this process (decided once, at construction). */
  readonly inProcess: boolean;
  /** The namespace nft acts in (undefined: the caller's). */
  get netnsPath(): string | undefined {
    return this.opts.netnsPath;
  }

  constructor(opts: NftOptions = {}) {
    if (opts.netnsPath !== undefined && !opts.netnsPath.startsWith('/')) {
      throw new FirewallError(`netnsPath must be absolute: ${opts.netnsPath}`);
    }
    this.opts = {
      nftPath: opts.nftPath ?? '/usr/sbin/nft',
      nsenterPath: opts.nsenterPath ?? 'nsenter',
      timeoutMs: opts.timeoutMs ?? 30_000,
      ...(opts.netnsPath === undefined ? {} : { netnsPath: opts.netnsPath }),
    };
    this.inProcess = opts.inProcess === true && opts.netnsPath === undefined && process.env.WEFT_NFT_EXEC !== '1' && haveLibnftables();
  }

  private run(args: string[], input?: string): Promise<RunResult> {
    const { nftPath, nsenterPath, netnsPath, timeoutMs } = this.opts;
    const [cmd, argv] = netnsPath === undefined ? [nftPath, args] : [nsenterPath, [`--net=${netnsPath}`, nftPath, ...args]];
    return new Promise((resolve, reject) => {
      const child = execFile(cmd, argv, { timeout: timeoutMs, maxBuffer: 256 << 20 }, (err, stdout, stderr) => {
        if (err && typeof (err as { code?: unknown }).code !== 'number') {
          reject(new KernelError('nft', `cannot run ${cmd}: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ code: err ? Number((err as { code?: unknown }).code) : 0, stdout: String(stdout), stderr: String(stderr) });
      });
      child.stdin?.on('error', () => undefined);
      child.stdin?.end(input ?? '');
    });
  }

  async apply(script: string): Promise<void> {
    if (this.inProcess) {
      const r = await runNftScript(script);
      if (r.ok) return;
      const stderr = r.error.trim();
      throw new FirewallError(`nft rejected the transaction (nothing applied): ${stderr}`, new KernelError('libnftables', stderr));
    }
    const r = await this.run(['-f', '-'], script);
    if (r.code !== 0) {
      const stderr = r.stderr.trim();
      throw new FirewallError(`nft rejected the transaction (nothing applied): ${stderr}`, new KernelError('nft -f', stderr));
    }
  }

  async listTable(family: string, name: string): Promise<unknown> {
    const r = await this.run(['-j', 'list', 'table', family, name]);
    if (r.code !== 0) {
      if (/No such file or directory/.test(r.stderr)) return undefined;
      throw new FirewallError(`nft list table ${family} ${name} failed: ${r.stderr.trim()}`, new KernelError('nft list', r.stderr.trim()));
    }
    try {
      return JSON.parse(r.stdout) as unknown;
    } catch (err) {
      throw new FirewallError(`nft printed JSON weft cannot parse: ${(err as Error).message}`, err);
    }
  }
}
