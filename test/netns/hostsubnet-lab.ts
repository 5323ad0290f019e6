/**
 * A small multi-host lab for the hostsubnet tests and bench: the cluster lab's layout
 * (src/lab/lab-topology.ts: an l2 switch, or l3 segments behind router namespaces, in
 * 198.18.0.0/15) with `hs-<tag>-…` namespaces, one etcd member on the underlay, and on each host
 * the hostsubnet engine (hostsubnet-host-child.ts) run inside the host's namespace. `kill`
 * SIGKILLs a host's engine (a crash: its lease is not revoked), `start` runs it again on the
 * same state dir. `down` removes everything it made, also after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { labTopology, validateLabOptions, type LabNode } from '../../src/lab/lab-topology.js';
import { deleteNetnsWithProcesses, mustRun, run } from '../../src/lab/sim-host.js';
import { killAndWait, startEtcdMember, type EtcdMember } from '../../src/lab/etcd-process.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'hostsubnet-host-child.js');

export interface HsHost {
  name: string;
  ns: string;
  address: string;
  dir: string;
  proc?: ChildProcess;
  pending: Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>;
  nextId: number;
  stderr: string[];
}

export class HsError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export class HsLab {
  readonly tag = randomBytes(2).toString('hex');
  readonly dir = mkdtempSync('/tmp/hs-lab-');
  readonly prefix = `/weft-hs-${this.tag}/`;
  readonly namespaces: string[] = [];
  readonly hosts: HsHost[] = [];
  etcd?: EtcdMember;
  etcdUrl = '';

  private constructor(readonly o: { hosts: number; underlay: 'l2' | 'l3'; leaseTtlMs?: number }) {}

  static async up(o: { hosts: number; underlay: 'l2' | 'l3'; leaseTtlMs?: number }): Promise<HsLab> {
    const lab = new HsLab(o);
    try {
      await lab.build();
      return lab;
    } catch (err) {
      await lab.down();
      throw err;
    }
  }

  private nsOf(n: string): string {
    return `hs-${this.tag}-${n}`;
  }

  private async addNs(ns: string): Promise<void> {
    this.namespaces.push(ns);
    await mustRun('ip', ['netns', 'add', ns]);
    await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async build(): Promise<void> {
    const t = labTopology(validateLabOptions({ name: 'x', hosts: this.o.hosts, underlay: this.o.underlay, etcd: 1 }));
    const ns = (n: LabNode | string) => this.nsOf(typeof n === 'string' ? n : n.name);
    const nsOfFull = (full: string) => this.nsOf(full.replace(/^wl-x-/, ''));
    for (const n of t.nodes.filter((x) => x.kind === 'switch' || x.kind === 'router')) {
      await this.addNs(ns(n));
      await mustRun('ip', ['-n', ns(n), 'link', 'add', 'br0', 'type', 'bridge']);
      await mustRun('ip', ['-n', ns(n), 'link', 'set', 'br0', 'up']);
      if (n.cidr) await mustRun('ip', ['-n', ns(n), 'addr', 'add', n.cidr, 'dev', 'br0']);
      if (n.kind === 'router') await mustRun('nsenter', [`--net=/run/netns/${ns(n)}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    for (const [i, u] of t.uplinks.entries()) {
      await mustRun('ip', ['-n', nsOfFull(u.router), 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', ns('sp')]);
      await mustRun('ip', ['-n', ns('sp'), 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      await mustRun('ip', ['-n', nsOfFull(u.router), 'addr', 'add', u.cidr, 'dev', 'up0']);
      await mustRun('ip', ['-n', nsOfFull(u.router), 'link', 'set', 'up0', 'up']);
    }
    for (const r of t.routes) await mustRun('ip', ['-n', nsOfFull(r.ns), 'route', 'add', r.dst, 'via', r.via]);
    for (const n of t.nodes.filter((x) => x.kind === 'host' || x.kind === 'etcd')) {
      await this.addNs(ns(n));
      await mustRun('ip', [
        '-n',
        ns(n),
        'link',
        'add',
        'eth0',
        'type',
        'veth',
        'peer',
        'name',
        `v-${n.name}`,
        'netns',
        nsOfFull(n.attach!),
      ]);
      await mustRun('ip', ['-n', nsOfFull(n.attach!), 'link', 'set', `v-${n.name}`, 'master', 'br0', 'up']);
      await mustRun('ip', ['-n', ns(n), 'addr', 'add', n.cidr!, 'dev', 'eth0']);
      await mustRun('ip', ['-n', ns(n), 'link', 'set', 'eth0', 'up']);
      await mustRun('ip', ['-n', ns(n), 'route', 'add', 'default', 'via', n.gateway!]);
    }
    const e = t.nodes.find((n) => n.kind === 'etcd')!;
    const ip = e.cidr!.split('/')[0]!;
    this.etcd = await startEtcdMember({
      name: 'e1',
      nsPath: `/run/netns/${ns(e)}`,
      dir: path.join(this.dir, 'etcd'),
      ip,
      initialCluster: `e1=http://${ip}:2380`,
    });
    this.etcdUrl = `etcd://${ip}:2379`;
    for (const n of t.nodes.filter((x) => x.kind === 'host')) {
      const h: HsHost = {
        name: n.name,
        ns: ns(n),
        address: n.cidr!.split('/')[0]!,
        dir: path.join(this.dir, n.name),
        pending: new Map(),
        nextId: 1,
        stderr: [],
      };
      this.hosts.push(h);
    }
    // A few at a time: each engine start is a Node start-up, and 50 at once on 2 loaded cores
    // would run past the per-host start timeout.
    const queue = [...this.hosts];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let h = queue.shift(); h; h = queue.shift()) await this.start(h.name);
      }),
    );
  }

  host(name: string): HsHost {
    const h = this.hosts.find((x) => x.name === name);
    if (!h) throw new Error(`no host ${name}`);
    return h;
  }

  /** Run (or run again) a host's engine; resolves when it is ready. */
  async start(name: string): Promise<void> {
    const h = this.host(name);
    if (h.proc && h.proc.exitCode === null && h.proc.signalCode === null) throw new Error(`${name} is running`);
    const proc = spawn('nsenter', [`--net=/run/netns/${h.ns}`, process.execPath, CHILD], {
      env: {
        ...process.env,
        WEFT_HS_CHILD: '1',
        HS_HOST_ID: `${this.tag}-${h.name}`,
        HS_ADDRESS: h.address,
        HS_DIR: h.dir,
        HS_ETCD: this.etcdUrl,
        HS_PREFIX: this.prefix,
        ...(this.o.leaseTtlMs ? { HS_LEASE_TTL_MS: String(this.o.leaseTtlMs) } : {}),
        // Many engines on a loaded machine: etcd answers more slowly than a lone one sees.
        ...(this.o.hosts > 20 ? { HS_ETCD_TIMEOUT_MS: '15000' } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    h.proc = proc;
    h.pending = new Map();
    const ready = new Promise<void>((resolve, reject) => {
      h.pending.set(0, { resolve: () => resolve(), reject });
      setTimeout(() => reject(new Error(`${name} did not start in 60 s: ${h.stderr.slice(-5).join('')}`)), 60_000).unref();
    });
    createInterface({ input: proc.stdout }).on('line', (line) => {
      const m = JSON.parse(line) as { id: number; ok: boolean; result?: unknown; error?: { code: string; message: string } };
      const p = h.pending.get(m.id);
      if (!p) return;
      h.pending.delete(m.id);
      if (m.ok) p.resolve(m.result);
      else p.reject(new HsError(m.error!.code, m.error!.message));
    });
    proc.stderr.on('data', (d: Buffer) => {
      h.stderr.push(d.toString());
      if (h.stderr.length > 200) h.stderr.shift();
    });
    proc.on('exit', () => {
      for (const p of h.pending.values()) p.reject(new Error(`${name}'s engine exited: ${h.stderr.slice(-5).join('')}`));
      h.pending.clear();
    });
    await ready;
  }

  /** One command to a host's engine (bounded). */
  call<T = unknown>(name: string, op: string, args: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const h = this.host(name);
    if (!h.proc?.stdin) throw new Error(`${name} is not running`);
    const id = h.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        h.pending.delete(id);
        reject(new Error(`${name} ${op}: no reply in ${timeoutMs} ms`));
      }, timeoutMs);
      h.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      h.proc!.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n');
    });
  }

  /** A crash: SIGKILL, no lease revoked, kernel state left as it was. */
  async kill(name: string): Promise<void> {
    const p = this.host(name).proc;
    if (!p?.pid || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    await killAndWait(p.pid);
    await exited;
  }

  /** Run a command in a namespace (a host's or a sandbox's by path). */
  exec(nsPath: string, argv: string[], timeoutMs = 20_000): ReturnType<typeof run> {
    return run('nsenter', [`--net=${nsPath}`, ...argv], { timeoutMs });
  }

  async down(): Promise<void> {
    for (const h of this.hosts) {
      if (h.proc?.pid && h.proc.exitCode === null && h.proc.signalCode === null) await killAndWait(h.proc.pid);
    }
    if (this.etcd) await killAndWait(this.etcd.pid);
    await deleteNetnsWithProcesses(this.namespaces);
    // Sandbox namespaces are bind mounts under each host's run dir.
    for (const h of this.hosts) {
      const d = path.join(h.dir, 'run', 'netns');
      if (!existsSync(d)) continue;
      for (const f of readdirSync(d)) await run('umount', ['-l', path.join(d, f)]);
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
