/**
 * The same-host reference: weft's own bridge network on one lab host, with sandboxes started
 * by `weft run` (their own network namespace, /etc/hosts and resolv.conf). Both endpoints are
 * on the first host, so it shows what a design costs over a local bridge, not over a wire.
 */
import { WeftClient } from '../../../cli/client.js';
import { EXEC_HELPER } from '../../../cli/sandbox-launch.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { ErrorList, WeftError } from '../../../errors.js';
import { sandboxBodyFromRun } from '../../../cli/run-command.js';
import { nsEndpoint, type CompareEndpoint, type DesignAdapter, type DesignContext, type Deployment } from '../design-adapter.js';

export const bridgeLocal: DesignAdapter = {
  name: 'bridge-local',
  title: 'weft bridge (same host)',
  model: 'Linux bridge + veth on one host (local scope)',
  sameHost: true,
  usesUnderlay: false,
  claims: { store: 'no', encryption: 'n-a', partial: 'n-a', vnic: 'no', names: 'yes', isolation: 'yes' },
  async setup(ctx: DesignContext): Promise<Deployment> {
    const host = ctx.hosts[0]!;
    const lab = ctx.lab;
    const client = new WeftClient(lab.host(host).socket, 30_000);
    const networks: string[] = [];
    const sandboxes = new Map<string, SandboxView>();

    const weft = async (h: string, args: string[]): Promise<string> => {
      const r = await lab.weft(h, args, 60_000);
      if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${h}: ${r.stderr.trim() || r.stdout.trim()}`);
      return r.stdout.trim();
    };
    const createNetwork = async (name: string, subnet: string, subnet6?: string): Promise<void> => {
      await weft(host, ['network', 'create', name, '--subnet', subnet, ...(subnet6 ? ['--ipv6', '--subnet', subnet6] : [])]);
      networks.push(name);
    };
    // api: the short-lived endpoints of convergence and churn go to the REST API directly (see weftd-network.ts).
    const sandbox = async (id: string, net: string, ip?: string, api = false): Promise<CompareEndpoint> => {
      const name = `${ctx.prefix}-${id}`;
      const spec = ip ? `${net},ip=${ip}` : net;
      const sb = api
        ? await client.request<SandboxView>('POST', '/v1/sandboxes', sandboxBodyFromRun({ name, network: [spec] }))
        : await client.request<SandboxView>(
            'GET',
            `/v1/sandboxes/${encodeURIComponent(await weft(host, ['run', '-d', '--name', name, '--network', spec, '--', 'sleep', 'infinity']))}`,
          );
      sandboxes.set(id, sb);
      const ep = sb.endpoints[0];
      if (!ep?.ipv4) throw new Error(`sandbox ${name} has no IPv4 address`);
      return nsEndpoint({ id, host, address: ep.ipv4.split('/')[0]!, ...(ep.ipv6 ? { address6: ep.ipv6.split('/')[0]! } : {}), name }, [
        'nsenter',
        `--net=/run/netns/${lab.host(host).ns}`,
        EXEC_HELPER,
        sb.netnsPath,
        sb.hostsPath ?? '',
        sb.resolvPath ?? '',
        sb.hostname,
        '--',
      ]);
    };
    const remove = async (id: string): Promise<void> => {
      const sb = sandboxes.get(id);
      if (!sb) return; // never made here
      // The sandbox lives as long as its command: stop the command, then forget the sandbox.
      if (sb.pid) {
        try {
          process.kill(sb.pid, 'SIGKILL');
        } catch {
          /* already gone: nothing to stop */
        }
      }
      await client.request('DELETE', `/v1/sandboxes/${encodeURIComponent(sb.id)}?force=true`).catch((err: unknown) => {
        if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err;
      });
      sandboxes.delete(id);
    };

    const main = `${ctx.prefix}net`;
    let tenants = 0;
    try {
      await createNetwork(main, '10.231.0.0/24', 'fd00:231::/64');
      const a = await sandbox('a', main, '10.231.0.10');
      const b = await sandbox('b', main, '10.231.0.11');
      return {
        endpoints: [a, b],
        subnet: '10.231.0.0/24',
        addEndpoint: (_h, n) => sandbox(`c${n}`, main, undefined, true),
        removeEndpoint: (ep) => remove(ep.id),
        addTenant: async (subnet, ips) => {
          const net = `${ctx.prefix}t${++tenants}`;
          await createNetwork(net, subnet);
          return { endpoints: [await sandbox(`${net}a`, net, ips?.[0]), await sandbox(`${net}b`, net, ips?.[1])] };
        },
        capturePoints: [{ ns: lab.host(host).ns, ifname: 'eth0' }],
        controlPorts: { tcp: [], udp: [] },
        daemonPid: (h) => lab.host(h).pid,
        teardown: () => teardown(),
      };
    } catch (err) {
      const errors = new ErrorList('bridge-local setup');
      errors.add(err);
      await errors.run(teardown);
      throw errors.combined();
    }

    async function teardown(): Promise<void> {
      const errors = new ErrorList('bridge-local teardown');
      for (const id of [...sandboxes.keys()]) await errors.run(() => remove(id));
      for (const n of networks.reverse()) await errors.run(() => weft(host, ['network', 'rm', n]));
      client.close();
      errors.throwIfAny();
    }
  },
};
