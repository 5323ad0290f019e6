/**
 * What the adapters that drive weftd (bridge-local, every weftd design) do with a sandbox:
 * start it (`weft run -d`, or the REST body `weft run` sends), make it a compare endpoint
 * (entered with nsenter + weft-exec, so it sees its own /etc/hosts and resolv.conf), remove it.
 */
import type { WeftClient } from '../../../cli/client.js';
import { EXEC_HELPER } from '../../../cli/sandbox-launch.js';
import { sandboxBodyFromRun } from '../../../cli/run-command.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { WeftError } from '../../../errors.js';
import type { ClusterLab } from '../../cluster-lab.js';
import { nsEndpoint, type CompareEndpoint } from '../design-adapter.js';

const ipOf = (cidr: string) => cidr.split('/')[0]!;

/**
 * `weft run -d` for the endpoints set up once; the many short-lived ones of convergence and
 * churn (`api`) go straight to weftd's REST API with the body `weft run` sends, without a
 * command to own them: a CLI start per attach would put Node's start-up, not the design, in
 * the convergence figure, and it was most of the run's time on a loaded machine.
 */
export async function startSandbox(
  client: WeftClient,
  weft: (args: string[]) => Promise<string>,
  name: string,
  network: string,
  api: boolean,
): Promise<SandboxView> {
  if (api) return client.request<SandboxView>('POST', '/v1/sandboxes', sandboxBodyFromRun({ name, network: [network] }));
  const id = await weft(['run', '-d', '--name', name, '--network', network, '--', 'sleep', 'infinity']);
  return client.request<SandboxView>('GET', `/v1/sandboxes/${encodeURIComponent(id)}`);
}

/** The sandbox as a compare endpoint: its first endpoint's addresses, entered from its lab host. */
export function sandboxEndpoint(lab: ClusterLab, host: string, id: string, name: string, sb: SandboxView): CompareEndpoint {
  const ep = sb.endpoints[0];
  if (!ep?.ipv4) throw new Error(`sandbox ${name} on ${host} has no IPv4 address`);
  return nsEndpoint({ id, host, address: ipOf(ep.ipv4), ...(ep.ipv6 ? { address6: ipOf(ep.ipv6) } : {}), name }, [
    'nsenter',
    `--net=/run/netns/${lab.host(host).ns}`,
    EXEC_HELPER,
    sb.netnsPath,
    sb.hostsPath ?? '',
    sb.resolvPath ?? '',
    sb.hostname,
    '--',
  ]);
}

/** The sandbox lives as long as its command: stop the command, then remove the sandbox (gone already is fine). */
export async function removeSandbox(client: WeftClient, sb: SandboxView): Promise<void> {
  if (sb.pid) {
    try {
      process.kill(sb.pid, 'SIGKILL');
    } catch {
      /* already gone: nothing to stop */
    }
  }
  // force: the command (our `sleep`, or none) may not be reaped yet when the DELETE arrives.
  await client.request('DELETE', `/v1/sandboxes/${encodeURIComponent(sb.id)}?force=true`).catch((err: unknown) => {
    if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err;
  });
}
