/**
 * A small multi-host lab for the overlay driver's kernel tests, without the cluster wiring:
 * N fake host namespaces on one underlay bridge (198.18.0.0/15), each with its own
 * OverlayDriver (as each weftd has) whose "host" namespace is the fake host's, and sandboxes
 * as plain namespaces. The tests play the controller and the cluster agent: they build the
 * records and call networkUp/join/peerUp/hostDown directly.
 */
import { randomBytes } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { RealKernel } from '../kernel/real-kernel.js';
import type { KernelPort, NetlinkPort } from '../kernel/kernel-port.js';
import type { DriverServices, EndpointContext, NetworkContext, RemoteEndpoint } from '../drivers/driver.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import { OverlayDriver } from '../drivers/overlay/overlay-driver.js';
import { overlayNetnsPath } from '../drivers/overlay/overlay-options.js';
import { IFNAMES } from '../drivers/ifnames.js';
import { macFromIPv4 } from '../ipam/mac.js';
import { deleteNetnsWithProcesses, mustRun, run, type RunResult } from './sim-host.js';

export const hex = (n: number): string => randomBytes(n).toString('hex');

/**
 * The lab's RealKernel seen from a fake host: its "host" namespace (and "no namespace" for
 * sysctls) is the fake host's, where weftd runs in the product. Everything else is the shared
 * kernel's own method on its own caches: the view inherits from it instead of forwarding each
 * of KernelPort's methods by hand.
 */
function hostKernel(k: RealKernel, hostNs: NetlinkPort, hostPath: string): KernelPort {
  const view = Object.create(k) as RealKernel;
  view.host = () => hostNs;
  view.setSysctl = (p, key, v) => k.setSysctl(p ?? hostPath, key, v);
  view.readSysctl = (p, key) => k.readSysctl(p ?? hostPath, key);
  return view;
}

export interface LabHost {
  name: string;
  ns: string;
  path: string;
  hostId: string;
  address: string;
  driver: OverlayDriver;
  kernel: KernelPort;
  services: DriverServices;
}

export interface LabSandbox {
  host: LabHost;
  ns: string;
  path: string;
  record: SandboxRecord;
  endpoint: EndpointRecord;
  network: NetworkRecord;
}

export function overlayNetwork(name: string, subnet: string, o: Partial<NetworkRecord> = {}): NetworkRecord {
  const gw = subnet.replace(/\.0\/\d+$/, '.1');
  return {
    id: hex(32),
    name,
    driver: 'overlay',
    created: new Date().toISOString(),
    scope: 'global',
    internal: false,
    enableIPv6: false,
    attachable: true,
    labels: {},
    options: {},
    ipam: { driver: 'default', options: {}, config: [{ subnet, gateway: gw, auxAddresses: {} }] },
    driverState: {},
    ...o,
  };
}

export class OverlayLab {
  readonly tag = hex(3);
  readonly kernel = new RealKernel();
  readonly hosts: LabHost[] = [];
  readonly sandboxes: LabSandbox[] = [];
  private readonly namespaces: string[] = [];
  private made = 0;
  private readonly children: ChildProcess[] = [];
  private readonly outputs = new WeakMap<ChildProcess, string[]>();
  readonly underlayNs = `ovl-u-${this.tag}`;
  /** Third octet of the underlay subnet 198.18.X.0/24. */
  private readonly octet = 1 + (parseInt(this.tag.slice(0, 2), 16) % 250);

