/**
 * A Docker swarm inside a lab's fake hosts (bench/overlay-swarm.ts): one dockerd per host
 * namespace, each with its own data-root, exec-root, API socket, pidfile and the containerd
 * it starts itself (under its exec-root), all under the lab host's directory so `lab down`
 * also finds their mounts and the processes in their container namespaces. The first host
 * inits the swarm on its underlay address, the others join it as workers.
 *
 * Every step that fails is reported as a `SwarmStepError` naming the step, the exact command
 * and Docker's error (and the tail of the daemons' logs): where the kernel or the sandbox
 * stops a swarm (IPVS, ESP, …) the message says so, and the script can print it.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { DOCKER, DockerLab } from './docker-lab.js';
import { run, waitFor } from './sim-host.js';

export interface SwarmHost {
  name: string;
  /** Network namespace name (under /run/netns). */
  ns: string;
  /** Underlay address: swarm's advertise and listen address, and the VXLAN endpoint. */
  address: string;
  /** A directory of this host's own (the Docker daemon's files go under <dir>/dk). */
  dir: string;
}

const CGROUP_ROOT = '/sys/fs/cgroup';

export class SwarmStepError extends Error {
  constructor(
    readonly step: string,
    readonly command: string,
    readonly detail: string,
  ) {
    super(`${step}: \`${command}\` → ${detail}`);
  }
}

export interface SwarmContainer {
  name: string;
  /** Its address on the overlay network. */
  ip: string;
  /** Its network namespace (of its first process): benches enter it with nsenter --net. */
  netnsPath: string;
}

export class SwarmLab {
  readonly nodes: { host: SwarmHost; docker: DockerLab }[];

  constructor(hosts: SwarmHost[]) {
    this.nodes = hosts.map((host) => ({
      host,
      docker: new DockerLab(
        { dir: host.dir, nsPath: `/run/netns/${host.ns}` },
        // info: swarm's and libnetwork's complaints (IPVS, gossip, VXLAN) are logged at info/warn.
        { plugin: false, extraArgs: ['--log-level', 'info'] },
      ),
    }));
  }

  node(name: string): DockerLab {
    const n = this.nodes.find((x) => x.host.name === name);
    if (!n) throw new Error(`no swarm node ${name}`);
    return n.docker;
  }

  /** `docker ARGS` on a node; a failure becomes a SwarmStepError for `step`. */
  async docker(name: string, step: string, args: string[], timeoutMs = 60_000): Promise<string> {
    const dk = this.node(name);
    const r = await dk.docker(args, timeoutMs);
    if (r.code !== 0) {
      throw new SwarmStepError(
        step,
        `${DOCKER} -H unix://${dk.socket} ${args.join(' ')}`,
        `exit ${r.code}: ${(r.stderr || r.stdout).trim()}`,
      );
    }
    return r.stdout.trim();
  }

  /** Start every dockerd (one after the other: each starts its own containerd). */
  async start(): Promise<void> {
    // libnetwork disables the default VLAN of each overlay bridge ("br0") from a re-executed
    // child that enters the overlay namespace but writes /sys/class/net/br0/bridge/default_pvid
    // through this mount namespace's /sys, which shows the root namespace's links (nsenter
    // --net keeps the mounts). Here it fails ("permission denied", logged, harmless) because the
    // root namespace has no br0; with one it would change the machine's own bridge.
    if (existsSync('/sys/class/net/br0'))
      throw new SwarmStepError(
        'safety check',
        'test -e /sys/class/net/br0',
        "the root namespace has a link named br0: dockerd's overlay driver would write its default_pvid (it writes through the root namespace's /sys)",
      );
    for (const n of this.nodes) {
      try {
        await n.docker.start();
      } catch (err) {
        throw new SwarmStepError(
          `start dockerd on ${n.host.name}`,
          `nsenter --net=/run/netns/${n.host.ns} dockerd --data-root … --exec-root … -H unix://${n.docker.socket}`,
          `${(err as Error).message}\n${n.docker.log.slice(-2000)}`,
        );
      }
    }
  }

  /** Init on the first host, join the others as workers; wait until the manager sees them all Ready. */
  async form(): Promise<void> {
    const [first, ...rest] = this.nodes;
    const m = first!.host;
    await this.docker(m.name, 'swarm init', ['swarm', 'init', '--advertise-addr', m.address, '--listen-addr', `${m.address}:2377`]);
    const token = await this.docker(m.name, 'swarm join-token', ['swarm', 'join-token', '-q', 'worker']);
    for (const n of rest) {
      const h = n.host;
      await this.docker(h.name, `swarm join (${h.name})`, [
        'swarm',
        'join',
        '--token',
        token,
        '--advertise-addr',
        h.address,
        '--listen-addr',
        `${h.address}:2377`,
        `${m.address}:2377`,
      ]);
    }
    await waitFor(
      'every swarm node Ready',
      async () => {
        const out = await this.docker(m.name, 'swarm node ls', ['node', 'ls', '--format', '{{.Status}}']);
        const st = out.split('\n').filter(Boolean);
        return st.length === this.nodes.length && st.every((s) => s === 'Ready');
      },
      60_000,
      500,
    );
  }

