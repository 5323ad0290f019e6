/** `weft run [--name N] [--network NET[,alias=A][,ip=IP]]… [--dns IP] [-d] [-p SPEC] -- CMD ARGS` */
import type { Command } from 'commander';
import path from 'node:path';
import type { WeftClient } from './client.js';
import { parseNetworkFlag } from '../config/network-flags.js';
import { ErrorList, InvalidArgumentError } from '../errors.js';
import type { ChildProcess } from 'node:child_process';
import type { SandboxView } from '../controller/inspect.js';
import { launchInSandbox } from './sandbox-launch.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

interface RunOpts {
  name?: string;
  network?: string[];
  dns?: string[];
  hostname?: string;
  detach?: boolean;
  publish?: string[];
  publishAll?: boolean;
  expose?: string[];
  label?: string[];
}

/** Build the sandbox request from run flags: host/none/container:X modes, or networks. */
export function sandboxBodyFromRun(o: RunOpts): Record<string, unknown> {
  const specs = o.network && o.network.length > 0 ? o.network : ['bridge'];
  const body: Record<string, unknown> = {
    ...(o.name ? { name: o.name } : {}),
    ...(o.hostname ? { hostname: o.hostname } : {}),
    dns: o.dns ?? [],
    publish: o.publish ?? [],
    publishAll: o.publishAll === true,
    expose: o.expose ?? [],
    labels: Object.fromEntries((o.label ?? []).map((l) => [l.split('=')[0], l.split('=').slice(1).join('=')])),
  };
  const special = specs.find((s) => s === 'host' || s === 'none' || s.startsWith('container:'));
  if (special) {
    if (specs.length > 1) throw new InvalidArgumentError('network', `"${special}" cannot be combined with other networks`);
    if (special === 'host') return { ...body, kind: 'host', networks: [] };
    if (special === 'none') return { ...body, kind: 'netns', networks: [] };
    const other = special.slice('container:'.length);
    if (!other) throw new InvalidArgumentError('network', 'container: needs a sandbox name or id');
    return { ...body, kind: 'container', containerOf: other, networks: [] };
  }
  return { ...body, kind: 'netns', networks: specs.map(parseNetworkFlag) };
}

export function registerRunCommand(program: Command, client: () => WeftClient): void {
  program
    .command('run')
    .description('run a command in a new sandbox (its own network namespace, hosts and resolv.conf)')
    .option('--name <name>', 'sandbox name')
    .option('--network <spec>', 'NET[,alias=A][,ip=IP][,ip6=IP][,mac=M][,ifname=I] | host | none | container:NAME (repeatable)', collect)
    .option('--net <spec>', 'alias of --network', collect)
    .option('--dns <ip>', 'resolver for the sandbox (repeatable)', collect)
    .option('--hostname <name>', 'hostname inside the sandbox')
    .option('-d, --detach', 'run in the background; the sandbox lives as long as the command')
    .option('-p, --publish <spec>', '[HOSTIP:]HOSTPORT[-END]:PORT[-END][/proto] (repeatable)', collect)
    .option('-P, --publish-all', 'publish every --expose port on a random host port')
    .option('--expose <port>', 'PORT[-END][/proto] the command listens on (for -P)', collect)
    .option('--label <k=v>', 'metadata', collect)
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (cmd: string[], o: RunOpts & { net?: string[] }) => {
      const c = client();
      const body = sandboxBodyFromRun({ ...o, network: [...(o.network ?? []), ...(o.net ?? [])] });
      // The sandbox is tied to this CLI process until the command's pid is handed over, so a
      // CLI killed in between does not leak it.
      const sb = await c.request<SandboxView>('POST', '/v1/sandboxes', { ...body, pid: process.pid });
      let child: ChildProcess | undefined;
      try {
        child = launchInSandbox(sb, cmd, {
          detach: o.detach === true,
          logPath: sb.hostsPath ? path.join(path.dirname(sb.hostsPath), 'output.log') : undefined,
        });
        await new Promise<void>((resolve, reject) => {
          child!.once('spawn', () => resolve());
          child!.once('error', reject);
        });
        await c.request('PATCH', `/v1/sandboxes/${sb.id}`, { pid: child.pid });
      } catch (err) {
        child?.kill('SIGKILL');
        const undo = new ErrorList(`weft run failed and removing its sandbox ${sb.name} failed too`);
        undo.add(err);
        await undo.run(() => c.request('DELETE', `/v1/sandboxes/${sb.id}`));
        throw undo.combined();
      }
      if (o.detach) {
        process.stdout.write(sb.id + '\n');
        return;
      }
      const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
      process.on('SIGINT', forward);
      process.on('SIGTERM', forward);
      const code = await new Promise<number>((resolve) =>
        child.once('exit', (code, signal) => resolve(code ?? 128 + (signal ? osSignal(signal) : 0))),
      );
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      // The command's exit code is the answer; a sandbox left behind is said (weftd reaps it, its pid is gone).
      await c
        .request('DELETE', `/v1/sandboxes/${sb.id}`)
        .catch((err: unknown) => process.stderr.write(`weft: removing sandbox ${sb.name} failed: ${(err as Error).message}\n`));
      process.exitCode = code;
    });
}

function osSignal(sig: NodeJS.Signals): number {
  const map: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 };
  return map[sig] ?? 0;
}
