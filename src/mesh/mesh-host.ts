/**
 * weftd's store-less mesh (--mesh), as src/cluster is for the etcd cluster: one MeshRouter in
 * the host namespace, offered to the mesh driver as `services.mesh`, and the names other peers
 * publish fed into the embedded DNS of the local mesh network. Started before the engine (a
 * bad password file or a taken port leaves the host untouched).
 */
import { readFileSync, statSync } from 'node:fs';
import type { DaemonConfig } from '../config/daemon-config.js';
import type { MeshService } from '../drivers/driver-services.js';
import { MeshRouter } from './router/mesh-router.js';
import { numToIp4, parseUniverse } from './ring/ipv4.js';
import { planFastPath, type VtepInfo } from './fastpath/vxlan-plan.js';
import { resolveAdvertiseAddr } from '../cluster/advertise-addr.js';
import { readUnderlay } from '../kernel/underlay.js';
import { InvalidArgumentError, WeftError } from '../errors.js';
import type { Controller } from '../controller/controller.js';
import type { DnsRecordTable } from '../dns/records.js';
import type { Logger } from '../logger.js';
import type { ControllerHooks } from '../controller/context.js';
import type { NetworkRecord } from '../model/types.js';
import type { MeshNetworkSpec } from './networks/mesh-networks.js';

/** The sleeve's TUN device name: one router per weftd, so one name per host namespace. */
export const MESH_TUN = 'wmesh0';

export interface DaemonMesh {
  router: MeshRouter;
  service: MeshService;
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
    name: router.name,
    underlay: ip,
    fastPath: () => {
      const vteps = new Map<string, VtepInfo>();
      for (const m of router.membership.members()) {
        if (m.name === router.name || m.state !== 'alive') continue;
        // The peer's underlay address is also the next hop's key on the VXLAN device (onlink).
        const underlay = m.addr.split(':')[0]!;
        vteps.set(m.name, { underlay, vtepIp: underlay });
      }
      return planFastPath({
        self: router.name,
        // Without the fast path every peer is planned onto the sleeve, exactly as for an encrypted mesh.
        encrypted: mc.passwordFile !== undefined || mc.noFastPath === true,
        routes: router.topology.routes(),
        vteps,
        rangesOf: (p) => router.ring.rangesOf(p),
      });
    },
    onChange: (fn) => {
      for (const e of ['topology', 'ring', 'member']) router.on(e, fn);
      return () => {
        for (const e of ['topology', 'ring', 'member']) router.off(e, fn);
      };
    },
  };
  return { router, service, stop: () => router.stop() };
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

/** The password, trimmed; refused when empty or readable by others than its owner. */
export function readMeshPassword(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (err) {
    throw new InvalidArgumentError('mesh-password-file', `cannot read ${file}: ${(err as Error).message}`, err);
  }
  if ((st.mode & 0o077) !== 0)
    throw new InvalidArgumentError('mesh-password-file', `${file} must not be readable by group or others (chmod 600)`);
  const pw = readFileSync(file, 'utf8').trim();
  if (pw.length === 0) throw new InvalidArgumentError('mesh-password-file', `${file} is empty`);
  return pw;
}

/**
 * Mesh network definitions without a store: a mesh network made (or removed) on any peer is made
 * (or removed) on every peer, with the same id. Local changes reach the mesh through the
 * controller's hooks (networkUp publishes with the creation time as version, networkDown
 * withdraws); what peers publish is applied through the controller, on every change heard and
 * on a slow periodic pass that also retries what failed (a removal refused while endpoints are
 * still attached here). Call `start` once the controller has reconciled.
 */
export function syncMeshNetworks(
  router: MeshRouter,
  controller: Controller,
  log: Logger,
): { hooks: ControllerHooks; start(): void; stop(): void } {
  /** Ids being removed because the mesh said so: their networkDown must not withdraw again. */
  const applying = new Set<string>();
  const isMesh = (n: NetworkRecord): boolean => n.driver === 'mesh';
  const specOf = (n: NetworkRecord): MeshNetworkSpec => ({
    options: { ...n.options },
    labels: { ...n.labels },
    internal: n.internal,
    subnet: n.ipam.config[0]?.subnet ?? '',
    gateway: n.ipam.config[0]?.gateway ?? '',
  });
  const hooks: ControllerHooks = {
    async networkUp(net) {
      if (!isMesh(net)) return;
      const created = Date.parse(net.created);
      if (router.publishNetwork(net.name, net.id, specOf(net), Number.isFinite(created) ? created : Date.now()))
        log.info({ network: net.name, id: net.id }, 'mesh network published');
    },
    async networkDown(net) {
      if (!isMesh(net) || applying.has(net.id)) return;
      if (router.withdrawNetwork(net.name, net.id)) log.info({ network: net.name, id: net.id }, 'mesh network withdrawn');
    },
  };
  const apply = async (): Promise<void> => {
    const local = (await controller.networks()).filter(isMesh);
    for (const rec of router.networks.all()) {
      const mine = local.find((n) => n.id === rec.id);
      if (rec.deleted) {
        if (!mine) continue;
        applying.add(mine.id);
        try {
          await controller.removeNetwork(mine.id);
          log.info({ network: mine.name }, 'mesh network removed (withdrawn by a peer)');
        } finally {
          applying.delete(mine.id);
        }
        continue;
      }
      if (mine || !rec.spec) continue;
      const s = rec.spec;
      await controller.createNetwork(
        {
          name: rec.name,
          driver: 'mesh',
          internal: s.internal,
          options: s.options,
          labels: s.labels,
          ipam: { config: [{ subnet: s.subnet, ...(s.gateway ? { gateway: s.gateway } : {}) }] },
        },
        { id: rec.id },
      );
      log.info({ network: rec.name, from: rec.origin }, 'mesh network made (published by a peer)');
    }
  };
  let running = Promise.resolve();
  const kick = (): void => {
    running = running.then(apply).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'mesh networks not applied'));
  };
  let timer: NodeJS.Timeout | undefined;
  return {
    hooks,
    start() {
      router.on('networks', kick);
      timer = setInterval(kick, 2000);
      kick();
    },
    stop() {
      if (timer) clearInterval(timer);
      router.off('networks', kick);
    },
  };
}
