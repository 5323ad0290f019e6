/**
 * A controller on the fake kernel and a memory store, with a run directory in a temp dir: the
 * whole engine minus the real kernel, for unit tests without root.
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { MemoryStore } from '../../src/store/memory-store.js';
import { configFromFlags } from '../../src/config/daemon-config.js';
import { buildController } from '../../src/controller/open-engine.js';
import type { Controller } from '../../src/controller/controller.js';
import type { Driver, DriverServices } from '../../src/drivers/driver.js';
import { builtinDrivers } from '../../src/drivers/registry.js';
import { FakeKernel } from './fake-kernel.js';
import { FakeClusterPort } from './fake-cluster-port.js';
import type { ControllerHooks } from '../../src/controller/context.js';

export interface FakeWorld {
  controller: Controller;
  kernel: FakeKernel;
  store: MemoryStore;
  globalStore?: MemoryStore;
  cluster?: FakeClusterPort;
  runDir: string;
  close(): Promise<void>;
}

export async function fakeWorld(
  opts: {
    drivers?: Driver[];
    globalStore?: boolean;
    /** With globalStore: the cluster store is away when the controller starts (turn it on with cluster.available). */
    clusterAway?: boolean;
    hooks?: ControllerHooks;
    services?: DriverServices;
  } = {},
): Promise<FakeWorld> {
  const dir = mkdtempSync(path.join(tmpdir(), 'weft-fake-'));
  const config = configFromFlags({ stateDir: path.join(dir, 'state'), runDir: path.join(dir, 'run'), store: 'memory:' });
  const store = new MemoryStore();
  const globalStore = opts.globalStore ? new MemoryStore() : undefined;
  const cluster = opts.globalStore ? new FakeClusterPort() : undefined;
  if (cluster && opts.clusterAway) cluster.available = false;
  const kernel = new FakeKernel();
  const controller = buildController({
    config,
    store,
    ...(globalStore && cluster ? { globalStore, cluster } : {}),
    kernel,
    drivers: [...builtinDrivers(), ...(opts.drivers ?? [])],
    ...(opts.services ? { services: opts.services } : {}),
  });
  if (opts.hooks) controller.addHooks(opts.hooks);
  await controller.start();
  return {
    controller,
    kernel,
    store,
    ...(globalStore ? { globalStore } : {}),
    ...(cluster ? { cluster } : {}),
    runDir: config.runDir,
    async close() {
      controller.stop();
      // Sandbox files are rewritten just after a connect's reply: let those writes finish first.
      await new Promise((r) => setImmediate(r));
      await store.close();
      await globalStore?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every key and value of a store. */
export async function dumpStore(s: MemoryStore): Promise<Record<string, string>> {
  return Object.fromEntries((await s.list('')).map((e) => [e.key, e.value]));
}

/** Files under a directory (relative paths), for "nothing left behind" checks. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    let names: string[];
    try {
      names = readdirSync(d);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // not made yet: no files
      throw err;
    }
    for (const n of names.sort()) {
      const p = path.join(d, n);
      if (statSync(p).isDirectory()) walk(p, `${rel}${n}/`);
      else out.push(`${rel}${n}`);
    }
  };
  walk(dir, '');
  return out;
}
