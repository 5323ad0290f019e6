/** `weft host ls|inspect`: the cluster's hosts as this host's weftd sees them (like `docker node ls`). */
import type { Command } from 'commander';
import type { WeftClient } from './client.js';
import type { HostInfo } from '../cluster/cluster-agent.js';
import { formatOf, printJson, table } from './output.js';

/** "3s ago", "2m ago", "1h ago". */
export function ago(ms: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  return `${Math.floor(s / 3600)}h ago`;
}

export function registerHostCommands(program: Command, client: () => WeftClient): void {
  const host = program.command('host').description('cluster hosts (needs weftd --cluster-store)');
  host
    .command('ls')
    .description('list the hosts of the cluster: id, name, address, state, last seen, endpoints')
    .option('-q, --quiet', 'only ids')
    .option('--format <fmt>', 'table or json', 'table')
    .action(async (o: { quiet?: boolean; format?: string }) => {
      const hosts = await client().request<HostInfo[]>('GET', '/v1/hosts');
      if (formatOf(o) === 'json') return printJson(hosts);
      if (o.quiet) return void process.stdout.write(hosts.map((h) => `${h.id}\n`).join(''));
      process.stdout.write(
        table(
          ['ID', 'NAME', 'ADDRESS', 'STATE', 'LAST SEEN', 'ENDPOINTS', 'BLOCKS'],
          hosts.map((h) => [
            h.self ? `${h.id} *` : h.id,
            h.name,
            h.address,
            h.state,
            ago(h.lastSeen),
            String(h.endpoints),
            String(h.blocks.length),
          ]),
        ),
      );
    });
  host
    .command('inspect')
    .description('show one or more hosts in detail (JSON)')
    .argument('<host...>', 'id, id prefix or name')
    .action(async (refs: string[]) => {
      const out: HostInfo[] = [];
      for (const r of refs) out.push(await client().request<HostInfo>('GET', `/v1/hosts/${encodeURIComponent(r)}`));
      printJson(out);
    });
}
