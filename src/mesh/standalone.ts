/**
 * A MeshRouter as its own process, for tests, benches and trying the mesh before weftd embeds
 * it: `node dist/src/mesh/standalone.js CONFIG.json`, started inside a host namespace with
 * `nsenter --net=…`. CONFIG is MeshRouterOptions plus `passwordFile`. Logs go to stderr; stdout
 * carries JSON lines: {"event":"ready"} once listening, then one reply per stdin command
 * {"id":1,"cmd":"status"|"forget"|"connect"|"allocate"|"release"|"allocations"|"register"|"unregister"|"lookup"|"stop", …}.
 */
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { asWeftError } from '../errors.js';
import { MeshRouter } from './router/mesh-router.js';
import type { MeshRouterOptions } from './router/options.js';

interface Command {
  id: number;
  cmd: string;
  peer?: string;
  addr?: string;
  id2?: string;
  key?: string;
  names?: string[];
  addrs?: string[];
  name?: string;
  /** allocate: how long to wait for a donation when this peer has no free space (default 5 s). */
  timeoutMs?: number;
}

const out = (o: unknown): void => void process.stdout.write(`${JSON.stringify(o)}\n`);

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error('usage: standalone.js CONFIG.json');
  const cfg = JSON.parse(readFileSync(file, 'utf8')) as MeshRouterOptions & { passwordFile?: string; pskHex?: string };
  const opts: MeshRouterOptions = {
    ...cfg,
    ...(cfg.passwordFile ? { password: readFileSync(cfg.passwordFile, 'utf8').trim() } : {}),
    ...(cfg.pskHex ? { psk: Buffer.from(cfg.pskHex, 'hex') } : {}),
    log: (line) => void process.stderr.write(`${new Date().toISOString()} ${line}\n`),
  };
  const router = new MeshRouter(opts);
  await router.start();
  router.on('tun', (address: string) => out({ event: 'tun', address }));
  out({ event: 'ready', name: router.name, pid: process.pid });
  const handle = async (c: Command): Promise<unknown> => {
    switch (c.cmd) {
      case 'status':
        return router.status();
      case 'forget':
        return router.forget(c.peer ?? '');
      case 'connect':
        router.connect(c.addr ?? '');
        return true;
      case 'allocate':
        return router.allocate(c.key ?? '', c.timeoutMs);
      case 'allocations':
        // What this peer holds, and what it holds outside the space the ring gives it (must be none).
        return { allocations: router.alloc.allocations(), orphans: router.alloc.orphans() };
      case 'release':
        return router.release(c.key ?? '');
      case 'register':
        router.registerName(c.key ?? '', c.names ?? [], c.addrs ?? []);
        return true;
      case 'unregister':
        return router.unregisterName(c.key ?? '');
      case 'lookup':
        return router.lookup(c.name ?? '');
      case 'stop':
        await router.stop();
        setImmediate(() => process.exit(0));
        return true;
      default:
        throw new Error(`unknown command ${c.cmd}`);
    }
  };
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    let c: Command;
    try {
      c = JSON.parse(line) as Command;
    } catch {
      out({ ok: false, error: { code: 'WEFT_INVALID_ARGUMENT', message: 'not JSON' } });
      return;
    }
    handle(c).then(
      (result) => out({ id: c.id, ok: true, result }),
      (err: unknown) => out({ id: c.id, ok: false, error: asWeftError(err).toJSON() }),
    );
  });
  // stdin closing means the parent is gone: leave the mesh cleanly.
  rl.on('close', () => void router.stop().then(() => process.exit(0)));
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.on(sig, () => void router.stop().then(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.stderr.write(`mesh standalone: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
