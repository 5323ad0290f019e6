/**
 * A multi-host design through the product: weftd runs in every lab host, and the adapter only
 * drives it with the CLI (`weft network create -d DRIVER …`, `weft run -d …`, `weft sandbox rm`),
 * exactly as a user would with `weft lab exec hN -- weft …`. Endpoints are sandboxes made by
 * `weft run` (their own network namespace, /etc/hosts and resolv.conf) on two different hosts.
 * Whatever the product refuses is thrown with weftd's own message: the harness reports the
 * design as failed with that reason, never with a number.
 */
import { WeftClient } from '../../../cli/client.js';
import { EXEC_HELPER } from '../../../cli/sandbox-launch.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { ErrorList, WeftError } from '../../../errors.js';
import { sandboxBodyFromRun } from '../../../cli/run-command.js';
import { sleep } from '../../sim-host.js';
import type { CheckId, Outcome } from '../compare-types.js';
import {
  nsEndpoint,
  type CompareEndpoint,
  type DesignAdapter,
  type DesignContext,
  type Deployment,
  type WeftdMode,
} from '../design-adapter.js';

export interface WeftdDesignSpec {
  name: string;
  title: string;
  model: string;
  seedColumn?: string;
  claims: Partial<Record<CheckId, Outcome>>;
  partialSettleMs?: number;
  /** How weftd must run on every host for this design (the harness restarts it when it differs). */
  weftd: WeftdMode;
  driver: string;
  /** `-o key=value` options of `weft network create`. */
  options: string[];
  /** The main network's subnet (a pool for designs that split it per host). */
  subnet: string;
  /** Tenant networks' subnets are given by the checks; this says if the design can take a second network at all. */
  tenants: boolean;
  /**
   * 'global': created on the first host, it reaches the others (through the store, or by
   * gossip for the mesh); 'local': created on every host (hostsubnet, macvlan).
   */
  scope: 'global' | 'local';
  /** A fixed address per endpoint (designs whose subnet is shared by hosts without a common IPAM: macvlan). */
  fixedIp?: (hostIndex: number, n: number, subnet: string) => string;
  /** Extra `-o` options of the i-th tenant network (1, 2, …): e.g. its own VNI where the design has one per host. */
  tenantOptions?: (i: number) => string[];
  controlPorts: { tcp: number[]; udp: number[] };
}

const ipOf = (cidr: string) => cidr.split('/')[0]!;

export function weftdDesign(spec: WeftdDesignSpec): DesignAdapter {
  return {
    name: spec.name,
    title: spec.title,
    model: spec.model,
    ...(spec.seedColumn ? { seedColumn: spec.seedColumn } : {}),
    sameHost: false,
    usesUnderlay: true,
    claims: spec.claims,
    ...(spec.partialSettleMs ? { partialSettleMs: spec.partialSettleMs } : {}),
    weftd: spec.weftd,
    setup: (ctx) => setup(spec, ctx),
  };
}

