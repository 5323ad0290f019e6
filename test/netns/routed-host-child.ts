/**
 * One routed host in its own process, run inside the host's namespace (nsenter --net): a
 * cluster agent (real etcd, block IPAM), weftd's BGP service (a supervised BIRD announcing this
 * host's blocks) and the routed driver on the real kernel. Until the controller attaches
 * endpoints of global networks (issue 12's wiring), this is what the controller will do for a
 * routed network: allocate from the cluster's blocks, then networkUp + join. Inert unless
 * WEFT_ROUTED_CHILD=1.
 *   node routed-host-child.js ETCD_URL PREFIX HOST_ID ADDRESS RUN_DIR POOL_CIDR
 *   stdin:  {"id":1,"op":"attach","endpoint":"<hex>","netns":"/run/netns/x"} | {"op":"leave",…} | {"op":"peers"} | {"op":"model"}
 *   stdout: {"ready":true} then {"id":1,"ok":true,"result":…} per request
 */
import { createInterface } from 'node:readline';
import { EtcdStore } from '../../src/store/etcd-store.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { EtcdClusterAgent } from '../../src/cluster/cluster-agent.js';
import { BgpService } from '../../src/daemon/bgp-service.js';
import { RoutedDriver } from '../../src/drivers/routed/routed-driver.js';
import { RealKernel } from '../../src/kernel/real-kernel.js';
import { createLogger } from '../../src/logger.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../src/model/types.js';
import type { EndpointContext } from '../../src/drivers/driver.js';
import { PolicyService, publishPolicyEndpoint } from '../../src/daemon/policy-service.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';

interface Request {
  id: number;
  op: 'attach' | 'leave' | 'peers' | 'model' | 'check' | 'policy-idle';
  endpoint?: string;
  netns?: string;
  labels?: Record<string, string>;
}

async function main([url, prefix, hostId, address, runDir, poolCidr]: string[]): Promise<void> {
  if (!url || !prefix || !hostId || !address || !runDir || !poolCidr) throw new Error('usage: URL PREFIX HOST ADDRESS RUN_DIR POOL');
  const log = createLogger('warn');
  const t0 = Date.now();
  const phase = (what: string): void => void (process.env.WEFT_ROUTED_TIMING && process.stderr.write(`${what} +${Date.now() - t0} ms\n`));
  const store = await EtcdStore.open({ target: parseEtcdUrl(url), prefix });
  const agent = new EtcdClusterAgent(store, {
    identity: { id: hostId, token: `token-${hostId}-0123456789abcdef` },
    name: hostId,
    address,
    ttlMs: 2000,
    graceMs: 4000,
  });
  await agent.start();
  phase('agent');
  await agent.ipam.definePool({ id: 'rt', cidr: poolCidr, blockPrefix: 26 });
  const bgp = await BgpService.start(agent, {
    runDir,
    config: { asNumber: 64512 },
    log,
  });
  phase('bgp');
  const policy = await PolicyService.start(agent, { log, firewall: new PolicyFirewall() });
  phase('policy');
  const kernel = new RealKernel();
  const driver = new RoutedDriver();
  const network: NetworkRecord = {
    id: 'ab'.repeat(32),
    name: 'rtnet',
    driver: 'routed',
    created: new Date(0).toISOString(),
    scope: 'global',
    internal: false,
    enableIPv6: false,
    attachable: true,
    labels: {},
    options: {},
    ipam: { driver: 'default', options: {}, config: [{ subnet: poolCidr, gateway: '169.254.1.1', auxAddresses: {} }] },
    driverState: {},
  };
  network.driverState = driver.validate(network).driverState;
  const endpoints = new Map<string, EndpointContext>();
  const ctxOf = (id: string, netns: string, ipv4: string): EndpointContext => {
    const endpoint: EndpointRecord = {
      id,
      networkId: network.id,
      sandboxId: id,
      ifname: 'eth0',
      ipv4: `${ipv4}/32`,
      aliases: [],
      defaultRoute: true,
      requested: {},
      created: new Date(0).toISOString(),
    };
    const sandbox: SandboxRecord = {
      id,
      name: id.slice(0, 8),
      kind: 'netns',
      netnsPath: netns,
      dns: [],
      hostname: 'w',
      labels: {},
      created: endpoint.created,
    };
    return { kernel, services: { log }, network, endpoint, sandbox };
  };
  const handle = async (r: Request): Promise<unknown> => {
    switch (r.op) {
      case 'attach': {
        const a = await agent.allocate('rt', r.endpoint!);
        const c = ctxOf(r.endpoint!, r.netns!, a.address);
        await driver.networkUp(c);
        await driver.join(c);
        await driver.join(c); // ensure twice: the second finds everything in place
        endpoints.set(r.endpoint!, c);
        // What the controller will write for a global endpoint: other hosts' policy selectors see it.
        await publishPolicyEndpoint(store, {
          id: r.endpoint!,
          hostId,
          network: network.name,
          driver: 'routed',
          ipv4: a.address,
          labels: r.labels ?? {},
        });
        await bgp.idle();
        await policy.idle();
        return { address: a.address, block: a.block, borrowed: a.borrowed };
      }
      case 'check': {
        const c = endpoints.get(r.endpoint!)!;
        const problems: string[] = [];
        for (const inv of driver.invariants.endpoint) problems.push(...(await inv.check(c)));
        return problems;
      }
      case 'leave': {
        const c = endpoints.get(r.endpoint!)!;
        await driver.leave(c);
        await driver.leave(c); // already gone is fine
        await agent.release('rt', c.endpoint.ipv4!.split('/')[0]!, r.endpoint!);
        endpoints.delete(r.endpoint!);
        await store.commit({ deletes: [`endpoints/${network.name}/${r.endpoint!}`] });
        await bgp.idle();
        return true;
      }
      case 'peers':
        return bgp.peers();
      case 'policy-idle':
        await policy.idle();
        return { applies: policy.applies, lastError: policy.lastError };
      case 'model':
        await bgp.idle();
        return bgp.model();
    }
  };
  process.stdout.write(JSON.stringify({ ready: true, birdPid: bgp.speaker.pid }) + '\n');
  const rl = createInterface({ input: process.stdin });
  for await (const line of rl) {
    const r = JSON.parse(line) as Request;
    try {
      process.stdout.write(JSON.stringify({ id: r.id, ok: true, result: await handle(r) }) + '\n');
    } catch (err) {
      process.stdout.write(JSON.stringify({ id: r.id, ok: false, error: (err as Error).message }) + '\n');
    }
  }
  await policy.stop();
  await bgp.stop({ stopBird: true });
  await agent.stop();
  await store.close();
}

if (process.env.WEFT_ROUTED_CHILD === '1') {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
