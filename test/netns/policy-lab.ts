/**
 * The policy tests' world, all in namespaces they make: a fake host namespace and workload
 * namespaces attached to it either the Calico way (routed: own veth, /32 + /128 host routes,
 * proxy_arp, 169.254.1.1 and the host veth's link-local as on-link gateways) or the Docker way
 * (bridged: one Linux bridge). Each workload runs a probe agent (policy-agent.ts) that serves
 * TCP/UDP and makes real connections on request.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { REPO, deleteNetnsWithProcesses, mustRun } from '../../src/lab/sim-host.js';

export const AGENT = path.join(REPO, 'dist/test/netns/policy-agent.js');
/** Calico's host-side veth MAC; its EUI-64 link-local is the workloads' IPv6 gateway. */
export const HOST_VETH_MAC = 'ee:ee:ee:ee:ee:ee';
export const HOST_VETH_LL = 'fe80::ecee:eeff:feee:eeee';

export type ProbeKind = 'tcp' | 'udp' | 'icmp';

export interface ProbeResult {
  ok: boolean;
  detail: string;
  /** How long the probe took inside the agent. */
  ms: number;
}

export class Agent {
  private nextId = 1;
  private readonly pending = new Map<number, (r: ProbeResult) => void>();

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      const msg = JSON.parse(line) as { id?: number; ok?: boolean; detail?: string; ms?: number };
      if (msg.id === undefined) return;
      this.pending.get(msg.id)?.({ ok: msg.ok === true, detail: msg.detail ?? '', ms: msg.ms ?? 0 });
      this.pending.delete(msg.id);
    });
  }

  /** Start an agent in namespace `ns`, serving TCP `tcp` and UDP `udp` ports. */
  static async start(name: string, ns: string, tcp: number[], udp: number[]): Promise<Agent> {
    const child = spawn('nsenter', [`--net=/run/netns/${ns}`, process.execPath, AGENT, name, tcp.join(','), udp.join(',')], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`agent ${name} did not start: ${stderr}`)), 15_000);
      child.stdout.once('data', () => {
        clearTimeout(t);
        resolve();
      });
      child.once('exit', (code) => reject(new Error(`agent ${name} exited ${code}: ${stderr}`)));
    });
    return new Agent(name, child);
  }

  probe(kind: ProbeKind, host: string, port: number, timeoutMs = 1500): Promise<ProbeResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const guard = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`agent ${this.name} never answered probe ${kind} ${host}:${port}`));
      }, timeoutMs + 60_000);
      this.pending.set(id, (r) => {
        clearTimeout(guard);
        resolve(r);
      });
      this.child.stdin!.write(JSON.stringify({ id, kind, host, port, timeoutMs }) + '\n');
    });
  }

  stop(): void {
    this.child.stdin?.end();
    this.child.kill('SIGKILL');
  }
}

export interface Workload {
  name: string;
  ns: string;
  v4: string;
  v6: string;
  agent?: Agent;
}

export class PolicyLab {
  readonly host: string;
  readonly workloads: Workload[] = [];
  private readonly namespaces: string[] = [];

  constructor(readonly tag: string) {
    this.host = `${tag}-host`;
  }

  get hostPath(): string {
    return `/run/netns/${this.host}`;
  }

  ip(ns: string, ...args: string[]): Promise<string> {
    return mustRun('ip', ['-n', ns, ...args]);
  }

  sysctl(ns: string, key: string, value: string): Promise<string> {
    return mustRun('nsenter', [`--net=/run/netns/${ns}`, 'sysctl', '-qw', `${key}=${value}`]);
  }

  nft(args: string[], input?: string): Promise<string> {
    return mustRun('nsenter', [`--net=${this.hostPath}`, 'nft', ...args], input === undefined ? {} : { input });
  }

  private async addNamespace(ns: string): Promise<void> {
    await mustRun('ip', ['netns', 'add', ns]);
    this.namespaces.push(ns);
    await this.ip(ns, 'link', 'set', 'lo', 'up');
  }

