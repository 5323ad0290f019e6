/**
 * `weft attach`: join a namespace weft did not create (--netns PATH, --pid PID) or a running
 * Docker/podman container (remembered across its restarts) to a network. Prints the sandbox id,
 * or the sandbox under --format (sandboxes use weft's camelCase keys).
 */
import type { Command } from 'commander';
import type { SandboxView } from '../controller/inspect.js';
import { InvalidArgumentError } from '../errors.js';
import { collect, type CliContext } from './cli-context.js';
import { attachContainer } from './attach-container.js';
import { FORMAT_OPTION, printOne } from './output.js';
import { parseFormat } from './format/format-spec.js';
import { sandboxInspectView } from './sandbox-view.js';

interface AttachOpts {
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
}

export function register(program: Command, cli: CliContext): void {
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
    .option(...FORMAT_OPTION)
    .action(async (container: string | undefined, o: AttachOpts) => {
      const format = parseFormat(o.format);
      let view: SandboxView;
      if (container !== undefined) {
        if (o.netns || o.pid || o.name)
          throw new InvalidArgumentError('container', 'a container cannot be combined with --netns, --pid or --name');
        view = await attachContainer(cli.client(), container, o);
      } else {
        if (!o.netns === !o.pid) throw new InvalidArgumentError('netns', 'give exactly one of --netns or --pid');
        let pid: number | undefined;
        if (o.pid !== undefined) {
          if (!/^[1-9]\d{0,9}$/.test(o.pid)) throw new InvalidArgumentError('pid', `"${o.pid}" is not a process id`);
          pid = Number(o.pid);
        }
        view = await cli.client().request<SandboxView>('POST', '/v1/sandboxes', {
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
      }
      printOne(view, format, sandboxInspectView, (s) => s.id);
    });
}
