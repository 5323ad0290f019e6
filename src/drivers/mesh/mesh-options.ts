/** The mesh driver's `-o` options and the state stored with a mesh network. Pure. */
import { ConflictError, InvalidArgumentError } from '../../errors.js';
import type { NetworkRecord } from '../../model/types.js';
import { parseMtu } from '../../config/validate.js';
import { IFNAMES } from '../ifnames.js';
import { bridgeMacOf } from '../bridge/bridge-options.js';
import type { NetworkValidation } from '../driver.js';

export const MESH_OPTIONS = { mtu: 'com.docker.network.driver.mtu' } as const;

/** The sleeve's MTU (1500 − outer IP, UDP, sleeve header, AEAD tag): what fits through every path. */
export const MESH_MTU = 1420;

/**
 * Check a mesh network: IPv4 only (the sleeve is an L3 IPv4 tunnel), one per host (the ring
 * splits one range, as Weave's IPAM does), no options but the MTU (at most the sleeve's).
 */
export function validateMeshNetwork(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
  for (const k of Object.keys(net.options)) {
    if (k !== MESH_OPTIONS.mtu)
      throw new InvalidArgumentError(`opt ${k}`, `unknown option for the mesh driver (known: ${MESH_OPTIONS.mtu})`);
  }
  if (net.enableIPv6 || net.ipam.config.some((p) => p.subnet.includes(':')))
    throw new InvalidArgumentError('ipv6', 'mesh networks are IPv4 only (the sleeve carries IPv4)');
  const other = others.find((n) => n.driver === 'mesh' && n.id !== net.id);
  if (other) throw new ConflictError('driver', `this host already has mesh network "${other.name}" (the mesh splits one range)`);
  const raw = net.options[MESH_OPTIONS.mtu];
  const mtu = raw === undefined ? MESH_MTU : parseMtu(MESH_OPTIONS.mtu, raw);
  if (mtu > MESH_MTU) throw new InvalidArgumentError(MESH_OPTIONS.mtu, `at most ${MESH_MTU} (what the sleeve carries)`);
  return {
    options: net.options,
    driverState: {
      bridgeName: IFNAMES.meshBridge.of(net.id),
      vxlanName: IFNAMES.meshVxlan.of(net.id),
      mtu: String(mtu),
      mac: bridgeMacOf(net.id),
    },
  };
}

/** The mesh network's IPv4 pool (validate made sure there is exactly one). */
export function meshPool(net: NetworkRecord): { subnet: string; gateway: string } {
  const p = net.ipam.config.find((x) => !x.subnet.includes(':'));
  if (!p) throw new InvalidArgumentError('subnet', `mesh network ${net.name} has no IPv4 subnet`);
  return p;
}