async function setup(spec: WeftdDesignSpec, ctx: DesignContext): Promise<Deployment> {
  const lab = ctx.lab;
  const [hA, hB] = [ctx.hosts[0]!, ctx.hosts[1]!];
  const clients = new Map<string, WeftClient>();
  const client = (h: string): WeftClient => {
    let c = clients.get(h);
    if (!c) clients.set(h, (c = new WeftClient(lab.host(h).socket, 30_000)));
    return c;
  };
  /** network name → hosts it was created on (global: the first only). */
  const networks = new Map<string, string[]>();
  const sandboxes = new Map<string, { host: string; sb: SandboxView }>();

  const weft = async (h: string, args: string[], timeoutMs = 90_000): Promise<string> => {
    const r = await lab.weft(h, args, timeoutMs);
    if (r.code !== 0) throw new Error(`weft ${args.join(' ')} on ${h}: ${(r.stderr.trim() || r.stdout.trim()).slice(0, 400)}`);
    return r.stdout.trim();
  };

  const createNetwork = async (name: string, subnet: string, extra: string[] = []): Promise<void> => {
    const args = [
      'network',
      'create',
      '-d',
      spec.driver,
      '--subnet',
      subnet,
      ...[...spec.options, ...extra].flatMap((o) => ['-o', o]),
      name,
    ];
    if (spec.scope === 'local') {
      // One host at a time: a local network has no shared state, but each create is a CLI start.
      for (const h of ctx.hosts) {
        await weft(h, args);
        networks.set(name, [...(networks.get(name) ?? []), h]);
      }
      return;
    }
    await weft(hA, args);
    networks.set(name, [hA]);
    // The store carries it to the other hosts; bounded wait.
    for (const h of ctx.hosts.slice(1)) {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const r = await lab.weft(h, ['network', 'inspect', name]);
        if (r.code === 0) break;
        if (Date.now() > deadline) throw new Error(`network ${name} made on ${hA} did not reach ${h} within 30 s: ${r.stderr.trim()}`);
        await sleep(250);
      }
    }
  };

  /**
   * `weft run -d` for the endpoints set up once; the many short-lived ones of convergence and
   * churn (`api`) go straight to weftd's REST API with the body `weft run` sends, without a
   * command to own them: a CLI start per attach would put Node's start-up, not the design, in
   * the convergence figure, and it was most of the run's time on a loaded machine.
   */
  const sandbox = async (host: string, id: string, net: string, ip?: string, api = false): Promise<CompareEndpoint> => {
    const name = `${ctx.prefix}-${id}`;
    const spec = ip ? `${net},ip=${ip}` : net;
    const sb = api
      ? await client(host).request<SandboxView>('POST', '/v1/sandboxes', sandboxBodyFromRun({ name, network: [spec] }))
      : await client(host).request<SandboxView>(
          'GET',
          `/v1/sandboxes/${encodeURIComponent(await weft(host, ['run', '-d', '--name', name, '--network', spec, '--', 'sleep', 'infinity']))}`,
        );
    sandboxes.set(id, { host, sb });
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
  };
  // Each host hands out its own slice in order (n only names the endpoint), so no two collide.
  const used = new Map<string, number>();
  const ipFor = (host: string, _n: number, subnet: string): string | undefined => {
    if (!spec.fixedIp) return undefined;
    const k = used.get(host) ?? 0;
    used.set(host, k + 1);
    return spec.fixedIp(ctx.hosts.indexOf(host), k, subnet);
  };

  const remove = async (id: string): Promise<void> => {
    const x = sandboxes.get(id);
    if (!x) return; // never made here
    // The sandbox lives as long as its command: stop the command, then remove the sandbox.
    if (x.sb.pid) {
      try {
        process.kill(x.sb.pid, 'SIGKILL');
      } catch {
        /* already gone: nothing to stop */
      }
    }
    // force: the command (our `sleep`, or none) may not be reaped yet when the DELETE arrives.
    await client(x.host)
      .request('DELETE', `/v1/sandboxes/${encodeURIComponent(x.sb.id)}?force=true`)
      .catch((err: unknown) => {
        if (!(err instanceof WeftError && err.code === 'WEFT_NOT_FOUND')) throw err;
      });
    sandboxes.delete(id);
  };

  async function teardown(): Promise<void> {
    const errors = new ErrorList(`${spec.name} teardown`);
    // Sandboxes of different hosts go in parallel: each host's weftd works on its own.
    const byHost = new Map<string, string[]>();
    for (const [id, x] of sandboxes) byHost.set(x.host, [...(byHost.get(x.host) ?? []), id]);
    await Promise.all(
      [...byHost.values()].map(async (ids) => {
        for (const id of ids) await errors.run(() => remove(id));
      }),
    );
    for (const [n, hosts] of [...networks].reverse()) {
      await Promise.all(hosts.map((h) => errors.run(() => client(h).request('DELETE', `/v1/networks/${encodeURIComponent(n)}`))));
      networks.delete(n);
    }
    for (const c of clients.values()) c.close();
    errors.throwIfAny();
  }

  const main = `${ctx.prefix}net`;
  let tenants = 0;
  try {
    await createNetwork(main, spec.subnet);
    const [a, b] = await Promise.all([
      sandbox(hA, 'a', main, ipFor(hA, 10, spec.subnet)),
      sandbox(hB, 'b', main, ipFor(hB, 11, spec.subnet)),
    ]);
    return {
      endpoints: [a, b],
      subnet: spec.subnet,
      addEndpoint: (h, n) => sandbox(h, `c${n}`, main, ipFor(h, n, spec.subnet), true),
      removeEndpoint: (ep) => remove(ep.id),
      ...(spec.tenants
        ? {
            addTenant: async (subnet: string, ips?: [string, string]) => {
              const i = ++tenants;
              const net = `${ctx.prefix}t${i}`;
              await createNetwork(net, subnet, spec.tenantOptions?.(i) ?? []);
              // A global network's addresses come from per-host blocks (weft refuses --ip there):
              // its tenants take what the store hands out, in the same subnet.
              const pick = (h: string, k: number, n: number): string | undefined =>
                spec.scope === 'global' ? undefined : (ips?.[k] ?? ipFor(h, n, subnet));
              const eps = await Promise.all([
                sandbox(hA, `${net}a`, net, pick(hA, 0, 20), true),
                sandbox(hB, `${net}b`, net, pick(hB, 1, 21), true),
              ]);
              return { endpoints: [eps[0], eps[1]] as [CompareEndpoint, CompareEndpoint] };
            },
          }
        : {}),
      capturePoints: [{ ns: lab.host(hB).ns, ifname: 'eth0' }],
      controlPorts: spec.controlPorts,
      daemonPid: (h) => lab.host(h).pid,
      teardown,
    };
  } catch (err) {
    const errors = new ErrorList(`${spec.name} setup`);
    errors.add(err);
    await errors.run(teardown);
    throw errors.combined();
  }
}
