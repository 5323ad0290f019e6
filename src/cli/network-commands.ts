/** `weft network create|ls|inspect|rm|connect|disconnect|prune` — Docker's verbs and flags. */
import type { Command } from 'commander';
import { networkCreateBody, parseNetworkFlag } from '../config/network-flags.js';
import type { NetworkInspect } from '../controller/inspect.js';
import { collect, ReportedError, type CliContext } from './cli-context.js';
import { byName, FORMAT_OPTION, printList, printOne, write, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';
import { networkInspectView, networkListView } from './network-view.js';
import { confirm } from './confirm.js';

const enc = encodeURIComponent;

/** What `network prune` prints: Docker's API key for it. */
interface PruneReport {
  NetworksDeleted: string[];
}
const pruneView: View<string> = {
  columns: [{ header: 'NAME', cell: (n) => n }],
  row: (n) => ({ Name: n }),
  strict: true,
};

export function register(program: Command, cli: CliContext): void {
  const net = program.command('network').description('manage networks');

  net
    .command('create <name>')
    .description('create a network (prints its id)')
    .option('-d, --driver <driver>', 'driver (bridge)', 'bridge')
    .option('--subnet <cidr>', 'subnet (repeatable: one per family)', collect)
    .option('--ip-range <cidr>', 'allocate from a sub-range', collect)
    .option('--gateway <ip>', 'gateway of the subnet', collect)
    .option('--aux-address <name=ip>', 'reserved address', collect)
    .option('--ipv6', 'enable IPv6')
    .option('--internal', 'no external connectivity')
    .option('--attachable', 'accepted for compatibility (weft networks are always attachable)')
    .option('--label <k=v>', 'metadata', collect)
    .option('-o, --opt <k=v>', 'driver option', collect)
    .option('--ipam-driver <name>', 'IPAM driver', 'default')
    .option('--ipam-opt <k=v>', 'IPAM option', collect)
    .option(...FORMAT_OPTION)
    .action(async (name: string, o: Record<string, unknown>) => {
      const format = parseFormat(o.format as string | undefined);
      const body = networkCreateBody(name, {
        driver: o.driver as string,
        subnet: o.subnet as string[] | undefined,
        ipRange: o.ipRange as string[] | undefined,
        gateway: o.gateway as string[] | undefined,
        auxAddress: o.auxAddress as string[] | undefined,
        ipv6: o.ipv6 === true,
        internal: o.internal === true,
        label: o.label as string[] | undefined,
        opt: o.opt as string[] | undefined,
        ipamDriver: o.ipamDriver as string,
        ipamOpt: o.ipamOpt as string[] | undefined,
      });
      const n = await cli.client().request<NetworkInspect>('POST', '/v1/networks', body);
      printOne(n, format, networkInspectView, (x) => x.Id);
    });

  net
    .command('ls')
    .alias('list')
    .description('list networks, sorted by name')
    .option(...FORMAT_OPTION)
    .option('-q, --quiet', 'only ids')
    .action(async (o: { format?: string; quiet?: boolean }) => {
      const format = parseFormat(o.format);
      const nets = (await cli.client().request<NetworkInspect[]>('GET', '/v1/networks')).sort(byName((n) => n.Name));
      if (o.quiet) return write(nets.map((n) => n.Id.slice(0, 12) + '\n').join(''));
      printList(nets, format, networkListView);
    });

  net
    .command('inspect <name...>')
    .description('show networks (docker network inspect shape; JSON unless --format says otherwise)')
    .option(...FORMAT_OPTION)
    .action(async (names: string[], o: { format?: string }) => {
      const format = parseFormat(o.format);
      const out: NetworkInspect[] = [];
      for (const n of names) out.push(await cli.client().request<NetworkInspect>('GET', `/v1/networks/${enc(n)}`));
      printList(out, format.kind === 'default' ? { kind: 'json' } : format, networkInspectView);
    });

  net
    .command('rm <name...>')
    .alias('remove')
    .description('remove networks')
    .action(async (names: string[]) => {
      let failed = 0;
      for (const n of names) {
        try {
          await cli.client().request('DELETE', `/v1/networks/${enc(n)}`);
          write(n + '\n');
        } catch (err) {
          // Each failure is printed here, once; the others still run (as docker network rm).
          const e = err as { message: string; code?: string };
          process.stderr.write(`Error: ${e.message}${e.code && e.code !== 'WEFT_INTERNAL' ? ` [${e.code}]` : ''}\n`);
          failed++;
        }
      }
      if (failed) throw new ReportedError(`${failed} network(s) not removed`);
    });

  net
    .command('connect <network> <sandbox>')
    .description('connect a sandbox to a network')
    .option('--alias <name>', 'network-scoped alias', collect)
    .option('--ip <ip>', 'IPv4 address')
    .option('--ip6 <ip>', 'IPv6 address')
    .option('--mac-address <mac>', 'MAC address')
    .option('--ifname <name>', 'interface name in the sandbox')
    .action(
      async (
        network: string,
        sandbox: string,
        o: { alias?: string[]; ip?: string; ip6?: string; macAddress?: string; ifname?: string },
      ) => {
        const spec = parseNetworkFlag(network);
        await cli.client().request('POST', `/v1/networks/${enc(spec.network)}/connect`, {
          sandbox,
          aliases: o.alias ?? [],
          ...(o.ip ? { ipv4: o.ip } : {}),
          ...(o.ip6 ? { ipv6: o.ip6 } : {}),
          ...(o.macAddress ? { mac: o.macAddress } : {}),
          ...(o.ifname ? { ifname: o.ifname } : {}),
        });
      },
    );

  net
    .command('disconnect <network> <sandbox>')
    .description('disconnect a sandbox from a network')
    .option('-f, --force', 'force')
    .action(async (network: string, sandbox: string, o: { force?: boolean }) => {
      await cli.client().request('POST', `/v1/networks/${enc(network)}/disconnect`, { sandbox, force: o.force === true });
    });

  net
    .command('prune')
    .description('remove all networks without endpoints (asks first unless -f)')
    .option('-f, --force', 'do not ask for confirmation')
    .option(...FORMAT_OPTION)
    .action(async (o: { force?: boolean; format?: string }) => {
      const format = parseFormat(o.format);
      if (
        !o.force &&
        !(await confirm('WARNING! This will remove all networks not used by at least one sandbox.\nAre you sure you want to continue?'))
      )
        return;
      const r = await cli.client().request<{ removed: string[] }>('POST', '/v1/networks/prune');
      const removed = [...r.removed].sort();
      if (format.kind === 'json') return write(JSON.stringify({ NetworksDeleted: removed } satisfies PruneReport, null, 2) + '\n');
      printList(removed, format, pruneView, () => (removed.length ? 'Deleted Networks:\n' + removed.join('\n') + '\n' : ''));
    });
}
