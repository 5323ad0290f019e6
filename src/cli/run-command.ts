/** `weft run [--name N] [--network NET[,alias=A][,ip=IP]]… [--dns IP] [-d] [-p SPEC] -- CMD ARGS` */
import type { Command } from 'commander';
import type { ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import path from 'node:path';
import { parseNetworkFlag } from '../config/network-flags.js';
import { ErrorList, InvalidArgumentError, WeftError } from '../errors.js';
import type { SandboxView } from '../controller/inspect.js';
import type { WeftClient } from './client.js';
import { collect, type CliContext } from './cli-context.js';
import { launchInSandbox } from './sandbox-launch.js';
import { FORMAT_OPTION, printOne } from './output.js';
import { parseFormat, type FormatSpec } from './format/format-spec.js';
import { sandboxInspectView } from './sandbox-view.js';
import { mark } from './trace.js';

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
  format?: string;
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

const exited = (child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> =>
  child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve({ code: child.exitCode, signal: child.signalCode })
    : new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));

/** Remove the sandbox; a failure is reported (the sandbox would otherwise linger unseen). */
async function removeSandbox(c: WeftClient, id: string): Promise<void> {
  try {
    await c.request('DELETE', `/v1/sandboxes/${id}`);
  } catch (err) {
    if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err; // already released by weftd: fine
  }
}

/**
 * -d: hand the sandbox over to the command's pid so it lives as long as the command, then print.
 * A command that exits before weftd records it needs no owner: its sandbox is removed at once.
 */
async function detach(c: WeftClient, sb: SandboxView, child: ChildProcess, format: FormatSpec): Promise<void> {
  const done = exited(child);
  let view: SandboxView;
  try {
    view = await c.request<SandboxView>('PATCH', `/v1/sandboxes/${sb.id}`, { pid: child.pid });
    // Already gone (weftd saw it as a zombie): remove now rather than at weftd's next liveness pass.
    if (child.exitCode !== null || child.signalCode !== null) await removeSandbox(c, sb.id);
  } catch (err) {
    const gone = await Promise.race([done.then(() => true), new Promise<false>((r) => setTimeout(() => r(false), 1000))]);
    if (!gone) throw err;
    await removeSandbox(c, sb.id);
    view = sb;
  }
  printOne(view, format, sandboxInspectView, (s) => s.id);
}

/**
 * Foreground: the sandbox stays tied to this CLI process (so it is released if the CLI is
 * killed) and is removed when the command exits; SIGINT/SIGTERM are passed to the command.
 */
async function foreground(c: WeftClient, sb: SandboxView, child: ChildProcess): Promise<number> {
  const forward = (sig: NodeJS.Signals): void => void child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const { code, signal } = await exited(child);
  mark('exited');
  process.off('SIGINT', forward);
  process.off('SIGTERM', forward);
  await removeSandbox(c, sb.id);
  return code ?? 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

export function register(program: Command, cli: CliContext): void {
  program
    .command('run')
    .description('run a command in a new sandbox (its own network namespace, hosts and resolv.conf)')
    .option('--name <name>', 'sandbox name')
    .option('--network <spec>', 'NET[,alias=A][,ip=IP][,ip6=IP][,mac=M][,ifname=I] | host | none | container:NAME (repeatable)', collect)
    .option('--net <spec>', 'alias of --network', collect)
    .option('--dns <ip>', 'resolver for the sandbox (repeatable)', collect)
    .option('--hostname <name>', 'hostname inside the sandbox')
    .option('-d, --detach', 'run in the background and print the sandbox id; the sandbox lives as long as the command')
    .option('-p, --publish <spec>', '[HOSTIP:]HOSTPORT[-END]:PORT[-END][/proto] (repeatable)', collect)
    .option('-P, --publish-all', 'publish every --expose port on a random host port')
    .option('--expose <port>', 'PORT[-END][/proto] the command listens on (for -P)', collect)
    .option('--label <k=v>', 'metadata', collect)
    .option(FORMAT_OPTION[0], `with -d: ${FORMAT_OPTION[1]} (of the sandbox)`)
    .argument('<cmd...>', 'command and arguments (after --)')
    .action(async (cmd: string[], o: RunOpts & { net?: string[] }) => {
      const format = parseFormat(o.format);
      if (format.kind !== 'default' && !o.detach)
        throw new InvalidArgumentError('format', "only with -d (a foreground run prints its command's output)");
      const c = cli.client();
      const body = sandboxBodyFromRun({ ...o, network: [...(o.network ?? []), ...(o.net ?? [])] });
      const sb = await c.request<SandboxView>('POST', '/v1/sandboxes', { ...body, pid: process.pid });
      let child: ChildProcess | undefined;
      try {
        child = launchInSandbox(sb, cmd, {
          detach: o.detach === true,
          logPath: sb.hostsPath ? path.join(path.dirname(sb.hostsPath), 'output.log') : undefined,
        });
        await new Promise<void>((resolve, reject) => {
          child!.once('spawn', () => (mark('spawned'), resolve()));
          child!.once('error', reject);
        });
        if (o.detach) return await detach(c, sb, child, format);
      } catch (err) {
        child?.kill('SIGKILL');
        const undo = new ErrorList(`weft run failed and removing its sandbox ${sb.name} failed too`);
        undo.add(err);
        await undo.run(() => removeSandbox(c, sb.id));
        throw undo.combined();
      }
      process.exitCode = await foreground(c, sb, child);
    });
}
