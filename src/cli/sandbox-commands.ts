/** `weft sandbox ls|inspect|rm` and `weft attach` (namespaces weft did not create). */
import type { Command } from 'commander';
import type { WeftClient } from './client.js';
import { formatOf, printJson, table } from './output.js';
import type { SandboxView } from '../controller/inspect.js';
import { InvalidArgumentError } from '../errors.js';
import { attachContainer } from './attach-container.js';

const collect = (v: string, prev: string[] = []): string[] => [...prev, v];
const enc = encodeURIComponent;

export function registerSandboxCommands(program: Command, client: () => WeftClient): void {
  const sb = program.command('sandbox').description('manage sandboxes (network namespaces weft knows)');
  sb.command('ls')
    .alias('list')
    .option('--format <fmt>', 'table or json', 'table')
    .action(async (o: { format?: string }) => {
      const all = await client().request<SandboxView[]>('GET', '/v1/sandboxes');
      if (formatOf(o) === 'json') return printJson(all);
      process.stdout.write(
        table(
          ['SANDBOX ID', 'NAME', 'KIND', 'PID', 'NETWORKS', 'ADDRESSES'],
          all.map((s) => [
            s.id.slice(0, 12),
            s.name,
            s.kind,
            s.pid === undefined ? '' : String(s.pid),
            s.endpoints.map((e) => e.networkName).join(','),
            s.endpoints.flatMap((e) => [e.ipv4, e.ipv6].filter(Boolean)).join(','),
          ]),
        ),
      );
    });
  sb.command('inspect <sandbox...>').action(async (refs: string[]) => {
    const out: SandboxView[] = [];
    for (const r of refs) out.push(await client().request<SandboxView>('GET', `/v1/sandboxes/${enc(r)}`));
    printJson(out);
  });
  sb.command('rm <sandbox...>')
    .alias('remove')
    .description('remove sandboxes; refused while the command weft run started runs, unless --force (which stops it first)')
    .option('-f, --force', 'stop a running command first (SIGTERM, then SIGKILL after --time)')
    .option('-t, --time <seconds>', 'grace period before SIGKILL with --force', '10')
    .action(async (refs: string[], o: { force?: boolean; time: string }) => {
      const q = `?force=${o.force === true}&time=${enc(o.time)}`;
      for (const r of refs) {
        await client().request('DELETE', `/v1/sandboxes/${enc(r)}${q}`);
        process.stdout.write(r + '\n');
      }
    });
  sb.command('stop <sandbox...>')
    .description("stop a sandbox's command (SIGTERM, then SIGKILL after --time) and release the sandbox; never for attached namespaces")
    .option('-t, --time <seconds>', 'grace period before SIGKILL', '10')
    .action(async (refs: string[], o: { time: string }) => {
      for (const r of refs) {
        await client().request('POST', `/v1/sandboxes/${enc(r)}/stop?time=${enc(o.time)}`);
        process.stdout.write(r + '\n');
      }
    });

  program
    .command('attach [container]')
    .description(
      'attach a container (remembered across its restarts), a network namespace (--netns PATH) or a process (--pid PID) to a network',
    )
    .option('--docker-host <url>', 'engine API socket to find CONTAINER through (Docker or podman)', 'unix:///run/docker.sock')
    .option('--netns <path>', 'path of a network namespace (e.g. /run/netns/x)')
    .option('--pid <pid>', 'a process whose network namespace to use')
    .requiredOption('--network <name>', 'network to join')
    .option('--name <name>', 'sandbox name')
    .option('--ip <ip>', 'IPv4 address (for a container: IP[/PREFIX][@GATEWAY])')
    .option('--ip6 <ip>', 'IPv6 address')
    .option('--mac <mac>', 'MAC address')
    .option('--ifname <name>', 'interface name inside')
    .option('--alias <name>', 'alias', collect)
    .option('--format <fmt>', 'table or json', 'table')
    .action(
      async (
        container: string | undefined,
        o: {
          netns?: string;
          pid?: string;
          network: string;
          name?: string;
          ip?: string;
          ip6?: string;
          mac?: string;
          ifname?: string;
          alias?: string[];
          format?: string;
          dockerHost?: string;
        },
      ) => {
        if (container !== undefined) {
          if (o.netns || o.pid || o.name)
            throw new InvalidArgumentError('container', 'a container cannot be combined with --netns, --pid or --name');
          return attachContainer(client(), container, o);
        }
        if (!o.netns === !o.pid) throw new InvalidArgumentError('netns', 'give exactly one of --netns or --pid');
        let pid: number | undefined;
        if (o.pid !== undefined) {
          if (!/^[1-9]\d{0,9}$/.test(o.pid)) throw new InvalidArgumentError('pid', `"${o.pid}" is not a process id`);
          pid = Number(o.pid);
        }
        const view = await client().request<SandboxView>('POST', '/v1/sandboxes', {
          kind: 'external',
          ...(o.name ? { name: o.name } : {}),
          ...(o.netns ? { netnsPath: o.netns } : {}),
          ...(pid ? { pid } : {}),
          networks: [
            {
              network: o.network,
              aliases: o.alias ?? [],
              ...(o.ip ? { ipv4: o.ip } : {}),
              ...(o.ip6 ? { ipv6: o.ip6 } : {}),
              ...(o.mac ? { mac: o.mac } : {}),
              ...(o.ifname ? { ifname: o.ifname } : {}),
            },
          ],
        });
        if (formatOf(o) === 'json') printJson(view);
        else process.stdout.write(view.id + '\n');
      },
    );
}
