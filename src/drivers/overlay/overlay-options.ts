/**
 * The overlay driver's `-o` options (Docker's names), the VNI choice and the names of its
 * kernel objects. Pure.
 */
import { InvalidArgumentError, WeftError } from '../../errors.js';
import type { NetworkRecord } from '../../model/types.js';
import { parseBool, parseMtu } from '../../config/validate.js';
import { formatAddress, parseAddress } from '../../ipam/cidr.js';

export const OVERLAY_OPTIONS = {
  vni: 'com.docker.network.driver.overlay.vxlanid_list',
  mtu: 'com.docker.network.driver.mtu',
  encrypted: 'encrypted',
} as const;

const KNOWN = new Set<string>(Object.values(OVERLAY_OPTIONS));

/** VXLAN's UDP port (IANA), as Docker's overlay uses. */
export const VXLAN_PORT = 4789;
/** Bytes VXLAN adds over an IPv4 underlay (outer IP 20 + UDP 8 + VXLAN 8 + inner Ethernet 14). */
export const VXLAN_OVERHEAD_V4 = 50;
/** … over an IPv6 underlay (outer header 40 instead of 20). */
export const VXLAN_OVERHEAD_V6 = 70;
/** Automatic VNIs start here, as Docker's do; lower ones stay free for explicit choices. */
export const VNI_AUTO_FIRST = 4096;
export const VNI_MAX = 0xffffff;

/** Names inside a network's own namespace: the namespace isolates them, so they are fixed. */
export const OVERLAY_BRIDGE = 'br0';
export const OVERLAY_VXLAN = 'vxlan0';

export interface OverlayOptions {
  /** Given explicitly; undefined = allocate. */
  vni?: number;
  /** Given explicitly; undefined = underlay MTU minus the VXLAN overhead, per host. */
  mtu?: number;
  encrypted: boolean;
}

function parseVni(raw: string): number {
  // Docker takes one VNI per subnet as a comma list; weft's overlay networks have one VNI.
  const parts = raw.split(',').map((s) => s.trim());
  if (parts.length !== 1 || !/^\d+$/.test(parts[0]!))
    throw new InvalidArgumentError(OVERLAY_OPTIONS.vni, `expected one VNI (1-${VNI_MAX}), got "${raw}"`);
  const n = Number(parts[0]);
  if (n < 1 || n > VNI_MAX) throw new InvalidArgumentError(OVERLAY_OPTIONS.vni, `VNI ${n} is out of range 1-${VNI_MAX}`);
  return n;
}

/** Parse and check options (unknown keys are refused, naming the known ones). */
export function parseOverlayOptions(options: Record<string, string>, ipv6: boolean): OverlayOptions {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k))
      throw new InvalidArgumentError(`opt ${k}`, `unknown option for the overlay driver (known: ${[...KNOWN].join(', ')})`);
  }
  const out: OverlayOptions = { encrypted: false };
  const vni = options[OVERLAY_OPTIONS.vni];
  if (vni !== undefined) out.vni = parseVni(vni);
  const mtu = options[OVERLAY_OPTIONS.mtu];
  if (mtu !== undefined) out.mtu = parseMtu(OVERLAY_OPTIONS.mtu, mtu, ipv6);
  const enc = options[OVERLAY_OPTIONS.encrypted];
  // Docker's `-o encrypted` arrives with an empty value.
  if (enc !== undefined) out.encrypted = enc === '' ? true : parseBool(OVERLAY_OPTIONS.encrypted, enc);
  return out;
}

/** The VNIs other overlay networks hold. */
export function vnisInUse(others: readonly NetworkRecord[], self: string): Set<number> {
  return new Set(others.filter((n) => n.id !== self && n.driver === 'overlay' && n.driverState.vni).map((n) => Number(n.driverState.vni)));
}

/** Where VNIs are claimed in the cluster store (design-multihost.md: /weft/v1/vni/<n>). */
export const VNI_CLAIM_PREFIX = 'vni/';
export const vniClaimKey = (vni: number): string => `${VNI_CLAIM_PREFIX}${vni}`;

