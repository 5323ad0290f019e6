/**
 * The hostsubnet driver's `-o` options, Flannel's net-conf fields under weft's option names:
 * `backend` (vxlan | host-gw | udp), `subnet-len`, `subnet-min`, `subnet-max`, `vni`, `port`,
 * `direct-routing`, `mtu`. The network's `--subnet` is Flannel's `Network`. Pure.
 */
import { createHash } from 'node:crypto';
import { InvalidArgumentError } from '../../errors.js';
import type { NetworkRecord } from '../../model/types.js';
import { parseBool } from '../../config/validate.js';
import { resolveSubnetConfig, type SubnetConfig } from '../../ipam/subnet-leases.js';
import { IFNAMES } from '../ifnames.js';

const KNOWN = ['backend', 'subnet-len', 'subnet-min', 'subnet-max', 'vni', 'port', 'direct-routing', 'mtu'] as const;

/** Bytes each backend adds to a packet on the underlay (outer IPv4 + UDP [+ VXLAN + inner Ethernet]). */
export const ENCAP_OVERHEAD = { vxlan: 50, 'host-gw': 0, udp: 28 } as const;

function intOption(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d{1,8}$/.test(v)) throw new InvalidArgumentError(`opt ${name}`, `"${v}" is not a number`);
  return Number(v);
}

/** The network's cluster-wide configuration from its record (validates every option). */
export function subnetConfigOf(net: NetworkRecord): SubnetConfig {
  for (const k of Object.keys(net.options)) {
    if (!(KNOWN as readonly string[]).includes(k))
      throw new InvalidArgumentError(`opt ${k}`, `unknown option for the hostsubnet driver (known: ${KNOWN.join(', ')})`);
  }
  const v4 = net.ipam.config.filter((p) => !p.subnet.includes(':'));
  if (v4.length !== 1 || net.ipam.config.length !== 1 || net.enableIPv6) {
    throw new InvalidArgumentError(
      'subnet',
      'a hostsubnet network has exactly one IPv4 --subnet (the cluster network, e.g. 10.244.0.0/16)',
    );
  }
  const o = net.options;
  const dr = o['direct-routing'];
  const subnetLen = intOption('subnet-len', o['subnet-len']);
  const vni = intOption('vni', o.vni);
  const port = intOption('port', o.port);
  return resolveSubnetConfig({
    network: v4[0]!.subnet,
    ...(subnetLen === undefined ? {} : { subnetLen }),
    ...(o['subnet-min'] === undefined ? {} : { subnetMin: o['subnet-min'] }),
    ...(o['subnet-max'] === undefined ? {} : { subnetMax: o['subnet-max'] }),
    backend: {
      type: o.backend ?? 'vxlan',
      ...(vni === undefined ? {} : { vni }),
      ...(port === undefined ? {} : { port }),
      ...(dr === undefined ? {} : { directRouting: parseBool('direct-routing', dr) }),
    },
  });
}

/** Names of the network's devices on every host: the local bridge and the backend's device. */
export function deviceNamesOf(netId: string): { bridge: string; vxlan: string; tun: string } {
  return { bridge: IFNAMES.hostsubnetBridge.of(netId), vxlan: IFNAMES.hostsubnetVtep.of(netId), tun: IFNAMES.hostsubnetTun.of(netId) };
}

/**
 * The VTEP MAC of a host on a network, derived from both ids: stable across restarts, so peers'
 * FDB and neighbour entries stay right when a host comes back (flannel-io/flannel#1795).
 */
export function vtepMacOf(hostId: string, netName: string): string {
  const h = createHash('sha256').update(`hostsubnet\0${netName}\0${hostId}`).digest();
  h[0] = (h[0]! & 0xfe) | 0x02; // unicast, locally administered
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The bridge's MAC, from the network and host: a fixed gateway MAC for the sandboxes' ARP caches. */
export function bridgeMacOf(hostId: string, netName: string): string {
  return vtepMacOf(`${hostId}\0bridge`, netName);
}

/** Driver state kept with the record: the resolved configuration and the interface names. */
export function hostsubnetStateOf(net: NetworkRecord): Record<string, string> {
  const cfg = subnetConfigOf(net);
  const mtu = intOption('mtu', net.options.mtu);
  if (mtu !== undefined && (mtu < 576 || mtu > 65535)) throw new InvalidArgumentError('opt mtu', `${mtu} is not a usable MTU (576–65535)`);
  const names = deviceNamesOf(net.id);
  // Flannel derives the MTU from the underlay's; without the kernel here, assume a 1500-byte
  // underlay (networkUp checks the real one and refuses a packet size that would not fit).
  return { config: JSON.stringify(cfg), bridgeName: names.bridge, mtu: String(mtu ?? 1500 - ENCAP_OVERHEAD[cfg.backend.type]) };
}

export function configOfState(net: NetworkRecord): SubnetConfig {
  const raw = net.driverState.config;
  if (raw === undefined) return subnetConfigOf(net);
  return JSON.parse(raw) as SubnetConfig;
}
