/**
 * Every interface-name scheme weft creates, in one place. A name that matches one of these is
 * weft's to delete when no record wants it (the orphan sweep, doctor); anything else on the
 * host is never touched. A scheme is 3 characters + 12 hex = 15 bytes, the kernel's limit.
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
