/**
 * The lab the overlay CLI tests share (444, 446, 447, 448): `weft lab up` through the real
 * CLI in `before`, `weft lab down` in `after` (and the lab's own `down` if the CLI could not),
 * and the helpers each of them had a copy of — `weft …` on a host through `weft lab exec`, a
 * sandbox's inspect, its address, a TCP probe from a namespace, etcdctl inside a host.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { ClusterLab, type LabHostState } from '../../src/lab/cluster-lab.js';
import { NETTOOL, WEFT, run, waitFor, type RunResult } from '../../src/lab/sim-host.js';

export const node = process.execPath;

/** A child `weft` must not report to the test runner that started this file. */
export const cleanEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  return env;
};

/** What the tests read from `weft sandbox inspect`. */
export interface SandboxInfo {
  name: string;
  netnsPath: string;
  resolvPath: string;
  endpoints: { ipv4?: string; ipv6?: string; macAddress?: string; networkId: string }[];
}

/** A sandbox's first endpoint's address without its prefix (IPv4 unless asked for 6). */
export function addrOf(s: SandboxInfo, family: 4 | 6 = 4): string {
  const cidr = family === 4 ? s.endpoints[0]?.ipv4 : s.endpoints[0]?.ipv6;
  assert.ok(cidr, `${s.name} has an IPv${family} address`);
  return cidr.split('/')[0]!;
}

/** nettool's tcp-client from a namespace: the reply, or undefined on failure. */
export async function tcpFrom(netns: string, host: string, port: number, msg: string, ms = 1500): Promise<string | undefined> {
  const r = await run('nsenter', [`--net=${netns}`, node, NETTOOL, 'tcp-client', host, String(port), msg, String(ms)], {
    timeoutMs: ms + 10_000,
  });
  return r.code === 0 ? r.stdout.trim() : undefined;
}

export interface OverlayCliLabOptions {
  /** Lab name prefix (the helper's or the test's); a random suffix keeps parallel runs apart. */
  prefix: string;
  hosts?: number;
  /** `l2` (one bridge, the default) or `l3` (segments joined by routers). */
  underlay?: 'l2' | 'l3';
  /** Extra weftd flags for every host (`--weftd-arg`). */
  weftdArgs?: string[];
}

/** A `weft lab` for one describe block; make it with `overlayCliLab` so its hooks are registered. */
export class OverlayCliLab {
  readonly name: string;
  private cluster: ClusterLab | undefined;

  constructor(private readonly o: OverlayCliLabOptions) {
    this.name = `${o.prefix}${randomBytes(3).toString('hex')}`;
  }

  /** The lab's state (hosts, etcd) as `weft lab up` wrote it. */
  get lab(): ClusterLab {
    assert.ok(this.cluster, `lab ${this.name} is not up`);
    return this.cluster;
  }

  host = (h: string): LabHostState => this.lab.host(h);

  /** `weft ARGS` from the test's own namespace (lab verbs). */
  cli = (args: string[], timeoutMs = 60_000): Promise<RunResult> => run(node, [WEFT, ...args], { timeoutMs, env: cleanEnv() });

  /** `weft lab exec hN -- weft ARGS`: the CLI inside a host, against its weftd. */
  onHost = (h: string, args: string[], timeoutMs = 60_000): Promise<RunResult> =>
    this.cli(['lab', 'exec', '--lab', this.name, h, '--', node, WEFT, ...args], timeoutMs);

  /** onHost that must succeed; its stdout. */
  ok = async (h: string, args: string[]): Promise<string> => {
    const r = await this.onHost(h, args);
    assert.equal(r.code, 0, `weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };

  inspect = async (h: string, sandbox: string): Promise<SandboxInfo> =>
    (JSON.parse(await this.ok(h, ['sandbox', 'inspect', sandbox])) as SandboxInfo[])[0]!;

  /** Hosts the cluster store lists as up, as `weft host ls` on `h` shows them. */
  upHosts = async (h = 'h1'): Promise<number> => (await this.ok(h, ['host', 'ls'])).split('\n').filter((l) => /\bup\b/.test(l)).length;

  /** Wait until `h` knows a global network (created on another host). */
  waitNetwork = (h: string, net: string, ms = 15_000): Promise<true> =>
    waitFor(`network ${net} on ${h}`, async () => (await this.onHost(h, ['network', 'inspect', net])).code === 0 || undefined, ms, 200);

  /** etcdctl against the lab's etcd, run inside h1 (never from the root namespace). */
  etcdctl = async (args: string[]): Promise<string> => {
    const r = await run('nsenter', [
      `--net=/run/netns/${this.host('h1').ns}`,
      'etcdctl',
      '--endpoints',
      this.lab.state.etcdUrl!.replace(/^etcd:/, 'http:'),
      ...args,
    ]);
    assert.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  /** The network's own namespace on a host (it exists while the host has sandboxes on it). */
  overlayNs = (h: string, networkId: string): string => `${this.host(h).runDir}/overlay-netns/${networkId.slice(0, 12)}`;

  async up(): Promise<void> {
    const extra = (this.o.weftdArgs ?? []).map((a) => `--weftd-arg=${a}`);
    const underlay = ['--underlay', this.o.underlay ?? 'l2'];
    const r = await this.cli(['lab', 'up', '--hosts', String(this.o.hosts ?? 2), ...underlay, '--name', this.name, ...extra], 180_000);
    assert.equal(r.code, 0, `lab up: ${r.stderr}`);
    this.cluster = ClusterLab.load(this.name);
  }

  async down(): Promise<void> {
    const r = await this.cli(['lab', 'down', '--lab', this.name], 120_000);
    if (r.code !== 0 && this.cluster && existsSync(`/run/netns/${this.cluster.host('h1').ns}`)) await this.cluster.down();
  }
}

/** A lab brought up before the enclosing describe's tests and removed after them, even on failure. */
export function overlayCliLab(o: OverlayCliLabOptions): OverlayCliLab {
  const l = new OverlayCliLab(o);
  before(() => l.up());
  after(() => l.down());
  return l;
}
