/**
 * Kubernetes-style pods on `weft lab` nodes for the CNI tests (446 overlay, 454 hostsubnet): the
 * weft CNI plugin installed on each node with `weft cni install`, pod namespaces the test makes
 * (loopback up), the installed executable called as a runtime calls it (CNI_* environment,
 * config on stdin, inside the node's namespace), and the removal of the pods' namespaces and
 * of the processes started in them.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, mustRun, run, waitFor, type RunResult } from '../../src/lab/sim-host.js';
import { killAndWait } from '../../src/lab/etcd-process.js';
import { execPlugin, type PluginRun } from './cni-harness.js';

const node = process.execPath;

export interface Pod {
  /** The lab node (h1…) the pod runs on. */
  node: string;
  /** CNI_CONTAINERID. */
  id: string;
  /** The pod's namespace name (under /run/netns). */
  ns: string;
  ip?: string;
}

/** Pod `letter` on `node`, named after the test's namespace prefix and a per-run tag. */
export const podOf = (prefix: string, tag: string, node: string, letter: string): Pod => ({
  node,
  id: `pod-${letter}-${tag}`,
  ns: `${prefix}-pod-${tag}-${letter}`,
});

export class CniPods {
  private readonly procs: ChildProcess[] = [];

  /** `lab` is read when called (a test's lab exists only once its `before` ran). */
  constructor(
    private readonly lab: () => ClusterLab,
    private readonly pods: readonly Pod[],
  ) {}

  /** The directory the plugin is installed in on a node. */
  binOf = (h: string): string => path.join(this.lab().state.dir, h, 'cni-bin');

  /**
   * `weft cni install` on each node (through `weft`, the test's way of running the CLI on a node),
   * then every pod's namespace.
   */
  async setUp(nodes: string[], weft: (h: string, args: string[]) => Promise<unknown>): Promise<void> {
    for (const h of nodes) {
      const s = this.lab().host(h);
      await weft(h, ['cni', 'install', '--bin-dir', this.binOf(h), '--socket', s.socket, '--state-dir', s.stateDir, '--run-dir', s.runDir]);
    }
    for (const p of this.pods) {
      await mustRun('ip', ['netns', 'add', p.ns]);
      await mustRun('ip', ['-n', p.ns, 'link', 'set', 'lo', 'up']);
    }
  }

  /** Stop what was started in the pods, then remove their namespaces (each may already be gone). */
  async tearDown(): Promise<void> {
    for (const p of this.procs) if (p.pid && p.exitCode === null) await killAndWait(p.pid);
    for (const p of this.pods) await run('ip', ['netns', 'del', p.ns]);
  }

  /** The node's installed plugin, for pod `p`'s eth0, with `conf` on stdin. */
  exec = (p: Pod, command: 'ADD' | 'DEL' | 'CHECK', conf: object): Promise<PluginRun> =>
    execPlugin(
      path.join(this.binOf(p.node), 'weft'),
      { command, containerId: p.id, netns: `/run/netns/${p.ns}`, ifname: 'eth0', hostNs: `/run/netns/${this.lab().host(p.node).ns}` },
      JSON.stringify(conf),
      60_000,
    );

  /** A command inside the pod's namespace. */
  inPod = (p: Pod, argv: string[], timeoutMs: number): Promise<RunResult> =>
    run('nsenter', [`--net=/run/netns/${p.ns}`, ...argv], { timeoutMs });

  /** Wait until `from` pings `to`'s address (one busybox ping a try, 2 s for its reply). */
  waitPing = (from: Pod, to: Pod, timeoutMs: number, stepMs?: number): Promise<boolean> =>
    waitFor(
      `ping ${from.id} → ${to.id}`,
      async () => (await this.inPod(from, ['busybox', 'ping', '-c', '1', '-W', '2', to.ip!], 15_000)).code === 0,
      timeoutMs,
      stepMs,
    );

  /** The names of the pod's links. */
  links = async (p: Pod): Promise<string[]> =>
    (JSON.parse((await run('ip', ['-n', p.ns, '-j', 'link', 'show'])).stdout) as { ifname: string }[]).map((l) => l.ifname);

  /** nettool's TCP server in the pod (stopped by tearDown). */
  serveTcp(p: Pod, port: number): void {
    this.procs.push(spawn('nsenter', [`--net=/run/netns/${p.ns}`, node, NETTOOL, 'tcp-server', String(port)], { stdio: 'ignore' }));
  }
}
