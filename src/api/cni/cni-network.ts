/**
 * The CNI network configuration ↔ a weft network. `conf.name` is the weft network's name: a
 * network made with `weft network create` is used as it is (after checking the config does not
 * contradict it), and one first seen through CNI is created from the config, so it shows up in
 * `weft network ls/inspect` like any other.
 */
import type { Controller } from '../../controller/controller.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, NotFoundError, WeftError } from '../../errors.js';
import { BRIDGE_OPTIONS } from '../../drivers/bridge/bridge-options.js';
import { OVERLAY_OPTIONS } from '../../drivers/overlay/overlay-options.js';
import { normalizeCidr, parseCidr } from '../../ipam/cidr.js';
import { CNI_CODES, CniError } from './cni-errors.js';
import type { NetConf } from './cni-request.js';

/** Label on networks weft created because a CNI config named them. */
export const CREATED_BY_LABEL = 'weft.cni/created-by';

interface Pool {
  subnet: string;
  gateway?: string;
  ipRange?: string;
}

/** The pools a config asks for: `ipam.subnet` (+gateway, ipRange) or host-local's `ranges`. */
export function poolsOf(conf: NetConf): Pool[] {
  const ipam = conf.ipam;
  if (!ipam) return [];
  const pools: Pool[] = [];
  if (ipam.subnet)
    pools.push({
      subnet: ipam.subnet,
      ...(ipam.gateway ? { gateway: ipam.gateway } : {}),
      ...(ipam.ipRange ? { ipRange: ipam.ipRange } : {}),
    });
  for (const set of ipam.ranges ?? []) {
    const r = set[0];
    if (r) pools.push({ subnet: r.subnet, ...(r.gateway ? { gateway: r.gateway } : {}) });
  }
  return pools;
}

/**
 * Drivers the `weft` CNI plugin attaches to. The global ones (hostsubnet, overlay) need weftd
 * on a cluster store; without one, creating their network is refused naming --cluster-store.
 */
const CNI_DRIVERS = new Set(['bridge', 'macvlan', 'ipvlan', 'hostsubnet', 'overlay']);

/** Options of a macvlan/ipvlan (or overlay) network from a config in the reference plugins' terms. */
function underlayOptions(conf: NetConf, driver: string): Record<string, string> {
  const options: Record<string, string> = { ...(conf.options ?? {}) };
  if (conf.master) options.parent = conf.master;
  if (conf.mode) options[driver === 'ipvlan' ? 'ipvlan_mode' : 'macvlan_mode'] = conf.mode;
  // The overlay's MTU is Docker's option; the reference plugins' `mtu` means the same.
  if (driver === 'overlay' && conf.mtu !== undefined) options[OVERLAY_OPTIONS.mtu] = String(conf.mtu);
  return options;
}

/**
 * The body of a weft network create for a config (pure). `bridgeDefault` names the bridge when
 * the config does not; `adopt` uses an existing bridge as it is (weft-ipam: the main plugin's).
 */
export function networkBodyOf(conf: NetConf, creator: string, bridgeDefault?: string, adopt = false): Record<string, unknown> {
  const driver = conf.driver ?? 'bridge';
  if (driver !== 'bridge') {
    const pools = poolsOf(conf);
    return {
      name: conf.name,
      driver,
      internal: conf.internal ?? false,
      enableIPv6: pools.some((p) => p.subnet.includes(':')),
      labels: { [CREATED_BY_LABEL]: creator },
      options: underlayOptions(conf, driver),
      ipam: { config: pools },
    };
  }
  const options: Record<string, string> = {};
  const bridge = conf.bridge ?? bridgeDefault;
  if (bridge) options[BRIDGE_OPTIONS.name] = bridge;
  if (bridge && adopt) options[BRIDGE_OPTIONS.adopt] = 'true';
  if (conf.mtu !== undefined) options[BRIDGE_OPTIONS.mtu] = String(conf.mtu);
  // CNI's bridge masquerades only when asked to; keep that meaning for networks CNI creates.
  options[BRIDGE_OPTIONS.masquerade] = String(conf.ipMasq ?? false);
  if (conf.icc !== undefined) options[BRIDGE_OPTIONS.icc] = String(conf.icc);
  const pools = poolsOf(conf);
  return {
    name: conf.name,
    driver: 'bridge',
    internal: conf.internal ?? false,
    enableIPv6: pools.some((p) => p.subnet.includes(':')),
    labels: { [CREATED_BY_LABEL]: creator },
    options,
    ipam: { config: pools },
  };
}

