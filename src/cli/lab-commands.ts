/**
 * `weft lab up|ls|exec|kill|start|down|compare`: a multi-host lab of simulated hosts on this machine
 * (network namespaces, an underlay in 198.18.0.0/15, etcd, a weftd per host). These names are
 * an interface other issues and checks rely on: keep them.
 */
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { spawn } from 'node:child_process';
import cliProgress from 'cli-progress';
import { ClusterLab } from '../lab/cluster-lab.js';
import { pidAlive } from '../lab/etcd-process.js';
import { InvalidArgumentError } from '../errors.js';
import { table } from './output.js';
import { collect } from './cli-context.js';
import { registerCompare } from './lab-compare-command.js';

/** `--bgp` (issue 15): routed hosts announcing their blocks over BGP. */
type Bgp = { bgp?: boolean };

export function register(program: Command, _cli: CliContext): void {
  const lab = program.command('lab').description('multi-host lab of simulated hosts (network namespaces) on this machine');
  lab
    .command('up')
    .description('build a lab: N hosts (h1…hN) on an underlay, an etcd (or 3), a weftd per host')
    .requiredOption('--hosts <n>', 'number of hosts')
    .option('--underlay <kind>', 'l2 (one bridge) or l3 (segments joined by routers)', 'l2')
    .option('--etcd <n>', 'etcd members: 1 or 3')
    .option('--mesh', 'no etcd (store-less mesh designs)')
    .option('--bgp', "routed hosts: each weftd runs BIRD (full iBGP mesh) announcing its blocks and enforces the cluster's policies")
    .option('--name <lab>', 'lab name', 'lab')
    .option('--weftd-arg <arg>', 'extra weftd argument for every host (repeatable)', collect)
    .action(async (o: { hosts: string; underlay: string; etcd?: string; mesh?: boolean; name: string; weftdArg?: string[] } & Bgp) => {
      const hosts = Number(o.hosts);
      if (!Number.isInteger(hosts)) throw new InvalidArgumentError('hosts', `"${o.hosts}" is not a number`);
      const bar = new cliProgress.SingleBar(
        { stream: process.stderr, format: 'lab {bar} {value}/{total} {what}', hideCursor: true },
        cliProgress.Presets.shades_classic,
      );
      let started = false;
      const l = await ClusterLab.up({
        hosts,
        underlay: o.underlay as 'l2' | 'l3',
        ...(o.etcd !== undefined ? { etcd: Number(o.etcd) as 1 | 3 } : {}),
        mesh: o.mesh ?? false,
        ...(o.bgp ? { routing: 'bgp' as const } : {}),
        name: o.name,
        weftdArgs: o.weftdArg ?? [],
        onProgress: (done, total, what) => {
          if (!started) {
            bar.start(total, 0, { what });
            started = true;
          }
          bar.update(done, { what });
        },
      }).finally(() => bar.stop());
      process.stdout.write(
        `lab "${l.state.name}" up: ${l.state.hosts.map((h) => `${h.name}=${h.address}`).join(' ')}${l.state.etcdUrl ? `, store ${l.state.etcdUrl}` : ''}\n` +
          `try: weft lab exec ${l.state.hosts[0]?.name ?? 'h1'} -- weft host ls\n`,
      );
    });
  lab
    .command('ls')
    .description('list labs and their hosts')
    .action(() => {
      const rows: string[][] = [];
      for (const name of ClusterLab.list()) {
        const l = ClusterLab.load(name);
        for (const x of [
          ...l.state.etcd.map((e) => ({ name: e.name, addr: e.ip, pid: e.pid, kind: 'etcd' })),
          ...l.state.hosts.map((h) => ({ name: h.name, addr: h.address, pid: h.pid, kind: 'weftd' })),
        ]) {
          rows.push([name, l.state.options.underlay, x.name, x.kind, x.addr, x.pid && pidAlive(x.pid) ? 'running' : 'stopped']);
        }
      }
      process.stdout.write(table(['LAB', 'UNDERLAY', 'NODE', 'RUNS', 'ADDRESS', 'STATE'], rows));
    });
  lab
    .command('exec')
    .description('run a command in a lab host namespace, with WEFT_HOST pointing at its weftd')
    .option('--lab <lab>', 'lab name (default: the only lab, else "lab")')
    .argument('<host>', 'h1…hN')
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (host: string, cmd: string[], o: { lab?: string }) => {
      const l = ClusterLab.load(o.lab);
      const h = l.host(host);
      const child = spawn('nsenter', [`--net=/run/netns/${h.ns}`, ...cmd], { stdio: 'inherit', env: l.envFor(h) });
      process.exitCode = await new Promise<number>((resolve) => child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 1))));
    });
  for (const [verb, what] of [
    ['kill', "SIGKILL a host's weftd (or an etcd member e1…): fault injection"],
    ['start', 'start a killed weftd (or etcd member) again'],
  ] as const) {
    lab
      .command(verb)
      .description(what)
      .option('--lab <lab>', 'lab name')
      .argument('<node>', 'h1…hN or e1…e3')
      .option('--host', 'kill: the whole host dies (every process in its namespace, e.g. BIRD), not only weftd')
      .action(async (node: string, o: { lab?: string; host?: boolean }) => {
        const l = ClusterLab.load(o.lab);
        await (verb === 'kill' ? l.kill(node, { wholeHost: o.host === true }) : l.start(node));
      });
  }
  lab
    .command('down')
    .description('remove the lab: processes, namespaces, files (also after a crash of lab up)')
    .option('--lab <lab>', 'lab name')
    .option('--all', 'every lab')
    .action(async (o: { lab?: string; all?: boolean }) => {
      const names = o.all ? ClusterLab.list() : [ClusterLab.load(o.lab).state.name];
      for (const n of names) await ClusterLab.load(n).down();
    });
  registerCompare(lab);
}