  /** A container on `network` running `cmd` (busybox image `image`), with its address and namespace. */
  async run(name: string, node: string, network: string, image: string, cmd: string[], ip?: string): Promise<SwarmContainer> {
    await this.docker(node, `docker run on ${node}`, [
      'run',
      '-d',
      '--name',
      name,
      '--network',
      network,
      ...(ip ? ['--ip', ip] : []),
      image,
      ...cmd,
    ]);
    return this.inspect(node, name, network);
  }

  async inspect(node: string, name: string, network: string): Promise<SwarmContainer> {
    const fmt = `{{.State.Pid}} {{(index .NetworkSettings.Networks "${network}").IPAddress}}`;
    const [pid, ip] = (await this.docker(node, `docker inspect on ${node}`, ['inspect', '-f', fmt, name])).split(' ');
    return { name, ip: ip!, netnsPath: `/proc/${pid}/ns/net` };
  }

  /** Lines of every daemon's log that speak of what a kernel may lack (for the report). */
  complaints(): string[] {
    const re = /ipvs|ip_vs|xfrm|esp|vxlan|overlay|modprobe|not supported|operation not permitted|no such file/i;
    return this.nodes.flatMap((n) =>
      n.docker.log
        .split('\n')
        .filter((l) => re.test(l) && /level=(warning|error|fatal)/.test(l))
        // IPsec keys of the lab's encrypted network are in these lines: not worth printing.
        .map((l) => `${n.host.name}: ${l.replace(/Key: 0x[0-9a-f]+/g, 'Key: …').slice(0, 400)}`),
    );
  }

  /**
   * Containers removed, daemons stopped (SIGTERM, then SIGKILL by their pidfile), processes in
   * their container namespaces killed. Mounts and namespaces are the lab's `down`.
   */
  async cleanup(): Promise<void> {
    const ids: string[] = [];
    for (const n of this.nodes) {
      const r = await n.docker.docker(['ps', '-aq', '--no-trunc'], 20_000);
      if (r.code === 0) ids.push(...r.stdout.split('\n').filter(Boolean));
    }
    await Promise.all(this.nodes.map((n) => n.docker.cleanup()));
    // A container whose daemon was killed before it could remove it leaves its (empty) cgroups.
    for (const ctl of readdirSync(CGROUP_ROOT)) {
      for (const id of ids) {
        const dir = `${CGROUP_ROOT}/${ctl}/docker/${id}`;
        if (!existsSync(dir)) continue;
        try {
          rmdirSync(dir);
        } catch (err) {
          process.stderr.write(`swarm lab: cgroup ${dir} left behind: ${(err as Error).message}\n`);
        }
      }
    }
  }
}

/** What the kernel offers that swarm relies on: IPVS (service VIPs, ingress) and ESP (`-o encrypted`). */
export async function kernelFacts(nsPath: string): Promise<{ ipvs: string; esp: string }> {
  let ipvs: string;
  try {
    readFileSync('/proc/net/ip_vs', 'utf8');
    ipvs = 'present (/proc/net/ip_vs)';
  } catch {
    ipvs = 'absent: /proc/net/ip_vs does not exist (no ip_vs module, and no modprobe here)';
  }
  // An ESP state in the lab namespace (never the root one): what Docker's encrypted overlay programs.
  const state = ['src', '198.18.255.1', 'dst', '198.18.255.2', 'proto', 'esp', 'spi', '0x1000'];
  const add = await run('nsenter', [
    `--net=${nsPath}`,
    'ip',
    'xfrm',
    'state',
    'add',
    ...state,
    'mode',
    'transport',
    'aead',
    'rfc4106(gcm(aes))',
    '0x' + '11'.repeat(20),
    '128',
  ]);
  const esp =
    add.code === 0 ? 'present (an ESP xfrm state could be added)' : `absent: ip xfrm state add … proto esp → ${add.stderr.trim()}`;
  if (add.code === 0) await run('nsenter', [`--net=${nsPath}`, 'ip', 'xfrm', 'state', 'delete', ...state]);
  return { ipvs, esp };
}