/** Differences between a config and an existing network that make them different networks. */
export function contradictions(conf: NetConf, net: NetworkRecord, bridgeDefault?: string): string[] {
  const out: string[] = [];
  if (conf.driver !== undefined && conf.driver !== net.driver) out.push(`driver is "${net.driver}", config says "${conf.driver}"`);
  if (conf.master !== undefined && net.driverState.parent !== conf.master)
    out.push(`parent is "${net.driverState.parent ?? 'none'}", config says master "${conf.master}"`);
  const bridge = conf.bridge ?? bridgeDefault;
  if (bridge && net.driverState.bridgeName !== bridge) out.push(`bridge is "${net.driverState.bridgeName}", config says "${bridge}"`);
  const have = new Set(net.ipam.config.map((p) => p.subnet));
  for (const p of poolsOf(conf)) {
    let s: string;
    try {
      s = normalizeCidr(p.subnet, 'ipam.subnet');
    } catch {
      s = p.subnet;
    }
    if (!have.has(s)) out.push(`subnets are ${[...have].join(', ') || 'none'}, config asks for ${p.subnet}`);
  }
  return out;
}

/** Find the network a config names, creating it when it does not exist yet. */
export async function ensureNetwork(c: Controller, conf: NetConf, creator: string, bridgeDefault?: string): Promise<NetworkRecord> {
  // Checked before any comparison: a subnet with host bits must not pass as "the same network".
  for (const p of poolsOf(conf)) {
    try {
      parseCidr(p.subnet, 'ipam.subnet', { strict: true });
    } catch (err) {
      if (err instanceof WeftError) throw new CniError(CNI_CODES.invalidConfig, 'invalid network configuration', err.message);
      throw err;
    }
  }
  for (let attempt = 0; ; attempt++) {
    try {
      const net = await c.network(conf.name);
      const bad = contradictions(conf, net, bridgeDefault);
      if (bad.length > 0)
        throw new CniError(CNI_CODES.invalidConfig, `network "${conf.name}" exists with a different configuration`, bad.join('; '));
      if (!CNI_DRIVERS.has(net.driver))
        throw new CniError(
          CNI_CODES.invalidConfig,
          `network "${conf.name}" uses driver "${net.driver}"`,
          `the weft CNI plugin attaches to ${[...CNI_DRIVERS].join(', ')} networks`,
        );
      return net;
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
    // weft-ipam serves another plugin (e.g. the reference bridge), which made its bridge before
    // asking for addresses: that bridge is adopted — weft adds its gateway and never deletes it.
    // The weft plugin creates its own bridge and refuses one it did not make.
    const bridge = conf.bridge ?? bridgeDefault;
    const adopt = creator === 'weft-ipam' && bridge !== undefined && c.hostBridgeExists(bridge);
    try {
      return await c.createNetwork(networkBodyOf(conf, creator, bridgeDefault, adopt));
    } catch (err) {
      // Another ADD (or `weft network create`) made it first: use theirs.
      if (!(err instanceof ConflictError) || err.field !== 'name' || attempt > 2) throw err;
    }
  }
}

/** The network a config names, or undefined (DEL/GC of a network that is gone is a success). */
export async function findNetwork(c: Controller, name: string): Promise<NetworkRecord | undefined> {
  try {
    return await c.network(name);
  } catch (err) {
    if (err instanceof NotFoundError) return undefined;
    throw err;
  }
}
