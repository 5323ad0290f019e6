/** `weft network create|ls|inspect|rm|connect|disconnect|prune` — Docker's verbs and flags. */
import type { Command } from 'commander';
import type { WeftClient } from './client.js';
import { networkCreateBody, parseNetworkFlag } from '../config/network-flags.js';
import { formatOf, printJson, table } from './output.js';
import type { NetworkInspect } from '../controller/inspect.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const enc = encodeURIComponent;

export function registerNetworkCommands(program: Command, client: () => WeftClient): void {
  const net = program.command('network').description('manage networks');

  net
    .command('create <name>')
    .description('create a network')
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
    .option('--format <fmt>', 'table or json', 'table')
    .action(async (name: string, o: Record<string, unknown>) => {
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
      const n = await client().request<NetworkInspect>('POST', '/v1/networks', body);
      if (formatOf(o) === 'json') printJson(n);
      else process.stdout.write(n.Id + '\n');
    });

  net
    .command('ls')
    .alias('list')
    .description('list networks')
    .option('--format <fmt>', 'table or json', 'table')
    .option('-q, --quiet', 'only ids')
    .action(async (o: { format?: string; quiet?: boolean }) => {
      const nets = await client().request<NetworkInspect[]>('GET', '/v1/networks');
      if (formatOf(o) === 'json') return printJson(nets);
      if (o.quiet) return void process.stdout.write(nets.map((n) => n.Id.slice(0, 12)).join('\n') + (nets.length ? '\n' : ''));
      process.stdout.write(
        table(
          ['NETWORK ID', 'NAME', 'DRIVER', 'SCOPE', 'SUBNETS'],
          nets.map((n) => [n.Id.slice(0, 12), n.Name, n.Driver, n.Scope, n.IPAM.Config.map((c) => c.Subnet).join(',')]),
        ),
      );
    });

  net
    .command('inspect <name...>')
    .description('show networks as JSON (docker network inspect shape)')
    .action(async (names: string[]) => {
      const out: NetworkInspect[] = [];
      for (const n of names) out.push(await client().request<NetworkInspect>('GET', `/v1/networks/${enc(n)}`));
      printJson(out);
    });

  net
    .command('rm <name...>')
    .alias('remove')
    .description('remove networks')
    .action(async (names: string[]) => {
      let failed: Error | undefined;
      for (const n of names) {
        try {
          await client().request('DELETE', `/v1/networks/${enc(n)}`);
          process.stdout.write(n + '\n');
        } catch (err) {
          process.stderr.write(`Error: ${(err as Error).message}\n`);
          failed = err as Error;
        }
      }
      if (failed) throw failed;
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
        await client().request('POST', `/v1/networks/${enc(spec.network)}/connect`, {
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
      await client().request('POST', `/v1/networks/${enc(network)}/disconnect`, { sandbox, force: o.force === true });
    });

  net
    .command('prune')
    .description('remove all networks without endpoints')
    .option('-f, --force', 'do not prompt (weft never prompts)')
    .action(async () => {
      const r = await client().request<{ removed: string[] }>('POST', '/v1/networks/prune');
      if (r.removed.length) process.stdout.write('Deleted Networks:\n' + r.removed.join('\n') + '\n');
    });
}
