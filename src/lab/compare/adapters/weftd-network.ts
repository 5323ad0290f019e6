/**
 * A multi-host design through the product: weftd runs in every lab host, and the adapter only
 * drives it with the CLI (`weft network create -d DRIVER …`, `weft run -d …`, `weft sandbox rm`),
 * exactly as a user would with `weft lab exec hN -- weft …`. Endpoints are sandboxes made by
 * `weft run` (their own network namespace, /etc/hosts and resolv.conf) on two different hosts.
 * Whatever the product refuses is thrown with weftd's own message: the harness reports the
 * design as failed with that reason, never with a number.
 */
import { WeftClient } from '../../../cli/client.js';
import type { SandboxView } from '../../../controller/inspect.js';
import { ErrorList, WeftError } from '../../../errors.js';
import { sleep } from '../../sim-host.js';
import type { CheckId, Outcome } from '../compare-types.js';
import type { CompareEndpoint, DesignAdapter, DesignContext, Deployment, WeftdMode } from '../design-adapter.js';
import { removeSandbox, sandboxEndpoint, startSandbox } from './weft-sandbox.js';

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

/** How long a removed global network may take to leave the other hosts. */
const NETWORK_GONE_MS = 30_000;

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

  // api: the short-lived endpoints of convergence and churn go to the REST API directly (weft-sandbox.ts).
  const sandbox = async (host: string, id: string, net: string, ip?: string, api = false): Promise<CompareEndpoint> => {
    const name = `${ctx.prefix}-${id}`;
    const sb = await startSandbox(client(host), (args) => weft(host, args), name, ip ? `${net},ip=${ip}` : net, api);
    sandboxes.set(id, { host, sb });
    return sandboxEndpoint(lab, host, id, name, sb);
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
    await removeSandbox(client(x.host), x.sb);
    sandboxes.delete(id);
  };

  /**
   * Delete a network on every host it was made on. A global one then has to leave the other
   * hosts too (a store watch, or gossip for the mesh): wait for that, bounded, so that the next
   * network on its subnet — the next design's, after a weftd restart — does not meet it there.
   */
  const removeNetwork = async (n: string): Promise<void> => {
    const made = networks.get(n) ?? [];
    const errors = new ErrorList(`network ${n}`);
    await Promise.all(made.map((h) => errors.run(() => client(h).request('DELETE', `/v1/networks/${encodeURIComponent(n)}`))));
    errors.throwIfAny();
    networks.delete(n);
    if (spec.scope !== 'global') return;
    await Promise.all(ctx.hosts.filter((h) => !made.includes(h)).map((h) => networkGone(h, n)));
  };
  const networkGone = async (h: string, n: string): Promise<void> => {
    const deadline = Date.now() + NETWORK_GONE_MS;
    for (;;) {
      const last = await client(h)
        .request('GET', `/v1/networks/${encodeURIComponent(n)}`)
        .then(
          () => 'still listed',
          (err: unknown) => (err instanceof WeftError && err.code === 'WEFT_NOT_FOUND' ? undefined : (err as Error).message),
        );
      if (last === undefined) return;
      if (Date.now() > deadline) throw new Error(`network ${n}, removed, was still on ${h} after ${NETWORK_GONE_MS} ms (${last})`);
      await sleep(250);
    }
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
    for (const n of [...networks.keys()].reverse()) await errors.run(() => removeNetwork(n));
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
              // A global network's addresses come from per-host blocks (weft refuses --ip there):
              // its tenants take what the store hands out, in the same subnet.
              const pick = (h: string, k: number, n: number): string | undefined =>
                spec.scope === 'global' ? undefined : (ips?.[k] ?? ipFor(h, n, subnet));
              const drop = async (): Promise<void> => {
                const errors = new ErrorList(`tenant ${net}`);
                await Promise.all([`${net}a`, `${net}b`].map((id) => errors.run(() => remove(id))));
                if (networks.has(net)) await errors.run(() => removeNetwork(net));
                errors.throwIfAny();
              };
              try {
                await createNetwork(net, subnet, spec.tenantOptions?.(i) ?? []);
                const eps = await Promise.all([
                  sandbox(hA, `${net}a`, net, pick(hA, 0, 20), true),
                  sandbox(hB, `${net}b`, net, pick(hB, 1, 21), true),
                ]);
                return { endpoints: [eps[0], eps[1]] as [CompareEndpoint, CompareEndpoint], remove: drop };
              } catch (err) {
                // Partial work rolls back (a local network made on some hosts only, say): the
                // refusal is the evidence, and nothing of it stays to disturb the next check.
                const errors = new ErrorList(`tenant ${net}`);
                errors.add(err);
                await errors.run(drop);
                throw errors.combined();
              }
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
