/**
 * Every interface-name scheme weft creates, in one place. A name says what weft would call a
 * link, not that weft made it: only links carrying weft's ownership mark (link-ownership.ts)
 * are ever modified or swept as leftovers, whatever their name. A scheme is 3 characters +
 * 12 hex = 15 bytes, the kernel's limit.
 * New drivers add their scheme here (and list it in their `ownedNames`), so two drivers can
 * never claim one name and the sweep knows every name weft may leave behind.
 */

export interface IfnameScheme {
  /** Stable id, used in doctor's messages and the driver's `ownedNames`. */
  readonly id: string;
  readonly prefix: string;
  /** What carries the name: which object, which end. */
  readonly what: string;
  /** The whole name, capturing the 12 hex characters of the owning record's id. */
  readonly pattern: RegExp;
  /** The name for a record id (its first 12 characters). */
  of(id: string): string;
}

function scheme(id: string, prefix: string, what: string): IfnameScheme {
  const escaped = prefix.replace(/[-]/g, '\\-');
  return { id, prefix, what, pattern: new RegExp(`^${escaped}([0-9a-f]{12})$`), of: (recordId) => `${prefix}${recordId.slice(0, 12)}` };
}

export const IFNAMES = {
  /** A bridge network's default bridge name (`com.docker.network.bridge.name` overrides it). */
  bridge: scheme('bridge', 'wf-', 'bridge of a network (network id)'),
  /** Host end of a bridge endpoint's veth, on the bridge (endpoint id). */
  hostVeth: scheme('host-veth', 'wfv', 'host end of an endpoint veth (endpoint id)'),
  /** Host end of a veth whose other end a container runtime moves into place (Docker endpoint id). */
  runtimeHostVeth: scheme('runtime-host-veth', 'wfd', 'host end of a runtime-placed veth (runtime endpoint id)'),
  /** The other end, in the host namespace until the runtime moves and renames it (Docker endpoint id). */
  runtimePeer: scheme('runtime-peer', 'wfc', 'sandbox end of a runtime-placed veth before the runtime moves it'),
  /** Parent weft makes for a macvlan network given no `-o parent` (network id); Docker makes a dummy instead. */
  macvlanParent: scheme('macvlan-parent', 'wfm', 'private parent of a macvlan network without a parent (network id)'),
  /** The same for an ipvlan network (network id). */
  ipvlanParent: scheme('ipvlan-parent', 'wfi', 'private parent of an ipvlan network without a parent (network id)'),
  /** macvlan in the host namespace through which the host reaches the network's children (network id). */
  macvlanShim: scheme('macvlan-shim', 'wfs', 'host shim of a macvlan network (network id)'),
  /** Short-lived macvlan that sends ARP probes before an address is handed out (random id). */
  lanProbe: scheme('lan-probe', 'wfp', 'macvlan sending ARP probes of the LAN, deleted right after'),
  /** macvlan child waiting in the host namespace for a container runtime to move it (runtime endpoint id). */
  macvlanRuntimeChild: scheme('macvlan-runtime-child', 'wfr', 'macvlan child of a runtime-placed endpoint before the runtime moves it'),
  /** Overlay objects in the host namespace: a sandbox's gateway-bridge leg (endpoint id), the host's WireGuard device (host id hash). */
  overlay: scheme('overlay', 'wfo', "overlay: host end of a sandbox's gateway-bridge leg (endpoint id), or the host's WireGuard device"),
  /** hostsubnet: the local bridge (cni0-like), the VXLAN VTEP and the udp backend's TUN of a network (network id). */
  hostsubnetBridge: scheme('hostsubnet-bridge', 'whb', 'hostsubnet bridge of a network (network id)'),
  hostsubnetVtep: scheme('hostsubnet-vtep', 'whv', 'hostsubnet VXLAN device of a network (network id)'),
  hostsubnetTun: scheme('hostsubnet-tun', 'wht', 'hostsubnet udp-backend TUN of a network (network id)'),
  /** Host end of a routed endpoint's veth: no bridge, a /32 route to the workload (endpoint id). */
  routedVeth: scheme('routed-veth', 'wrv', 'host end of a routed endpoint veth (endpoint id)'),
  /** A mesh network's local bridge, routed into the mesh router (network id). */
  meshBridge: scheme('mesh-bridge', 'wm-', 'bridge of a mesh network (network id)'),
  /** A mesh network's fast-path VXLAN device (network id). */
  meshVxlan: scheme('mesh-vxlan', 'wmx', 'fast-path VXLAN device of a mesh network (network id)'),
} as const satisfies Record<string, IfnameScheme>;

export const ALL_SCHEMES: readonly IfnameScheme[] = Object.values(IFNAMES);

/** The scheme a name belongs to, if weft could have made it. */
export function schemeOf(name: string): IfnameScheme | undefined {
  return ALL_SCHEMES.find((s) => s.pattern.test(name));
}