  async createHost(): Promise<void> {
    await this.addNamespace(this.host);
    await this.sysctl(this.host, 'net.ipv4.ip_forward', '1');
    await this.sysctl(this.host, 'net.ipv6.conf.all.forwarding', '1');
    // No DAD delay on the host veths' link-local gateway address.
    await this.sysctl(this.host, 'net.ipv6.conf.default.accept_dad', '0');
    // An uplink with a default route, as every Calico host has: proxy ARP answers for
    // 169.254.1.1 only because it is routable through another interface.
    const out = `${this.tag}-up`;
    await this.addNamespace(out);
    await this.ip(this.host, 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', out);
    await this.ip(this.host, 'addr', 'add', '198.18.0.1/24', 'dev', 'uplink');
    await this.ip(this.host, 'link', 'set', 'uplink', 'up');
    await this.ip(out, 'addr', 'add', '198.18.0.2/24', 'dev', 'eth0');
    await this.ip(out, 'link', 'set', 'eth0', 'up');
    await this.ip(this.host, 'route', 'add', 'default', 'via', '198.18.0.2');
  }

  /** A workload behind its own veth, Calico style. `i` (1-250) picks the host veth name. */
  async addRouted(name: string, i: number, v4: string, v6: string): Promise<Workload> {
    const ns = `${this.tag}-${name}`;
    const hostIf = `wr${i}`;
    await this.addNamespace(ns);
    await this.sysctl(ns, 'net.ipv6.conf.default.accept_dad', '0');
    await this.ip(this.host, 'link', 'add', hostIf, 'address', HOST_VETH_MAC, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.sysctl(this.host, `net.ipv4.conf.${hostIf}.proxy_arp`, '1');
    await this.sysctl(this.host, `net.ipv4.neigh.${hostIf}.proxy_delay`, '0');
    await this.ip(this.host, 'link', 'set', hostIf, 'up');
    await this.ip(this.host, 'route', 'add', `${v4}/32`, 'dev', hostIf);
    await this.ip(this.host, '-6', 'route', 'add', `${v6}/128`, 'dev', hostIf);
    await this.ip(ns, 'addr', 'add', `${v4}/32`, 'dev', 'eth0');
    await this.ip(ns, '-6', 'addr', 'add', `${v6}/128`, 'dev', 'eth0', 'nodad');
    await this.ip(ns, 'link', 'set', 'eth0', 'up');
    await this.ip(ns, 'route', 'add', '169.254.1.1', 'dev', 'eth0', 'scope', 'link');
    await this.ip(ns, 'route', 'add', 'default', 'via', '169.254.1.1', 'dev', 'eth0');
    await this.ip(ns, '-6', 'route', 'add', 'default', 'via', HOST_VETH_LL, 'dev', 'eth0');
    const w: Workload = { name, ns, v4, v6 };
    this.workloads.push(w);
    return w;
  }

  async addBridge(bridge: string, gw4: string, gw6: string): Promise<void> {
    await this.ip(this.host, 'link', 'add', bridge, 'type', 'bridge');
    await this.ip(this.host, 'addr', 'add', gw4, 'dev', bridge);
    await this.ip(this.host, '-6', 'addr', 'add', gw6, 'dev', bridge, 'nodad');
    await this.ip(this.host, 'link', 'set', bridge, 'up');
  }

  /** A workload on `bridge`, Docker style; addresses with prefix, gateways without. */
  async addBridged(name: string, bridge: string, v4: string, v6: string, gw4: string, gw6: string): Promise<Workload> {
    const ns = `${this.tag}-${name}`;
    const hostIf = `vb-${name}`;
    await this.addNamespace(ns);
    await this.ip(this.host, 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    await this.ip(this.host, 'link', 'set', hostIf, 'master', bridge, 'up');
    await this.ip(ns, 'addr', 'add', v4, 'dev', 'eth0');
    await this.ip(ns, '-6', 'addr', 'add', v6, 'dev', 'eth0', 'nodad');
    await this.ip(ns, 'link', 'set', 'eth0', 'up');
    await this.ip(ns, 'route', 'add', 'default', 'via', gw4);
    await this.ip(ns, '-6', 'route', 'add', 'default', 'via', gw6);
    const w: Workload = { name, ns, v4: v4.split('/')[0]!, v6: v6.split('/')[0]! };
    this.workloads.push(w);
    return w;
  }

  async startAgents(tcp: number[], udp: number[]): Promise<void> {
    for (const w of this.workloads) w.agent = await Agent.start(w.name, w.ns, tcp, udp);
  }

  async destroy(): Promise<void> {
    for (const w of this.workloads) w.agent?.stop();
    await deleteNetnsWithProcesses([...this.namespaces].reverse());
  }
}
