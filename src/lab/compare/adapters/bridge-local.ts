/**
 * The same-host reference: weft's own bridge network on one lab host, with sandboxes started
 * by `weft run` (their own network namespace, /etc/hosts and resolv.conf). Both endpoints are
 * on the first host, so it shows what a design costs over a local bridge, not over a wire.
 */
import { WeftClient } from '../../../cli/client.js';
import { EXEC_HELPER } from '../../../cli/sandbox-launch.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { ErrorList } from '../../../errors.js';
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
    const sandbox = async (id: string, net: string, ip?: string): Promise<CompareEndpoint> => {
      const name = `${ctx.prefix}-${id}`;
      const sbId = await weft(host, ['run', '-d', '--name', name, '--network', ip ? `${net},ip=${ip}` : net, '--', 'sleep', 'infinity']);
      const sb = await client.request<SandboxView>('GET', `/v1/sandboxes/${encodeURIComponent(sbId)}`);
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
      const r = await lab.weft(host, ['sandbox', 'rm', '-f', sb.id]);
      if (r.code !== 0 && !/not found|No such/i.test(r.stderr)) throw new Error(`weft sandbox rm ${sb.name}: ${r.stderr.trim()}`);
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
        addEndpoint: (_h, n) => sandbox(`c${n}`, main),
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
