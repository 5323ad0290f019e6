/** `weft sandbox ls|inspect|rm|stop|label`. */
import type { Command } from 'commander';
import type { SandboxView } from '../controller/inspect.js';
import type { CliContext } from './cli-context.js';
import { byName, FORMAT_OPTION, printList, write } from './output.js';
import { InvalidArgumentError } from '../errors.js';
import { parseFormat } from './format/format-spec.js';
import { sandboxInspectView, sandboxListView } from './sandbox-view.js';

const enc = encodeURIComponent;

export function register(program: Command, cli: CliContext): void {
  const sb = program.command('sandbox').description('manage sandboxes (network namespaces weft knows)');
  sb.command('ls')
    .alias('list')
    .description('list sandboxes, sorted by name')
    .option(...FORMAT_OPTION)
    .option('-q, --quiet', 'only ids')
    .action(async (o: { format?: string; quiet?: boolean }) => {
      const format = parseFormat(o.format);
      const all = (await cli.client().request<SandboxView[]>('GET', '/v1/sandboxes')).sort(byName((s) => s.name));
      if (o.quiet) return write(all.map((s) => s.id.slice(0, 12) + '\n').join(''));
      printList(all, format, sandboxListView);
    });
  sb.command('inspect <sandbox...>')
    .description('show sandboxes (JSON unless --format says otherwise)')
    .option(...FORMAT_OPTION)
    .action(async (refs: string[], o: { format?: string }) => {
      const format = parseFormat(o.format);
      const out: SandboxView[] = [];
      for (const r of refs) out.push(await cli.client().request<SandboxView>('GET', `/v1/sandboxes/${enc(r)}`));
      printList(out, format.kind === 'default' ? { kind: 'json' } : format, sandboxInspectView);
    });
  sb.command('rm <sandbox...>')
    .alias('remove')
    .description('remove sandboxes; refused while the command weft run started runs, unless --force (which stops it first)')
    .option('-f, --force', 'stop a running command first (SIGTERM, then SIGKILL after --time)')
    .option('-t, --time <seconds>', 'grace period before SIGKILL with --force', '10')
    .action(async (refs: string[], o: { force?: boolean; time: string }) => {
      const q = `?force=${o.force === true}&time=${enc(o.time)}`;
      for (const r of refs) {
        await cli.client().request('DELETE', `/v1/sandboxes/${enc(r)}${q}`);
        write(r + '\n');
      }
    });
  sb.command('stop <sandbox...>')
    .description("stop a sandbox's command (SIGTERM, then SIGKILL after --time) and release the sandbox; never for attached namespaces")
    .option('-t, --time <seconds>', 'grace period before SIGKILL', '10')
    .action(async (refs: string[], o: { time: string }) => {
      for (const r of refs) {
        await cli.client().request('POST', `/v1/sandboxes/${enc(r)}/stop?time=${enc(o.time)}`);
        write(r + '\n');
      }
    });
  sb.command('label <sandbox> <label...>')
    .description("set (KEY=VALUE) and remove (KEY-) a running sandbox's labels; policy is re-evaluated on every host")
    .action(async (ref: string, specs: string[]) => {
      const set: Record<string, string> = {};
      const remove: string[] = [];
      for (const s of specs) {
        const eq = s.indexOf('=');
        if (eq > 0) set[s.slice(0, eq)] = s.slice(eq + 1);
        else if (s.length > 1 && s.endsWith('-') && eq < 0) remove.push(s.slice(0, -1));
        else throw new InvalidArgumentError('label', `"${s}" is neither KEY=VALUE (set) nor KEY- (remove)`);
      }
      const view = await cli.client().request<SandboxView>('POST', `/v1/sandboxes/${enc(ref)}/labels`, { set, remove });
      write(`${view.name}\n`);
    });
}
