/**
 * weftd's store-less mesh (--mesh): one MeshRouter in the host namespace, offered to the mesh
 * driver as `services.mesh`, its status and peer verbs on the REST API (`weft mesh …`), and
 * the names other peers publish fed into the embedded DNS of the local mesh network. Started
 * before the engine (a bad flag or a taken port leaves the host untouched).
 */
import { z } from 'zod';
import type { DaemonConfig } from '../config/daemon-config.js';
import { readMeshPassword } from '../config/mesh-config.js';
import type { MeshConfig } from '../config/mesh-config.js';
import type { MeshService } from '../drivers/driver-services.js';
import { MeshRouter } from '../mesh/router/mesh-router.js';
import { numToIp4, parseUniverse } from '../mesh/ring/ipv4.js';
import { resolveAdvertiseAddr } from '../cluster/advertise-addr.js';
import { readUnderlay } from '../kernel/underlay.js';
import { InvalidArgumentError, WeftError } from '../errors.js';
import type { Router } from '../api/rest/router.js';
import type { Controller } from '../controller/controller.js';
import type { DnsRecordTable } from '../dns/records.js';
import type { Logger } from '../logger.js';

/** The sleeve's TUN device name: one router per weftd, so one name per host namespace. */
export const MESH_TUN = 'wmesh0';

export interface DaemonMesh {
  router: MeshRouter;
  service: MeshService;
  /** Mesh REST routes (or a clear refusal on a weftd without --mesh). */
  stop(): Promise<void>;
}

/** The mesh gateway: the range's first host address, on every host's mesh bridge. */
export function meshGateway(range: string): string {
  return numToIp4(parseUniverse(range).start + 1);
}

export async function startMesh(config: DaemonConfig, log: Logger): Promise<DaemonMesh | undefined> {
  const mc = config.mesh;
  if (!mc) return undefined;
  const ip = mc.listenIp ?? resolveAdvertiseAddr(undefined, readUnderlay());
  const gateway = meshGateway(mc.range);
  const router = new MeshRouter({
    name: mc.name,
    listen: `${ip}:${mc.port}`,
    peers: mc.peers,
    ...(mc.passwordFile ? { password: readMeshPassword(mc.passwordFile) } : {}),
    subnet: mc.range,
    ipalloc: mc.ipalloc,
    reserved: [gateway],
    tun: { name: MESH_TUN },
    ...(mc.probeMs ? { membership: { probeIntervalMs: mc.probeMs, probeTimeoutMs: Math.floor(mc.probeMs / 2) } } : {}),
    log: (line) => log.info({ mesh: mc.name }, line),
  });
  try {
    await router.start();
  } catch (err) {
    await router.stop();
    throw new WeftError('WEFT_INVALID_ARGUMENT', `cannot start the mesh on ${ip}:${mc.port}: ${(err as Error).message}`, {
      field: 'mesh-port',
      cause: err,
    });
  }
  log.info({ name: mc.name, listen: `${ip}:${mc.port}`, peers: mc.peers, range: mc.range, encrypted: !!mc.passwordFile }, 'mesh started');
  const service: MeshService = {
    subnet: mc.range,
    gateway,
    encrypted: mc.passwordFile !== undefined,
    allocate: (id) => router.allocate(id),
    claim: (id, addr) => void router.alloc.claim(id, addr),
    release: (id) => void router.release(id),
    registerName: (id, names, addrs) => router.registerName(id, names, addrs),
    unregisterName: (id) => void router.unregisterName(id),
  };
  return { router, service, stop: () => router.stop() };
}

const ConnectBody = z.object({ address: z.string() }).strict();
const ForgetBody = z.object({ peer: z.string() }).strict();

/** GET /v1/mesh, POST /v1/mesh/connect {address}, POST /v1/mesh/forget {peer}. */
export function registerMeshRoutes(routes: Router, mesh: DaemonMesh | undefined, mc: MeshConfig | undefined): void {
  const need = (): MeshRouter => {
    if (!mesh) throw new InvalidArgumentError('mesh', 'this weftd runs no mesh (start it with --mesh or --mesh-peer IP)');
    return mesh.router;
  };
  const parse = <T>(schema: z.ZodType<T>, b: unknown): T => {
    const r = schema.safeParse(b ?? {});
    if (!r.success)
      throw new InvalidArgumentError('body', r.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    return r.data;
  };
  routes.on('GET', '/v1/mesh', async () => ({ body: need().status() }));
  routes.on('POST', '/v1/mesh/connect', async (_p, b) => {
    const { address } = parse(ConnectBody, b);
    const addr = /:\d+$/.test(address) ? address : `${address}:${mc?.port ?? 6783}`;
    need().connect(addr);
    return { body: { connecting: addr } };
  });
  routes.on('POST', '/v1/mesh/forget', async (_p, b) => ({ body: need().forget(parse(ForgetBody, b).peer) }));
}

/**
 * Keep the embedded DNS of the local mesh network answering for every live peer's names: the
 * records other peers publish (ours come from the controller's own hooks) go into the table
 * under synthetic endpoint ids, and leave it when their peer dies, is forgotten or removes them.
 */
export function syncMeshNames(router: MeshRouter, controller: Controller, table: DnsRecordTable, log: Logger): () => void {
  let shown = new Map<string, string>(); // synthetic id → network id
  const sync = async (): Promise<void> => {
    const net = (await controller.networks()).find((n) => n.driver === 'mesh');
    const next = new Map<string, string>();
    if (net) {
      for (const r of router.names.all()) {
        if (r.deleted || r.origin === router.name || r.names.length === 0 || r.addrs.length === 0) continue;
        const state = router.membership.member(r.origin)?.state;
        if (state !== 'alive' && state !== 'suspect') continue;
        const id = `mesh:${r.origin}:${r.id}`;
        table.setEndpoint(net.id, id, { name: r.names[0]!, aliases: r.names.slice(1), ipv4: r.addrs[0]! });
        next.set(id, net.id);
      }
    }
    for (const [id, netId] of shown) if (next.get(id) !== netId) table.removeEndpoint(netId, id);
    shown = next;
  };
  let running = Promise.resolve();
  const kick = (): void => {
    running = running.then(sync).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'mesh names into DNS failed'));
  };
  router.on('names', kick);
  router.on('member', kick);
  // Networks are created after the names arrive, too: a slow periodic pass covers that.
  const timer = setInterval(kick, 2000);
  kick();
  return () => {
    clearInterval(timer);
    router.off('names', kick);
    router.off('member', kick);
  };
}
