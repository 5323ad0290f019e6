/**
 * A multi-host lab of simulated hosts, for people (`weft lab …`), tests and benchmarks. Every
 * namespace, pid and directory it makes is written to /run/weft-lab/<name>/state.json before
 * (or right after) it is made, so `down` removes exactly that — even after the command that
 * built the lab crashed half-way. It never touches the root namespace: links live between lab
 * namespaces, daemons enter theirs with `nsenter --net`.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WeftClient } from '../cli/client.js';
import { NotFoundError, WeftError } from '../errors.js';
import { killAndWait, pidAlive, startEtcdMember } from './etcd-process.js';
import { hostAs, labTopology, validateLabOptions, type LabNode, type LabOptions, type LabTopology } from './lab-topology.js';
import { BgpSpeaker } from '../bgp/bgp-speaker.js';
import { mustRun, run, sleep, WEFT, WEFTD, type RunResult } from './sim-host.js';
import { mountsUnder, pidsInNetns } from './lab-processes.js';

export const LAB_ROOT = process.env.WEFT_LAB_ROOT ?? '/run/weft-lab';

export interface LabHostState {
  name: string;
  ns: string;
  address: string;
  socket: string;
  stateDir: string;
  runDir: string;
  log: string;
  pid?: number;
  /** weftd flags beyond the lab's own (kept for `lab start`). */
  args: string[];
  /** Start this host's weftd without --cluster-store although the lab has one (a store-less design on a lab with etcd). */
  noStore?: boolean;
}

export interface LabEtcdState {
  name: string;
  ns: string;
  ip: string;
  dir: string;
  pid?: number;
  initialCluster: string;
}

export interface LabState {
  name: string;
  options: LabOptions;
  createdAt: string;
  dir: string;
  /** Every namespace created, in creation order (deleted in reverse). */
  namespaces: string[];
  etcdUrl?: string;
  hosts: LabHostState[];
  etcd: LabEtcdState[];
  /** --underlay l3 --bgp: ToRs running BIRD (its files in runDir: bird.conf, bird.ctl). */
  routers?: { name: string; ns: string; runDir: string; pid?: number }[];
}

export interface LabUpOptions extends Partial<LabOptions> {
  hosts: number;
  /** Extra weftd flags for every host (e.g. --host-grace-ms 3000). */
  weftdArgs?: string[];
  onProgress?: (done: number, total: number, what: string) => void;
}

const addrOf = (cidr: string) => cidr.split('/')[0]!;

export class ClusterLab {
  private constructor(readonly state: LabState) {}

  static dirOf(name: string): string {
    return path.join(LAB_ROOT, name);
  }

  /** Names of the labs with a state file. */
  static list(): string[] {
    if (!existsSync(LAB_ROOT)) return [];
    return readdirSync(LAB_ROOT)
      .filter((n) => existsSync(path.join(LAB_ROOT, n, 'state.json')))
      .sort();
  }

  static load(name?: string): ClusterLab {
    const labs = ClusterLab.list();
    const pick = name ?? (labs.length === 1 ? labs[0] : 'lab');
    const file = path.join(ClusterLab.dirOf(pick!), 'state.json');
    if (!existsSync(file)) throw new NotFoundError('lab', pick!);
    return new ClusterLab(JSON.parse(readFileSync(file, 'utf8')) as LabState);
  }

  private save(): void {
    const file = path.join(this.state.dir, 'state.json');
    writeFileSync(`${file}.tmp`, JSON.stringify(this.state, null, 2));
    renameSync(`${file}.tmp`, file);
  }

