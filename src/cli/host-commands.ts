/** `weft host ls|inspect`: the cluster's hosts as this host's weftd sees them (like `docker node ls`). */
import type { Command } from 'commander';
import type { HostInfo } from '../cluster/cluster-agent.js';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, printList, write, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';

/** "3s ago", "2m ago", "1h ago". */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

/** Hosts as `weft host ls` shows them; templates and `--format json` see HostInfo whole (camelCase, as the REST API). */
export const hostView: View<HostInfo> = {
  columns: [
    { header: 'ID', cell: (h) => (h.self ? `${h.id} *` : h.id) },
    { header: 'NAME', cell: (h) => h.name },
    { header: 'ADDRESS', cell: (h) => h.address },
    { header: 'STATE', cell: (h) => h.state },
    { header: 'LAST SEEN', cell: (h) => ago(h.lastSeen) },
    { header: 'ENDPOINTS', cell: (h) => String(h.endpoints) },
    { header: 'BLOCKS', cell: (h) => String(h.blocks.length) },
  ],
  jsonList: 'lines',
};

export function register(program: Command, cli: CliContext): void {
  const host = program.command('host').description('cluster hosts (needs weftd --cluster-store)');
  host
    .command('ls')
    .description('list the hosts of the cluster: id, name, address, state, last seen, endpoints')
    .option('-q, --quiet', 'only ids')
    .option(...FORMAT_OPTION)
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const format = parseFormat(o.format);
      const hosts = (await cli.client().request<HostInfo[]>('GET', '/v1/hosts')).sort((a, b) => a.name.localeCompare(b.name));
      if (o.quiet && format.kind === 'default') return write(hosts.map((h) => `${h.id}\n`).join(''));
      printList(hosts, format, hostView);
    });
  host
    .command('inspect')
    .description('show one or more hosts in detail (JSON, or --format)')
    .argument('<host...>', 'id, id prefix or name')
    .option(...FORMAT_OPTION)
    .action(async (refs: string[], o: { format?: string }) => {
      const format = parseFormat(o.format);
      const out: HostInfo[] = [];
      for (const r of refs) out.push(await cli.client().request<HostInfo>('GET', `/v1/hosts/${encodeURIComponent(r)}`));
      printList(out, format.kind === 'default' ? { kind: 'json' } : format, { ...hostView, jsonList: 'array' });
    });
}
