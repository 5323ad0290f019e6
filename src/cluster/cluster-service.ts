/**
 * weftd's multi-host side, started when `--cluster-store` is given: loads this host's
 * identity, picks its underlay address, opens etcd and starts the cluster agent (operations.ts
 * serves `GET /v1/hosts`). For a host that was a member before, an unreachable etcd does not
 * stop the start: the agent joins when it answers, and until then global operations fail with
 * WEFT_STORE_UNAVAILABLE. A host that never joined is refused with a clear error instead.
 * The controller integration (global networks and endpoints in etcd) builds on `agent`.
 */
import path from 'node:path';
import type { DaemonConfig } from '../config/daemon-config.js';
import { WeftError } from '../errors.js';
import { openStore } from '../store/open-store.js';
import { isClusterStore, type ClusterStore } from '../store/cluster-store.js';
import { EtcdClusterAgent } from './cluster-agent.js';
import { hasJoinedBefore, loadHostIdentity, recordJoined } from './host-identity.js';
import { resolveAdvertiseAddr, secondFamilyAddress } from './advertise-addr.js';
import { readUnderlay } from '../kernel/underlay.js';
import type { Logger } from '../logger.js';
import type { ClusterPort } from '../controller/cluster-port.js';
import type { ClusterService as DriverClusterService } from '../drivers/driver-services.js';
import { clusterPortOf } from './cluster-port-adapter.js';
import { ClusterSync, type ClusterSink } from './cluster-sync.js';
import { SubnetLeaser } from './subnet-lease.js';
import { followLeases } from './subnet-lease-events.js';
import { UdpEncap } from '../kernel/udp-encap.js';
import { Supervisor } from '../kernel/supervisor.js';
import { WireguardGo } from '../kernel/wireguard.js';

export interface ClusterService {
  agent: EtcdClusterAgent;
  store: ClusterStore;
  /** What openEngine takes to keep global networks in the cluster store. */
  engineParts(): { globalStore: ClusterStore; cluster: ClusterPort };
  /** What drivers see of the cluster (DriverServices.cluster). */
  driverService(): DriverClusterService;
  /** The hostsubnet udp backend's encapsulation (DriverServices.udpEncap). */
  udpEncap: UdpEncap;
  /** The overlay's encryption: wireguard-go devices under a supervisor (DriverServices.wireguard). */
  wireguard: WireguardGo;
  /** Start turning the agent's watches into controller calls (after the controller's first reconcile). */
  follow(sink: ClusterSink): ClusterSync;
  stop(): Promise<void>;
}

export async function startClusterService(config: DaemonConfig, log: Logger): Promise<ClusterService> {
  const cc = config.cluster;
  if (!cc) throw new WeftError('WEFT_INTERNAL', 'cluster service started without --cluster-store');
  // Local checks first: a bad identity or address must not touch the cluster at all.
  const identity = loadHostIdentity(config.stateDir, cc.hostId);
  const underlay = readUnderlay();
  const address = resolveAdvertiseAddr(cc.advertiseAddr, underlay);
  const address6 = secondFamilyAddress(address, underlay);
  // Lazily: a bad URL or TLS file fails here, an unreachable etcd does not (weftd starts with
  // its local scope and the agent keeps trying, as dockerd does with its KV store away).
  const store = await openStore(cc.storeUrl, { tls: cc.tls, lazy: true });
  if (!isClusterStore(store)) {
    await store.close();
    throw new WeftError('WEFT_INVALID_ARGUMENT', `--cluster-store must be an etcd URL, not ${store.backend}`, { field: 'cluster-store' });
  }
  const agent = new EtcdClusterAgent(store, {
    identity,
    name: cc.hostName ?? identity.id,
    address,
    ...(address6 !== undefined ? { address6 } : {}),
    ttlMs: cc.hostTtlMs,
    graceMs: cc.hostGraceMs,
    ipamJournal: path.join(config.stateDir, 'cluster-ipam.json'),
    log: (level, fields, msg) => log[level](fields, msg),
  });
  // A host that was never a member treats an unreachable store as bad input (a wrong URL must
  // not leave a daemon waiting forever); a member restarting during an outage starts and waits.
  const member = hasJoinedBefore(config.stateDir);
  let joined: 'joined' | 'waiting';
  try {
    if (member) joined = await agent.startOrWait();
    else {
      await agent.start();
      joined = 'joined';
    }
  } catch (err) {
    await store.close();
    throw err;
  }
  if (!member) recordJoined(config.stateDir, identity.id, cc.storeUrl);
  // Else the agent said so (once) and joins when the store answers ('storeUp').
  if (joined === 'joined') {
    log.info({ host: identity.id, name: cc.hostName ?? identity.id, address, address6, store: cc.storeUrl }, 'joined the cluster');
  }
  let sync: ClusterSync | undefined;
  // hostsubnet: this host's subnet leases (kept across restarts: a graceful stop does not revoke them).
  const subnetLeases = new SubnetLeaser(store, agent.hostId, {
    ttlMs: cc.subnetLeaseTtlMs,
    journalFile: path.join(config.stateDir, 'subnet-leases.json'),
    log: (level, fields, msg) => log[level](fields, msg),
  });
  const udpEncap = new UdpEncap((err) => log.error({ err: err.message }, 'udp encapsulation'));
  // `-o encrypted` overlays (this kernel has no ESP and no WireGuard module): one wireguard-go
  // device per host; its private key stays in the state directory (0600), its public key
  // travels as host data through the store.
  const wgSupervisor = new Supervisor();
  const wireguard = new WireguardGo({
    supervisor: wgSupervisor,
    runDir: path.resolve(config.runDir, 'wireguard'),
    keyDir: path.resolve(config.stateDir, 'wireguard-keys'),
  });
  let stopLeases: (() => void) | undefined;
  return {
    agent,
    store,
    engineParts: () => ({ globalStore: store, cluster: clusterPortOf(agent) }),
    driverService: () => ({
      hostId: agent.hostId,
      hostAddress: agent.address,
      publishHostData: (driver, data) => agent.publishHostData(driver, data),
      subnetLeases,
    }),
    udpEncap,
    wireguard,
    follow(sink) {
      sync = new ClusterSync(agent, sink, log, (id) => agent.hostData(id));
      sync.start();
      // Other hosts' subnet leases → hostUp/hostDown; a gone host's leases are deleted (after the grace).
      stopLeases = followLeases(store, agent.hostId, sink, (level, fields, msg) => log[level](fields, msg));
      agent.on('hostGone', (h) => {
        subnetLeases
          .reclaimHost(h.id)
          .catch((err: unknown) => log.warn({ host: h.id, err: String(err) }, 'reclaiming subnet leases failed'));
      });
      agent.on('storeUp', () => {
        subnetLeases.recover().catch((err: unknown) => log.warn({ err: String(err) }, 're-claiming subnet leases failed'));
      });
      return sync;
    },
    async stop() {
      stopLeases?.();
      // wireguard-go keeps running, as the kernel's objects do: encrypted flows do not stop with
      // weftd, and the next one adopts the devices from their pid files.
      wgSupervisor.detachAll();
      await udpEncap.close();
      await subnetLeases.close(false);
      await sync?.stop();
      await agent.stop();
      await store.close();
    },
  };
}
