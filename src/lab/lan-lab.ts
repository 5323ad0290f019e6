/**
 * A simulated LAN for underlay drivers (macvlan, ipvlan; tests and bench/macvlan.ts): one
 * namespace holds the LAN switch (a Linux bridge `lan0`), one the LAN's router (the gateway of
 * every LAN subnet), and each simulated host (a SimHost running weftd) gets NICs whose other
 * ends are ports of the switch. Addresses come from 198.18.0.0/15. Cleanup removes every
 * namespace and process even after a failure.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { SimHost, deleteNetnsWithProcesses, mustRun, run, type RunResult } from './sim-host.js';

export interface LanLabOptions {
  /** How many simulated hosts (weftd started in each unless `start` is false). */
  hosts: number;
  /** Router addresses on the LAN, one per subnet, e.g. ["198.18.40.1/24"]. */
  routerCidrs: string[];
  /** Extra weftd arguments. */
  daemonArgs?: string[];
  start?: boolean;
}

export class LanLab {
  readonly id = randomBytes(3).toString('hex');
  readonly lanNs = `weft-t-lan-${this.id}`;
  readonly routerNs = `weft-t-rtr-${this.id}`;
  hosts: SimHost[] = [];
  private ports = 0;

  get routerPath(): string {
    return `/run/netns/${this.routerNs}`;
  }

  static async create(tag: string, o: LanLabOptions): Promise<LanLab> {
    const lab = new LanLab();
    try {
      for (const ns of [lab.lanNs, lab.routerNs]) {
        await mustRun('ip', ['netns', 'add', ns]);
        await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      }
      await mustRun('ip', ['-n', lab.lanNs, 'link', 'add', 'lan0', 'type', 'bridge']);
      // A switch forwards at once: no STP listening delay on new ports.
      await mustRun('ip', ['-n', lab.lanNs, 'link', 'set', 'lan0', 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']);
      await mustRun('ip', ['-n', lab.lanNs, 'link', 'set', 'lan0', 'up']);
      await mustRun('ip', ['-n', lab.routerNs, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'rtr', 'netns', lab.lanNs]);
      await mustRun('ip', ['-n', lab.lanNs, 'link', 'set', 'rtr', 'master', 'lan0', 'up']);
      // IPv6 addresses without duplicate address detection: usable at once.
      for (const c of o.routerCidrs)
        await mustRun('ip', ['-n', lab.routerNs, 'addr', 'add', c, 'dev', 'eth0', ...(c.includes(':') ? ['nodad'] : [])]);
      await mustRun('ip', ['-n', lab.routerNs, 'link', 'set', 'eth0', 'up']);
      for (let i = 0; i < o.hosts; i++) {
        const h = await SimHost.create(`${tag}${i}`, o.daemonArgs);
        lab.hosts.push(h);
      }
      if (o.start !== false) for (const h of lab.hosts) await h.start();
    } catch (err) {
      await lab.cleanup();
      throw err;
    }
    return lab;
  }

  /**
   * A NIC `ifname` in `host` plugged into the LAN switch (port name returned), up, with an
   * optional address. The NIC is the user's interface: weft must never change or delete it.
   */
  async plug(host: SimHost, ifname: string, cidr?: string): Promise<string> {
    const port = `p${this.ports++}`;
    await mustRun('ip', ['-n', host.ns, 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', port, 'netns', this.lanNs]);
    await mustRun('ip', ['-n', this.lanNs, 'link', 'set', port, 'master', 'lan0', 'up']);
    if (cidr) await mustRun('ip', ['-n', host.ns, 'addr', 'add', cidr, 'dev', ifname]);
    await mustRun('ip', ['-n', host.ns, 'link', 'set', ifname, 'up']);
    return port;
  }

  /** Reflective relay on a switch port (what a VEPA needs from its switch). */
  async hairpin(port: string, on: boolean): Promise<void> {
    await mustRun('ip', ['-n', this.lanNs, 'link', 'set', port, 'type', 'bridge_slave', 'hairpin', on ? 'on' : 'off']);
  }

  /** Run a command in the router's namespace. */
  inRouter(cmd: string, args: string[], timeoutMs?: number): Promise<RunResult> {
    return run('nsenter', [`--net=${this.routerPath}`, cmd, ...args], { timeoutMs });
  }

  /** Start a long-running program in the router (killed with the router's namespace at cleanup). */
  spawnInRouter(cmd: string, args: string[]): void {
    const p = spawn('nsenter', [`--net=${this.routerPath}`, cmd, ...args], { stdio: 'ignore' });
    p.unref();
  }

  /** The router's IPv4 neighbour table: address → MAC (entries with a MAC only). */
  async routerNeighbours(): Promise<Map<string, string>> {
    const r = await run('ip', ['-n', this.routerNs, '-j', '-4', 'neigh', 'show', 'dev', 'eth0']);
    const out = new Map<string, string>();
    for (const n of JSON.parse(r.stdout || '[]') as { dst: string; lladdr?: string }[]) if (n.lladdr) out.set(n.dst, n.lladdr);
    return out;
  }

  /** MACs the LAN switch has learned on a port. */
  async learnedOn(port: string): Promise<string[]> {
    const r = await run('bridge', ['-n', this.lanNs, '-j', 'fdb', 'show', 'br', 'lan0', 'brport', port]);
    return (JSON.parse(r.stdout || '[]') as { mac: string; flags?: string[]; state?: string }[])
      .filter((e) => e.state !== 'permanent')
      .map((e) => e.mac);
  }

  /** Remove everything; every step runs even when an earlier one failed, and failures are reported. */
  async cleanup(): Promise<void> {
    const errors: unknown[] = [];
    for (const h of this.hosts) await h.cleanup().catch((e: unknown) => errors.push(e));
    await deleteNetnsWithProcesses([this.routerNs, this.lanNs]).catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw new AggregateError(errors, 'LAN lab cleanup failed');
  }
}