  /** Build the whole lab; on failure everything made so far is removed again. */
  static async up(o: LabUpOptions): Promise<ClusterLab> {
    const opts = validateLabOptions(o);
    const topo = labTopology(opts);
    const dir = ClusterLab.dirOf(opts.name);
    if (existsSync(path.join(dir, 'state.json')))
      throw new WeftError('WEFT_CONFLICT', `lab "${opts.name}" exists: weft lab down --lab ${opts.name} first`, { field: 'name' });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lab = new ClusterLab({
      name: opts.name,
      options: opts,
      createdAt: new Date().toISOString(),
      dir,
      namespaces: [],
      ...(topo.etcdUrl ? { etcdUrl: topo.etcdUrl } : {}),
      hosts: [],
      etcd: [],
    });
    lab.save();
    const hostNodes = topo.nodes.filter((n) => n.kind === 'host');
    const total = 1 + topo.nodes.filter((n) => n.kind === 'etcd').length + hostNodes.length;
    let done = 0;
    const step = (what: string) => o.onProgress?.(++done, total, what);
    try {
      await lab.buildUnderlay(topo);
      step('underlay');
      const etcdNodes = topo.nodes.filter((n) => n.kind === 'etcd');
      const initialCluster = etcdNodes.map((n) => `${n.name}=http://${addrOf(n.cidr!)}:2380`).join(',');
      for (const n of etcdNodes) {
        lab.state.etcd.push({ name: n.name, ns: n.ns, ip: addrOf(n.cidr!), dir: path.join(dir, n.name), initialCluster });
      }
      lab.save();
      // Members of a cluster wait for each other: start them together.
      await Promise.all(
        lab.state.etcd.map(async (e) => {
          await lab.startEtcd(e.name);
          step(e.name);
        }),
      );
      if (topo.tors.length > 0) await lab.startTors(topo);
      for (const n of hostNodes) {
        lab.state.hosts.push({
          name: n.name,
          ns: n.ns,
          address: addrOf(n.cidr!),
          socket: path.join(dir, n.name, 'run', 'weft.sock'),
          stateDir: path.join(dir, n.name, 'state'),
          runDir: path.join(dir, n.name, 'run'),
          log: path.join(dir, n.name, 'weftd.log'),
          args: [
            ...(opts.routing === 'bgp' ? ['--bgp', '--policy'] : []),
            // Behind ToRs each host is its own AS (eBGP to its router); bgp/config leaves the AS to this flag.
            ...(topo.tors.length > 0 ? ['--bgp-as', String(hostAs(Number(n.name.slice(1))))] : []),
            ...(o.weftdArgs ?? []),
          ],
        });
      }
      lab.save();
      // A few at a time: each weftd start costs a Node startup on a small machine.
      const queue = [...lab.state.hosts];
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let h = queue.shift(); h; h = queue.shift()) {
            await lab.start(h.name);
            step(h.name);
          }
        }),
      );
      return lab;
    } catch (err) {
      await lab.down().catch((e: unknown) => process.emitWarning(`lab cleanup after a failed up: ${String(e)}`));
      throw err;
    }
  }

  private async addNs(ns: string): Promise<void> {
    this.state.namespaces.push(ns);
    this.save(); // recorded before it exists: a crash right after still gets it removed
    await mustRun('ip', ['netns', 'add', ns]);
    await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async buildUnderlay(t: LabTopology): Promise<void> {
    const sw = t.nodes.filter((n) => n.kind === 'switch' || n.kind === 'router');
    for (const n of sw) {
      await this.addNs(n.ns);
      await mustRun('ip', ['-n', n.ns, 'link', 'add', 'br0', 'type', 'bridge']);
      await mustRun('ip', ['-n', n.ns, 'link', 'set', 'br0', 'up']);
      if (n.cidr) await mustRun('ip', ['-n', n.ns, 'addr', 'add', n.cidr, 'dev', 'br0']);
      if (n.kind === 'router') await mustRun('nsenter', [`--net=/run/netns/${n.ns}`, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
    }
    const spine = t.nodes.find((n) => n.name === 'sp');
    for (const [i, u] of t.uplinks.entries()) {
      await mustRun('ip', ['-n', u.router, 'link', 'add', 'up0', 'type', 'veth', 'peer', 'name', `p${i}`, 'netns', spine!.ns]);
      await mustRun('ip', ['-n', spine!.ns, 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
      await mustRun('ip', ['-n', u.router, 'addr', 'add', u.cidr, 'dev', 'up0']);
      await mustRun('ip', ['-n', u.router, 'link', 'set', 'up0', 'up']);
    }
    // Static ToR routes; with issue 15's --bgp the ToRs learn these from BIRD instead.
    // The underlay between segments (host and etcd addresses); with --bgp, workload blocks come from the ToRs' BIRD.
    for (const r of t.routes) await mustRun('ip', ['-n', r.ns, 'route', 'add', r.dst, 'via', r.via]);
    for (const n of t.nodes.filter((x) => x.kind === 'host' || x.kind === 'etcd')) await this.plug(n);
  }

  /** A node namespace with eth0 on its switch's br0, its address and default route. */
  private async plug(n: LabNode): Promise<void> {
    await this.addNs(n.ns);
    const peer = `v-${n.name}`;
    await mustRun('ip', ['-n', n.ns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', peer, 'netns', n.attach!]);
    await mustRun('ip', ['-n', n.attach!, 'link', 'set', peer, 'master', 'br0', 'up']);
    await mustRun('ip', ['-n', n.ns, 'addr', 'add', n.cidr!, 'dev', 'eth0']);
    // nodad: usable at once (duplicate-address detection would hold BIRD's IPv6 sessions back ~2 s).
    if (n.cidr6) await mustRun('ip', ['-n', n.ns, 'addr', 'add', n.cidr6, 'dev', 'eth0', 'nodad']);
    await mustRun('ip', ['-n', n.ns, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', n.ns, 'route', 'add', 'default', 'via', n.gateway!]);
  }

  /**
   * Top-of-rack BIRD on each host segment's router, and the cluster's BGP settings in etcd:
   * no host-to-host mesh, each host peering with its own ToR (bgp/peers limited by host name).
   * BIRD is left running detached (it outlives this command); `down` kills it with the namespace's processes.
   */
  private async startTors(t: LabTopology): Promise<void> {
    const e = this.state.etcd[0]!;
    const put = async (key: string, value: unknown): Promise<void> => {
      await mustRun('nsenter', [
        `--net=/run/netns/${e.ns}`,
        'etcdctl',
        `--endpoints=${e.ip}:2379`,
        'put',
        `/weft/v1/${key}`,
        JSON.stringify(value),
      ]);
    };
    await put('bgp/config', { mesh: 'none' });
    for (const tor of t.tors)
      await put(`bgp/peers/tor-${tor.name}`, { name: `tor-${tor.name}`, asNumber: tor.asNumber, address: tor.address, hosts: tor.hosts });
    this.state.routers = [];
    for (const tor of t.tors) {
      const runDir = path.join(this.state.dir, tor.name);
      this.state.routers.push({ name: tor.name, ns: tor.ns, runDir });
      this.save();
      const speaker = await BgpSpeaker.start(tor.model, { runDir, netns: `/run/netns/${tor.ns}`, name: 'bird' });
      this.state.routers.at(-1)!.pid = speaker.pid;
      speaker.detach();
      this.save();
    }
  }

  private node(name: string): LabHostState {
    const h = this.state.hosts.find((x) => x.name === name);
    if (!h) throw new NotFoundError('lab host', name);
    return h;
  }

  private async startEtcd(name: string): Promise<void> {
    const e = this.state.etcd.find((x) => x.name === name)!;
    const m = await startEtcdMember(
      {
        name: e.name,
        nsPath: `/run/netns/${e.ns}`,
        dir: e.dir,
        ip: e.ip,
        initialCluster: e.initialCluster,
        clusterToken: `weft-lab-${this.state.name}`,
      },
      30_000,
    );
    e.pid = m.pid;
    this.save();
  }

  /** Start (or restart) a host's weftd, or an etcd member; resolves when it answers. */
  async start(name: string): Promise<void> {
    if (this.state.etcd.some((e) => e.name === name)) {
      const e = this.state.etcd.find((x) => x.name === name)!;
      if (e.pid && pidAlive(e.pid)) return;
      return this.startEtcd(name);
    }
    const h = this.node(name);
    if (h.pid && pidAlive(h.pid)) return;
    mkdirSync(h.runDir, { recursive: true, mode: 0o700 });
    mkdirSync(h.stateDir, { recursive: true, mode: 0o700 });
    const args = [
      `--net=/run/netns/${h.ns}`,
      process.execPath,
      WEFTD,
      '--state-dir',
      h.stateDir,
      '--run-dir',
      h.runDir,
      '--firewall',
      'none',
      '--docker-plugin-socket',
      '',
      '--host-name',
      h.name,
      ...(this.state.etcdUrl && !h.noStore ? ['--cluster-store', this.state.etcdUrl] : []),
      ...(this.state.options.mesh ? this.meshArgs(h) : []),
      ...h.args,
    ];
    const fd = openSync(h.log, 'a');
    const env: NodeJS.ProcessEnv = { ...process.env, WEFT_LOG: process.env.WEFT_LOG ?? 'info' };
    delete env.NODE_TEST_CONTEXT;
    const child = spawn('nsenter', args, { detached: true, stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    child.unref();
    h.pid = child.pid;
    this.save();
    const client = new WeftClient(h.socket, 2000);
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        if (h.pid === undefined || !pidAlive(h.pid)) {
          throw new WeftError('WEFT_INTERNAL', `weftd on ${name} exited: ${readFileSync(h.log, 'utf8').split('\n').slice(-5).join('\n')}`);
        }
        if (existsSync(h.socket)) {
          const ok = await client.request('GET', '/v1/info').then(
            () => true,
            () => false,
          );
          if (ok) return;
        }
        if (Date.now() > deadline) throw new WeftError('WEFT_TIMEOUT', `weftd on ${name} did not answer within 30 s (log: ${h.log})`);
        await sleep(100);
      }
    } finally {
      client.close();
    }
  }

  /** --mesh: every weftd peers with all the others and the ring is seeded with every host's name (no store). */
  private meshArgs(h: LabHostState): string[] {
    const others = this.state.hosts.filter((x) => x.name !== h.name);
    return [
      '--mesh-name',
      h.name,
      '--mesh-listen',
      h.address,
      '--mesh-ipalloc-init',
      `seed=${this.state.hosts.map((x) => x.name).join(',')}`,
      ...others.flatMap((x) => ['--mesh-peer', x.address]),
    ];
  }

  /**
   * SIGKILL a host's weftd (or an etcd member): a crash, for fault injection. `wholeHost`: the
   * host dies, not only its daemon — every process in its namespace (weftd, BIRD) is killed,
   * so its BGP sessions close and its routes are withdrawn; its sandboxes' processes stay.
   */
  async kill(name: string, opts: { wholeHost?: boolean } = {}): Promise<void> {
    const e = this.state.etcd.find((x) => x.name === name);
    const target = e ?? this.node(name);
    if (target.pid) await killAndWait(target.pid);
    delete target.pid;
    this.save();
    if (opts.wholeHost && !e) {
      const r = await run('ip', ['netns', 'pids', target.ns]);
      for (const p of r.stdout.split('\n').filter(Boolean)) await killAndWait(Number(p));
    }
  }

  /** Run a command in a host's namespace with WEFT_HOST pointing at its weftd. */
  exec(name: string, argv: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
    const h = this.node(name);
    return run('nsenter', [`--net=/run/netns/${h.ns}`, ...argv], { ...opts, env: this.envFor(h) });
  }

  /** `weft ARGS` against a host's weftd, inside its namespace. */
  weft(name: string, args: string[], timeoutMs = 30_000): Promise<RunResult> {
    return this.exec(name, [process.execPath, WEFT, ...args], { timeoutMs });
  }

  envFor(h: LabHostState): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT; // a child node must not report to a test runner that started us
    return { ...env, WEFT_HOST: `unix://${h.socket}`, WEFT_SOCKET: h.socket, WEFT_LAB: this.state.name, WEFT_LAB_HOST: h.name };
  }

  host(name: string): LabHostState {
    return this.node(name);
  }

  /**
   * Remove everything the state file names: processes, mounts, namespaces, the directory.
   * Processes: the recorded daemons, then every process living in one of the lab's namespaces
   * or in a sandbox namespace a host's weftd mounted under the lab directory (`weft run`
   * sandboxes, BIRD, wireguard-go) — found before the mounts go, killed by pid.
   */
  async down(): Promise<void> {
    const pids = [...this.state.hosts, ...this.state.etcd].flatMap((x) => (x.pid ? [x.pid] : []));
    for (const pid of pids) if (ownsPid(pid, this.state)) await killAndWait(pid);
    const mounts = mountsUnder(this.state.dir);
    const namespaces = [...this.state.namespaces.map((ns) => `/run/netns/${ns}`), ...mounts];
    // Twice: a process of the lab may have forked while the first round ran.
    for (let round = 0; round < 2; round++) for (const pid of pidsInNetns(namespaces)) await killAndWait(pid);
    for (const m of mounts) await run('umount', ['-l', m]);
    for (const ns of [...this.state.namespaces].reverse()) {
      if (existsSync(`/run/netns/${ns}`)) await mustRun('ip', ['netns', 'del', ns]);
    }
    rmSync(this.state.dir, { recursive: true, force: true });
  }
}

/** Only kill a recorded pid if it is still the process we started (pids get reused). */
function ownsPid(pid: number, s: LabState): boolean {
  try {
    const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes(s.dir);
  } catch {
    return false; // gone
  }
}
