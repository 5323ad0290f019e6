/**
 * A routed lab for the BGP tests and bench: "hosts" and "routers" are network namespaces,
 * each L2 segment a bridge in a switch namespace, workloads are namespaces wired the way
 * Calico's routed scheme (and weft's future `routed` driver) does it — a veth, the workload's
 * address as /32, 169.254.1.1 as an on-link gateway, proxy ARP on the host side and a /32 route
 * to the workload on the host. Underlays use 198.18.0.0/15 and 2001:db8::/32. Everything is
 * made inside namespaces this lab creates (never the root namespace) and removed by cleanup(),
 * which also stops every BIRD it started, by pid.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import type { RouteInfo } from '../../src/kernel/netlink/types.js';
import { writeSysctlIn } from '../../src/kernel/sysctl.js';
import { BgpSpeaker, type BgpPeerStatus, type BgpSpeakerOptions } from '../../src/bgp/bgp-speaker.js';
import { SupervisedProcess } from '../../src/kernel/supervisor.js';
import type { BgpModel } from '../../src/bgp/model.js';
import { deleteNetnsWithProcesses, mustRun, NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';

export const RTPROT_BIRD = 12;
export const RTN_BLACKHOLE = 6;
const HOST_SIDE_MAC = 'ee:ee:ee:ee:ee:ee';

export interface LabNode {
  name: string;
  ns: string;
  nsPath: string;
  runDir: string;
}

export class BgpTopology {
  readonly tag = randomBytes(3).toString('hex');
  readonly dir = mkdtempSync(path.join(tmpdir(), 'weft-bgp-lab-'));
  private readonly namespaces: string[] = [];
  private readonly speakers: BgpSpeaker[] = [];
  private readonly daemons: SupervisedProcess[] = [];
  private readonly rtnls: Rtnl[] = [];
  private readonly bridges = new Map<string, string>();
  private vethSeq = 0;

  /** A new namespace with lo up. */
  async node(name: string): Promise<LabNode> {
    const ns = `wbgp-${this.tag}-${name}`;
    await mustRun('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    return { name, ns, nsPath: `/run/netns/${ns}`, runDir: path.join(this.dir, name) };
  }

  /** A host or router: a namespace that forwards. */
  async router(name: string): Promise<LabNode> {
    const n = await this.node(name);
    await writeSysctlIn(n.nsPath, 'net.ipv4.ip_forward', '1');
    await writeSysctlIn(n.nsPath, 'net.ipv6.conf.all.forwarding', '1');
    return n;
  }

  /** An L2 segment: a bridge in its own switch namespace. */
  async segment(name: string): Promise<void> {
    const sw = await this.node(`sw-${name}`);
    await mustRun('ip', ['-n', sw.ns, 'link', 'add', 'br0', 'type', 'bridge']);
    await mustRun('ip', ['-n', sw.ns, 'link', 'set', 'br0', 'up']);
    this.bridges.set(name, sw.ns);
  }

  /** Plug `node` into `segment` as interface `ifname` with the given addresses (CIDR). */
  async attach(node: LabNode, segment: string, ifname: string, cidrs: string[]): Promise<void> {
    const sw = this.bridges.get(segment);
    if (!sw) throw new Error(`no segment ${segment}`);
    const port = `p${++this.vethSeq}`;
    // Made inside the switch namespace with its peer placed straight into the node: the root
    // namespace never sees either end.
    await mustRun('ip', ['-n', sw, 'link', 'add', port, 'type', 'veth', 'peer', 'name', ifname, 'netns', node.ns]);
    await mustRun('ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
    for (const c of cidrs) await mustRun('ip', ['-n', node.ns, 'addr', 'add', c, 'dev', ifname, ...(c.includes(':') ? ['nodad'] : [])]);
    await mustRun('ip', ['-n', node.ns, 'link', 'set', ifname, 'up']);
  }

  /** A workload with `address` (/32) behind `host`, Calico-style; returns its namespace. */
  async workload(host: LabNode, name: string, address: string): Promise<LabNode> {
    const w = await this.node(name);
    const hostIf = `wl${++this.vethSeq}`;
    // The host side has a fixed MAC and answers for 169.254.1.1 through a permanent neighbour
    // entry in the workload: proxy ARP alone would need the host to have a route to 169.254.1.1.
    await mustRun('ip', [
      '-n',
      host.ns,
      'link',
      'add',
      hostIf,
      'address',
      HOST_SIDE_MAC,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      w.ns,
    ]);
    await writeSysctlIn(host.nsPath, `net.ipv4.conf.${hostIf}.proxy_arp`, '1');
    await mustRun('ip', ['-n', host.ns, 'link', 'set', hostIf, 'up']);
    await mustRun('ip', ['-n', w.ns, 'addr', 'add', `${address}/32`, 'dev', 'eth0']);
    await mustRun('ip', ['-n', w.ns, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', w.ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link']);
    await mustRun('ip', ['-n', w.ns, 'neigh', 'add', '169.254.1.1', 'lladdr', HOST_SIDE_MAC, 'dev', 'eth0', 'nud', 'permanent']);
    await mustRun('ip', ['-n', w.ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0']);
    await mustRun('ip', ['-n', host.ns, 'route', 'add', `${address}/32`, 'dev', hostIf, 'scope', 'link']);
    return w;
  }

  /** Start a BIRD for `node` from `model` (stopped by cleanup). */
  async speaker(node: LabNode, model: BgpModel, opts: Partial<BgpSpeakerOptions> = {}): Promise<BgpSpeaker> {
    const s = await BgpSpeaker.start(model, { runDir: node.runDir, netns: node.nsPath, ...opts });
    this.speakers.push(s);
    return s;
  }

  /** gobgpd in `node` with a TOML config (API on the namespace's 127.0.0.1:50051), stopped by cleanup. */
  async gobgpd(node: LabNode, toml: string): Promise<SupervisedProcess> {
    const file = path.join(this.dir, `gobgpd-${node.name}.toml`);
    writeFileSync(file, toml);
    const p = new SupervisedProcess({
      name: 'gobgpd',
      program: 'gobgpd',
      packageName: 'gobgpd',
      args: ['-f', file, '--api-hosts', '127.0.0.1:50051', '--pprof-disable', '-p'],
      netns: node.nsPath,
      runDir: path.join(this.dir, `gobgp-${node.name}`),
      ready: { probe: async () => (await run('nsenter', [`--net=${node.nsPath}`, 'gobgp', 'global'], { timeoutMs: 3000 })).code === 0 },
    });
    this.daemons.push(p);
    await p.ensure();
    return p;
  }

  /** A netlink handle in the node's namespace (closed by cleanup). */
  async rtnl(node: LabNode): Promise<Rtnl> {
    const r = await Rtnl.open(node.nsPath);
    this.rtnls.push(r);
    return r;
  }

  /** A TCP echo server (nettool) in `node`, left running until cleanup deletes the namespace. */
  async tcpServer(node: LabNode, port: number): Promise<void> {
    const { spawn } = await import('node:child_process');
    const child = spawn('nsenter', [`--net=${node.nsPath}`, process.execPath, NETTOOL, 'tcp-server', String(port)], {
      stdio: 'ignore',
      detached: false,
    });
    child.unref();
    await waitFor(`tcp server in ${node.name}`, async () => (await run('ip', ['netns', 'pids', node.ns])).stdout.trim() !== '', 5000);
    await new Promise((r) => setTimeout(r, 300)); // node startup before listen
  }

  /** Connect from `from` to addr:port; resolves the echo ("<source> <msg>") or undefined on failure. */
  async tcpProbe(from: LabNode, addr: string, port: number, timeoutMs = 2000): Promise<string | undefined> {
    const r = await run(
      'nsenter',
      [`--net=${from.nsPath}`, process.execPath, NETTOOL, 'tcp-client', addr, String(port), 'hi', String(timeoutMs)],
      {
        timeoutMs: timeoutMs + 3000,
      },
    );
    return r.code === 0 ? r.stdout.trim() : undefined;
  }

  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const s of this.speakers) {
      try {
        await s.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    for (const d of this.daemons) {
      try {
        await d.stop();
      } catch (err) {
        errors.push(err);
      }
    }
    for (const r of this.rtnls) r.close();
    await deleteNetnsWithProcesses(this.namespaces);
    rmSync(this.dir, { recursive: true, force: true });
    if (errors.length > 0) throw new AggregateError(errors, 'stopping lab daemons');
  }
}

/** BIRD's routes for `dst` in the node's main table. */
export function birdRoutes(r: Rtnl, family: 4 | 6, dst?: string): RouteInfo[] {
  return r.routes(family, 254).filter((x) => x.protocol === RTPROT_BIRD && (dst === undefined || x.dst === dst));
}

/** Wait until BIRD's route for `dst` has `gateway` (or is a blackhole when gateway is 'blackhole'). */
export function waitBirdRoute(r: Rtnl, family: 4 | 6, dst: string, gateway: string, ms = 15_000): Promise<RouteInfo> {
  return waitFor(
    `${dst} via ${gateway} (proto bird) in ${r.netnsPath ?? 'this namespace'}`,
    () => birdRoutes(r, family, dst).find((x) => (gateway === 'blackhole' ? x.type === RTN_BLACKHOLE : x.gateway === gateway)),
    ms,
    10,
  );
}

/** Wait until BIRD has no route for `dst`; resolves the elapsed milliseconds. */
export async function waitNoBirdRoute(r: Rtnl, family: 4 | 6, dst: string, ms = 15_000): Promise<number> {
  const t0 = Date.now();
  await waitFor(`${dst} withdrawn in ${r.netnsPath ?? 'this namespace'}`, () => birdRoutes(r, family, dst).length === 0, ms, 5);
  return Date.now() - t0;
}

/** Wait until every BGP session of the speaker (or those `which` selects) is Established; resolves the elapsed ms. */
export async function waitEstablished(s: BgpSpeaker, ms = 20_000, which: (p: BgpPeerStatus) => boolean = () => true): Promise<number> {
  const t0 = Date.now();
  await waitFor('BGP sessions Established', async () => (await s.peers()).filter(which).every((p) => p.established), ms, 20);
  return Date.now() - t0;
}

/** A GoBGP TOML config: global AS and router id, one eBGP/iBGP neighbour per peer. */
export function gobgpConf(as: number, routerId: string, peers: { address: string; as: number }[]): string {
  return (
    `[global.config]\n  as = ${as}\n  router-id = "${routerId}"\n` +
    peers.map((p) => `[[neighbors]]\n  [neighbors.config]\n    neighbor-address = "${p.address}"\n    peer-as = ${p.as}\n`).join('')
  );
}