  async nsAdd(name: string): Promise<string> {
    await mustRun('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    await mustRun('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
    return `/run/netns/${name}`;
  }

  async up(n: number, underlayMtu = 1500): Promise<void> {
    await this.nsAdd(this.underlayNs);
    await mustRun('ip', ['-n', this.underlayNs, 'link', 'add', 'ul', 'type', 'bridge']);
    await mustRun('ip', ['-n', this.underlayNs, 'link', 'set', 'ul', 'up']);
    for (let i = 1; i <= n; i++) {
      const name = `h${i}`;
      const ns = `ovl-${name}-${this.tag}`;
      const path = await this.nsAdd(ns);
      const address = `198.18.${this.octet}.${i}`;
      await mustRun('ip', [
        '-n',
        this.underlayNs,
        'link',
        'add',
        `p${i}`,
        'mtu',
        String(underlayMtu),
        'type',
        'veth',
        'peer',
        'name',
        'eth0',
        'netns',
        ns,
      ]);
      await mustRun('ip', ['-n', this.underlayNs, 'link', 'set', `p${i}`, 'master', 'ul', 'up']);
      await mustRun('ip', ['-n', ns, 'addr', 'add', `${address}/24`, 'dev', 'eth0']);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
      const hostId = `ovl-${this.tag}-${name}`;
      const kernel = hostKernel(this.kernel, await this.kernel.inNetns(path), path);
      const services: DriverServices = {
        cluster: { hostId, hostAddress: address, publishHostData: () => Promise.resolve() },
      };
      this.hosts.push({ name, ns, path, hostId, address, driver: new OverlayDriver(), kernel, services });
    }
  }

  netCtx(h: LabHost, network: NetworkRecord): NetworkContext {
    return { kernel: h.kernel, services: h.services, network };
  }

  epCtx(s: LabSandbox): EndpointContext {
    return { ...this.netCtx(s.host, s.network), endpoint: s.endpoint, sandbox: s.record };
  }

  /** A sandbox on host h joined to network with address ip (in the subnet's /24). */
  async sandbox(
    h: LabHost,
    network: NetworkRecord,
    ip: string,
    o: { defaultRoute?: boolean; endpointId?: string } = {},
  ): Promise<LabSandbox> {
    // Counted apart from `sandboxes`: a join that failed leaves its namespace behind until cleanup.
    const ns = `ovl-s${++this.made}-${this.tag}`;
    const path = await this.nsAdd(ns);
    const id = hex(32);
    const record: SandboxRecord = {
      id,
      name: ns,
      kind: 'netns',
      netnsPath: path,
      dns: [],
      hostname: ns,
      labels: {},
      created: new Date().toISOString(),
    };
    const epId = o.endpointId ?? hex(32);
    const endpoint: EndpointRecord = {
      id: epId,
      networkId: network.id,
      sandboxId: id,
      ifname: 'eth0',
      hostIfname: IFNAMES.hostVeth.of(epId),
      macAddress: macFromIPv4(ip),
      ipv4: `${ip}/24`,
      gateway4: network.ipam.config[0]!.gateway,
      aliases: [],
      defaultRoute: o.defaultRoute ?? false,
      requested: {},
      created: new Date().toISOString(),
    };
    const s: LabSandbox = { host: h, ns, path, record, endpoint, network };
    await h.driver.join(this.epCtx(s));
    this.sandboxes.push(s);
    return s;
  }

  /** What the cluster agent would report for a sandbox to the other hosts. */
  remote(s: LabSandbox): RemoteEndpoint {
    return {
      endpointId: s.endpoint.id,
      networkId: s.network.id,
      hostId: s.host.hostId,
      hostAddress: s.host.address,
      ipv4: s.endpoint.ipv4!,
      mac: s.endpoint.macAddress!,
    };
  }

  /** Tell every other host about s (the agent's peerUp fan-out). */
  async announce(s: LabSandbox): Promise<void> {
    for (const h of this.hosts) if (h !== s.host) await h.driver.peerUp(this.netCtx(h, s.network), this.remote(s));
  }

  /** The agent's hostUp fan-out: every host learns of every other one, with the host data `dataOf` gives for it. */
  async hostsUp(dataOf: (h: LabHost) => Record<string, string>): Promise<void> {
    for (const h of this.hosts)
      for (const o of this.hosts)
        if (o !== h)
          await h.driver.hostUp({ kernel: h.kernel, services: h.services }, { hostId: o.hostId, address: o.address, data: dataOf(o) });
  }

  /** A sandbox on each of the first two hosts on `network` (at `ips`), both announced: a pair that talks across the overlay. */
  async announcedPair(network: NetworkRecord, ips: [string, string]): Promise<[LabSandbox, LabSandbox]> {
    const a = await this.sandbox(this.hosts[0]!, network, ips[0]);
    const b = await this.sandbox(this.hosts[1]!, network, ips[1]);
    await this.announce(a);
    await this.announce(b);
    return [a, b];
  }

  async withdraw(s: LabSandbox): Promise<void> {
    for (const h of this.hosts) if (h !== s.host) await h.driver.peerDown(this.netCtx(h, s.network), this.remote(s));
  }

  overlayPath(h: LabHost, network: NetworkRecord): string {
    return overlayNetnsPath(h.hostId, network.id);
  }

  inNs(path: string, cmd: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
    return run('nsenter', [`--net=${path}`, cmd, ...args], { timeoutMs });
  }

  /** A long-running program in a namespace, killed by pid at cleanup. */
  spawnIn(path: string, cmd: string, args: string[]): ChildProcess {
    const c = spawn('nsenter', [`--net=${path}`, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.children.push(c);
    const out: string[] = [];
    this.outputs.set(c, out);
    c.stdout.on('data', (d: Buffer) => out.push(d.toString()));
    c.stderr.on('data', (d: Buffer) => out.push(d.toString()));
    return c;
  }

  /** What a spawned program wrote so far (stdout and stderr). */
  output(c: ChildProcess): string {
    return (this.outputs.get(c) ?? []).join('');
  }

  /** Stop a spawned program (SIGTERM lets tcpdump flush its capture file). */
  kill(c: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    return new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      const t = setTimeout(() => c.kill('SIGKILL'), 3000);
      c.once('exit', () => {
        clearTimeout(t);
        resolve();
      });
      c.kill(signal);
    });
  }

  async cleanup(): Promise<void> {
    for (const c of this.children) await this.kill(c);
    // Overlay namespaces the drivers made (their names carry the host id, so only this lab's).
    const made = (await run('ip', ['netns', 'list'])).stdout
      .split('\n')
      .map((l) => l.split(' ')[0]!)
      .filter((n) => this.hosts.some((h) => n.startsWith(`weft-ovl-${h.hostId}-`)));
    this.kernel.close();
    await deleteNetnsWithProcesses([...made, ...this.namespaces.reverse()]);
  }
}