/** The VNIs claim keys name (other keys are ignored). */
export function claimedVnis(keys: Iterable<string>): number[] {
  const out: number[] = [];
  for (const k of keys) {
    const m = /^vni\/(\d+)$/.exec(k);
    if (m) out.push(Number(m[1]));
  }
  return out;
}

/** The given VNI if free, else the lowest free one from VNI_AUTO_FIRST. */
export function chooseVni(wanted: number | undefined, used: ReadonlySet<number>): number {
  if (wanted !== undefined) {
    if (used.has(wanted)) throw new InvalidArgumentError(OVERLAY_OPTIONS.vni, `VNI ${wanted} is already used by another overlay network`);
    return wanted;
  }
  for (let v = VNI_AUTO_FIRST; v <= VNI_MAX; v++) if (!used.has(v)) return v;
  throw new InvalidArgumentError(OVERLAY_OPTIONS.vni, 'no free VNI left');
}

/** The MTU a host uses for a network: the given one, or the underlay's minus the VXLAN overhead. */
export function overlayMtu(given: number | undefined, underlayMtu: number, underlayIpv6: boolean): number {
  const max = underlayMtu - (underlayIpv6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
  if (given === undefined) return max;
  if (given > max)
    throw new InvalidArgumentError(
      OVERLAY_OPTIONS.mtu,
      `MTU ${given} is larger than the underlay allows (${underlayMtu} - ${underlayIpv6 ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4} = ${max})`,
    );
  return given;
}

/** Driver state stored with the network record (flat strings). */
export function overlayStateOf(o: OverlayOptions, vni: number): Record<string, string> {
  const s: Record<string, string> = { vni: String(vni), encrypted: String(o.encrypted) };
  if (o.mtu !== undefined) s.mtu = String(o.mtu);
  return s;
}

export function vniOf(net: NetworkRecord): number {
  const v = Number(net.driverState.vni);
  if (!Number.isInteger(v) || v < 1 || v > VNI_MAX)
    throw new WeftError('WEFT_INTERNAL', `overlay network ${net.name} has no VNI in its driver state`);
  return v;
}

export const givenMtuOf = (net: NetworkRecord): number | undefined => (net.driverState.mtu ? Number(net.driverState.mtu) : undefined);
export const isEncrypted = (net: NetworkRecord): boolean => net.driverState.encrypted === 'true';

/**
 * Path of a network's own namespace on this host: under the daemon's run directory (so it goes
 * with the host, and `ip netns` does not list it as the machine's), else in /run/netns, which
 * every namespace on the machine shares — hence the host id in that name.
 */
export function overlayNetnsPath(hostId: string, networkId: string, runDir?: string): string {
  const net = networkId.slice(0, 12);
  return runDir === undefined ? `/run/netns/weft-ovl-${hostId}-${net}` : `${runDir}/overlay-netns/${net}`;
}

/** Locally administered unicast MAC from a record id, 06:xx:…: what a sandbox's gateway leg carries. */
export function macOfId(id: string): string {
  return ['06', ...(id.slice(0, 10).match(/../g) ?? [])].join(':');
}

/** Bytes WireGuard adds over an IPv4 underlay (IP 20 + UDP 8 + WireGuard 32): encrypted networks lose this too. */
export const WG_OVERHEAD_V4 = 60;
const TUNNEL_PREFIX = 0xfd77_6566_7400_0000_0000_0000_0000_0000n;
export const TUNNEL_PREFIX_LEN = 96;

/** A host's address inside the encrypted underlay, derived from its IPv4 underlay address (1:1). */
export function tunnelAddressOf(underlay: string): string {
  const a = parseAddress(underlay, 'address');
  if (a.family !== 4)
    throw new InvalidArgumentError('encrypted', `encrypted overlay networks need an IPv4 underlay (host address ${underlay})`);
  return formatAddress({ family: 6, value: TUNNEL_PREFIX | a.value });
}

/** The VTEP address of a host on a network: its underlay address, or its tunnel address when encrypted. */
export const vtepOf = (net: NetworkRecord, hostAddress: string): string => (isEncrypted(net) ? tunnelAddressOf(hostAddress) : hostAddress);
