/**
 * The same-host reference: weft's own bridge network on one lab host, with sandboxes started
 * by `weft run` (their own network namespace, /etc/hosts and resolv.conf). Both endpoints are
 * on the first host, so it shows what a design costs over a local bridge, not over a wire.
 */
import { WeftClient } from '../../../cli/client.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { ErrorList } from '../../../errors.js';
import type { CompareEndpoint, DesignAdapter, DesignContext, Deployment } from '../design-adapter.js';
import { removeSandbox, sandboxEndpoint, startSandbox } from './weft-sandbox.js';

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
    // api: the short-lived endpoints of convergence and churn go to the REST API directly (weft-sandbox.ts).
    const sandbox = async (id: string, net: string, ip?: string, api = false): Promise<CompareEndpoint> => {
      const name = `${ctx.prefix}-${id}`;
      const sb = await startSandbox(client, (args) => weft(host, args), name, ip ? `${net},ip=${ip}` : net, api);
      sandboxes.set(id, sb);
      return sandboxEndpoint(lab, host, id, name, sb);
    };
    const remove = async (id: string): Promise<void> => {
      const sb = sandboxes.get(id);
      if (!sb) return; // never made here
      await removeSandbox(client, sb);
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
          const drop = async (): Promise<void> => {
            const errors = new ErrorList(`tenant ${net}`);
            for (const id of [`${net}a`, `${net}b`]) await errors.run(() => remove(id));
            if (networks.includes(net))
              await errors.run(async () => {
                await weft(host, ['network', 'rm', net]);
                networks.splice(networks.indexOf(net), 1);
              });
            errors.throwIfAny();
          };
          try {
            await createNetwork(net, subnet);
            return { endpoints: [await sandbox(`${net}a`, net, ips?.[0]), await sandbox(`${net}b`, net, ips?.[1])], remove: drop };
          } catch (err) {
            // Partial work rolls back: the refusal is the evidence, nothing of it stays.
            const errors = new ErrorList(`tenant ${net}`);
            errors.add(err);
            await errors.run(drop);
            throw errors.combined();
          }
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
