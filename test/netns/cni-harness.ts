/**
 * A runtime's side of CNI for tests and benchmarks: run a plugin executable exactly as libcni
 * does (CNI_* environment, config on stdin, JSON or error JSON on stdout, exit code), inside a
 * given "host" namespace; and a tiny chain runner for conflists (ADD in order passing
 * prevResult, CHECK in order, DEL in reverse with the cached result).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

export interface PluginRun {
  code: number;
  stdout: string;
  stderr: string;
  /** stdout parsed, when it is JSON. */
  json?: Record<string, unknown>;
  ms: number;
}

export interface Invocation {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  /** Namespace path the runtime runs in (the fake host); the plugin inherits it. */
  hostNs?: string;
  /** Extra environment (e.g. WEFT_SOCKET); the rest is PATH only, as a runtime's. */
  env?: Record<string, string>;
  /** Leave a CNI_* variable out entirely (to test missing-variable errors). */
  omit?: string[];
}

/** Run one plugin once. stdin is the config text as given (so tests can send broken JSON). */
export function execPlugin(bin: string, inv: Invocation, stdin: string, timeoutMs = 30_000): Promise<PluginRun> {
  const env: Record<string, string> = { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...inv.env };
  const set = (k: string, v: string | undefined): void => {
    if (v !== undefined && !inv.omit?.includes(k)) env[k] = v;
  };
  set('CNI_COMMAND', inv.command);
  set('CNI_CONTAINERID', inv.containerId);
  set('CNI_NETNS', inv.netns);
  set('CNI_IFNAME', inv.ifname);
  set('CNI_ARGS', inv.args);
  set('CNI_PATH', inv.path ?? path.dirname(bin));
  const [cmd, args] = inv.hostNs ? ['nsenter', [`--net=${inv.hostNs}`, bin]] : [bin, []];
  const t0 = process.hrtime.bigint();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr, json, ms });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(stdin);
  });
}

export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: Record<string, unknown>[];
}

export interface Attachment {
  containerId: string;
  netns: string;
  ifname: string;
  /** runtimeConfig offered; each plugin gets only the keys it declares in `capabilities`. */
  runtimeConfig?: Record<string, unknown>;
  args?: string;
}

/** A minimal libcni: finds plugins in binDirs, chains results, caches the last one per attachment. */
export class ChainRunner {
  private readonly cache = new Map<string, Record<string, unknown>>();
  constructor(
    readonly binDirs: string[],
    readonly hostNs?: string,
  ) {}

  private find(type: string): string {
    for (const d of this.binDirs) if (existsSync(path.join(d, type))) return path.join(d, type);
    throw new Error(`plugin ${type} not found in ${this.binDirs.join(':')}`);
  }

  /** What libcni hands one plugin of the list. */
  private confFor(list: ConfList, plugin: Record<string, unknown>, att: Attachment, prev?: Record<string, unknown>): string {
    const c: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
    const caps = (plugin.capabilities ?? {}) as Record<string, boolean>;
    const rc: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(att.runtimeConfig ?? {})) if (caps[k]) rc[k] = v;
    if (Object.keys(rc).length) c.runtimeConfig = rc;
    if (prev) c.prevResult = prev;
    return JSON.stringify(c);
  }

  private inv(command: string, att: Attachment): Invocation {
    return {
      command,
      containerId: att.containerId,
      netns: att.netns,
      ifname: att.ifname,
      args: att.args,
      path: this.binDirs.join(':'),
      hostNs: this.hostNs,
    };
  }

  private key(list: ConfList, att: Attachment): string {
    return `${list.name}/${att.containerId}/${att.ifname}`;
  }

  async add(list: ConfList, att: Attachment): Promise<Record<string, unknown>> {
    let prev: Record<string, unknown> | undefined;
    for (const p of list.plugins) {
      const r = await execPlugin(this.find(p.type as string), this.inv('ADD', att), this.confFor(list, p, att, prev));
      if (r.code !== 0) throw new Error(`ADD ${String(p.type)} failed (${r.code}): ${r.stdout} ${r.stderr}`);
      prev = r.json;
    }
    this.cache.set(this.key(list, att), prev!);
    return prev!;
  }

  /** CHECK each plugin in order; `skip` leaves out plugin types (known-broken CHECKs). */
  async check(list: ConfList, att: Attachment, skip: string[] = []): Promise<void> {
    const prev = this.cache.get(this.key(list, att));
    for (const p of list.plugins) {
      if (skip.includes(p.type as string)) continue;
      const r = await execPlugin(this.find(p.type as string), this.inv('CHECK', att), this.confFor(list, p, att, prev));
      if (r.code !== 0) throw new Error(`CHECK ${String(p.type)} failed (${r.code}): ${r.stdout} ${r.stderr}`);
    }
  }

  async del(list: ConfList, att: Attachment): Promise<void> {
    const prev = this.cache.get(this.key(list, att));
    for (const p of [...list.plugins].reverse()) {
      const r = await execPlugin(this.find(p.type as string), this.inv('DEL', att), this.confFor(list, p, att, prev));
      if (r.code !== 0) throw new Error(`DEL ${String(p.type)} failed (${r.code}): ${r.stdout} ${r.stderr}`);
    }
    this.cache.delete(this.key(list, att));
  }
}
