/**
 * A mesh lab for tests and benches: one "switch" namespace with a bridge, N host namespaces on
 * a 198.18.0.0/24 underlay, and a MeshRouter process per host (the standalone entry, started
 * with nsenter --net). Cleanup kills the routers it started by PID and deletes its namespaces,
 * even after a failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { REPO, deleteNetnsWithProcesses, mustRun, run, waitFor } from '../../src/lab/sim-host.js';
import type { MeshRouterOptions } from '../../src/mesh/router/options.js';
import type { MeshStatus } from '../../src/mesh/router/status.js';

export const STANDALONE = path.join(REPO, 'dist/src/mesh/standalone.js');
export const MESH_PORT = 6783;
export const MESH_SUBNET = '198.19.0.0/20';

export interface LabHost {
  index: number;
  name: string;
  ns: string;
  ip: string;
}

export class MeshNode {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  log = '';
  tunAddress: string | undefined;
  exited = false;

  constructor(
    readonly host: LabHost,
    readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const m = JSON.parse(line) as {
        id?: number;
        ok?: boolean;
        result?: unknown;
        error?: { message: string };
        event?: string;
        address?: string;
      };
      if (m.event === 'tun') this.tunAddress = m.address;
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.ok) w?.resolve(m.result);
      else w?.reject(new Error(m.error?.message ?? 'failed'));
    });
    child.stderr!.on('data', (d: Buffer) => {
      this.log += d.toString();
      if (this.log.length > 1 << 20) this.log = this.log.slice(-(1 << 19));
    });
    child.on('exit', () => {
      this.exited = true;
      for (const w of this.waiting.values()) w.reject(new Error(`${host.name} exited`));
      this.waiting.clear();
    });
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 10_000): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`${this.host.name}: ${cmd} timed out`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    });
  }

  status(): Promise<MeshStatus> {
    return this.call<MeshStatus>('status');
  }
}

export class MeshLab {
  readonly tag = randomBytes(3).toString('hex');
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weft-mesh-'));
  /** Namespace prefix (MESH_LAB_PREFIX, default "ms"): parallel users of one machine pick their own. */
  readonly prefix = process.env.MESH_LAB_PREFIX ?? 'ms';
  readonly switchNs = `${this.prefix}-sw-${this.tag}`;
  readonly hosts: LabHost[] = [];
  readonly nodes = new Map<number, MeshNode>();
  private readonly children: ChildProcess[] = [];

  /** Namespaces and the underlay for `n` hosts. */
  static async create(n: number): Promise<MeshLab> {
    const lab = new MeshLab();
    try {
      await mustRun('ip', ['netns', 'add', lab.switchNs]);
      await mustRun('ip', ['-n', lab.switchNs, 'link', 'add', 'br0', 'type', 'bridge']);
      await mustRun('ip', ['-n', lab.switchNs, 'link', 'set', 'br0', 'up']);
      for (let i = 0; i < n; i++) await lab.addHost();
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  async addHost(): Promise<LabHost> {
    const i = this.hosts.length;
    const h: LabHost = { index: i, name: `h${i}`, ns: `${this.prefix}-${this.tag}-${i}`, ip: `198.18.0.${10 + i}` };
    this.hosts.push(h);
    await mustRun('ip', ['netns', 'add', h.ns]);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'lo', 'up']);
    await mustRun('ip', ['-n', this.switchNs, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', h.ns]);
    await mustRun('ip', ['-n', this.switchNs, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
    await mustRun('ip', ['-n', h.ns, 'addr', 'add', `${h.ip}/24`, 'dev', 'eth0']);
    await mustRun('ip', ['-n', h.ns, 'link', 'set', 'eth0', 'up']);
    return h;
  }

  /** Start a router on host i (options merged over lab defaults) and wait until it listens. */
  async start(
    i: number,
    opts: Partial<MeshRouterOptions> & { passwordFile?: string; pskHex?: string; standalone?: string } = {},
  ): Promise<MeshNode> {
    const h = this.hosts[i]!;
    // `standalone`: another build's entry (a bench compares a previous build side by side).
    const { standalone = STANDALONE, ...o } = opts;
    const cfg = {
      name: h.name,
      listen: `${h.ip}:${MESH_PORT}`,
      subnet: MESH_SUBNET,
      tun: { name: 'weftmesh0' },
      heartbeatMs: 200,
      linkTimeoutMs: 1200,
      membership: {
        probeIntervalMs: 500,
        probeTimeoutMs: 250,
        gossipIntervalMs: 200,
        suspicionMult: 3,
        pushPullIntervalMs: 10_000,
        deadRetainMs: 20_000,
      },
      ...o,
    };
    const file = path.join(this.dir, `${h.name}-${this.nodes.size}-${Date.now()}.json`);
    writeFileSync(file, JSON.stringify(cfg));
    // MESH_NODE_ARGS: extra node flags for the routers (e.g. --cpu-prof when profiling a bench).
    const nodeArgs = (process.env.MESH_NODE_ARGS ?? '').split(' ').filter(Boolean);
    const child = spawn('nsenter', [`--net=/run/netns/${h.ns}`, process.execPath, ...nodeArgs, standalone, file], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.children.push(child);
    const node = new MeshNode(h, child);
    this.nodes.set(i, node);
    // Generous: on a loaded shared machine a node process can take many seconds to start.
    await waitFor(
      `${h.name} ready`,
      () => node.log.includes('listening on') || (node.exited ? Promise.reject(new Error(node.log)) : false),
      90_000,
    );
    return node;
  }

  /** SIGKILL the router on host i (by its PID). */
  kill(i: number): void {
    const n = this.nodes.get(i);
    if (n && !n.exited) n.child.kill('SIGKILL');
  }

  /** Run a tool inside host i's namespace. */
  exec(i: number, cmd: string, args: string[], timeoutMs = 15_000) {
    return run('nsenter', [`--net=/run/netns/${this.hosts[i]!.ns}`, cmd, ...args], { timeoutMs });
  }

  /** Start a long-running tool inside a namespace (host index or the switch); killed by PID at destroy. */
  spawnIn(where: number | 'switch', cmd: string, args: string[]): ChildProcess {
    const ns = where === 'switch' ? this.switchNs : this.hosts[where]!.ns;
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(child);
    return child;
  }

  /** Wait until every running node satisfies `ok` on its status. */
  async until(what: string, ok: (s: MeshStatus, node: MeshNode) => boolean, timeoutMs = 20_000, which?: number[]): Promise<number> {
    const t0 = Date.now();
    await waitFor(
      what,
      async () => {
        for (const [i, n] of this.nodes) {
          if (n.exited || (which && !which.includes(i))) continue;
          if (!ok(await n.status(), n)) return false;
        }
        return true;
      },
      timeoutMs,
      100,
    );
    return Date.now() - t0;
  }

  async destroy(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await deleteNetnsWithProcesses([...this.hosts.map((h) => h.ns), this.switchNs]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
