/**
 * One simulated host's engine for the hostsubnet lab tests and bench, run inside the host's
 * namespace (`nsenter --net=…`), inert unless WEFT_HS_CHILD=1: the real controller (SQLite
 * local store in its state dir), the real kernel, the subnet leaser on the lab's etcd, the
 * UDP encapsulation service, and the lease follower that turns other hosts' leases into
 * controller.hostUp/hostDown — weftd's composition for hostsubnet, until weftd wires it itself.
 * Commands arrive as JSON lines on stdin ({id, op, …}); replies are JSON lines on stdout.
 */
import { createInterface } from 'node:readline';
import path from 'node:path';
import { mkdirSync } from 'node:fs';
import { EtcdStore } from '../../src/store/etcd-store.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { openStore } from '../../src/store/open-store.js';
import { SubnetLeaser } from '../../src/cluster/subnet-lease.js';
import { followLeases } from '../../src/cluster/subnet-lease-events.js';
import { RealKernel } from '../../src/kernel/real-kernel.js';
import { UdpEncap } from '../../src/kernel/udp-encap.js';
import { buildController } from '../../src/controller/open-engine.js';
import { defaultConfig } from '../../src/config/daemon-config.js';
import { BridgeDriver } from '../../src/drivers/bridge/bridge-driver.js';
import { NullDriver } from '../../src/drivers/null/null-driver.js';
import { HostDriver } from '../../src/drivers/host/host-driver.js';
import { HostSubnetDriver } from '../../src/drivers/hostsubnet/hostsubnet-driver.js';
import { WeftError } from '../../src/errors.js';

interface Cmd {
  id: number;
  op: string;
  [k: string]: unknown;
}

async function main(): Promise<void> {
  const env = (k: string): string => {
    const v = process.env[k];
    if (!v) throw new Error(`${k} is not set`);
    return v;
  };
  const hostId = env('HS_HOST_ID');
  const address = env('HS_ADDRESS');
  const dir = env('HS_DIR');
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  mkdirSync(path.join(dir, 'run'), { recursive: true });
  const etcd = await EtcdStore.open({
    target: parseEtcdUrl(env('HS_ETCD')),
    prefix: env('HS_PREFIX'),
    opTimeoutMs: Number(process.env.HS_ETCD_TIMEOUT_MS ?? 3000),
  });
  const leaser = new SubnetLeaser(etcd, hostId, {
    ttlMs: Number(process.env.HS_LEASE_TTL_MS ?? 24 * 3600 * 1000),
    journalFile: path.join(dir, 'state', 'subnet-leases.json'),
    log: (level, fields, msg) => process.stderr.write(`${level} ${msg} ${JSON.stringify(fields)}\n`),
  });
  const udp = new UdpEncap((err) => process.stderr.write(`udp encap: ${err.message}\n`));
  const kernel = new RealKernel();
  const config = {
    ...defaultConfig(),
    stateDir: path.join(dir, 'state'),
    runDir: path.join(dir, 'run'),
    socketPath: path.join(dir, 'run', 'weft.sock'),
    storeUrl: `sqlite://${path.join(dir, 'state', 'weft.db')}`,
    firewall: 'none' as const,
  };
  const local = await openStore(config.storeUrl);
  const driver = new HostSubnetDriver();
  const controller = buildController({
    config,
    store: local,
    kernel,
    drivers: [new BridgeDriver(), new HostDriver(), new NullDriver(), driver],
    services: {
      cluster: {
        hostId,
        hostAddress: address,
        publishHostData: () => Promise.reject(new WeftError('WEFT_INTERNAL', 'host data publishing is not part of this harness')),
        subnetLeases: leaser,
      },
      udpEncap: udp,
    },
  });
  const events: string[] = [];
  const stopFollow = followLeases(
    etcd,
    hostId,
    {
      hostUp: async (h) => {
        events.push(`up ${h.hostId}`);
        await controller.hostUp(h);
      },
      hostDown: async (h) => {
        events.push(`down ${h.hostId}`);
        await controller.hostDown(h);
      },
    },
    (level, fields, msg) => process.stderr.write(`${level} ${msg} ${JSON.stringify(fields)}\n`),
  );

  const handle = async (c: Cmd): Promise<unknown> => {
    switch (c.op) {
      case 'start':
        // A restarted host: the full reconcile re-runs networkUp (lease re-claim) and every join.
        return controller.resync(true);
      case 'create': {
        const net = await controller.createNetwork({
          name: c.name,
          driver: 'hostsubnet',
          ipam: { config: [{ subnet: c.subnet }] },
          options: c.options ?? {},
        });
        return { id: net.id, lease: driver.leaseOf(net.id) };
      }
      case 'lease': {
        const net = await controller.network(String(c.name));
        return driver.leaseOf(net.id) ?? null;
      }
      case 'sandbox': {
        const r = await controller.createSandbox({ name: c.name, networks: [{ network: c.network }] });
        return { netnsPath: r.sandbox.netnsPath, ipv4: r.endpoints[0]?.ipv4, gateway4: r.endpoints[0]?.gateway4 };
      }
      case 'leases':
        return leaser.leases(String(c.name));
      case 'doctor':
        return controller.doctor(false);
      case 'udp-stats':
        return udp.stats(String(c.tun)) ?? null;
      case 'events':
        return events;
      case 'teardown': {
        for (const sb of await controller.sandboxes()) await controller.removeSandbox(sb.id);
        for (const n of await controller.networks()) if (n.driver === 'hostsubnet') await controller.removeNetwork(n.id);
        return null;
      }
      case 'exit':
        stopFollow();
        controller.stop();
        await udp.close();
        await leaser.close(c.revoke === true);
        await etcd.close();
        await local.close();
        kernel.close();
        setImmediate(() => process.exit(0));
        return null;
      default:
        throw new Error(`unknown op ${c.op}`);
    }
  };

  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    const c = JSON.parse(line) as Cmd;
    handle(c).then(
      (result) => process.stdout.write(JSON.stringify({ id: c.id, ok: true, result }) + '\n'),
      (err: unknown) =>
        process.stdout.write(
          JSON.stringify({
            id: c.id,
            ok: false,
            error: err instanceof WeftError ? err.toJSON() : { code: 'ERROR', message: String(err) },
          }) + '\n',
        ),
    );
  });
  process.stdout.write(JSON.stringify({ id: 0, ok: true, result: 'ready' }) + '\n');
}

if (process.env.WEFT_HS_CHILD === '1') {
  main().catch((err: unknown) => {
    process.stderr.write(`hostsubnet host failed: ${String(err)}\n`);
    process.exit(1);
  });
}
