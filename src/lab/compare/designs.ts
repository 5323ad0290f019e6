/**
 * The designs `weft lab compare` knows: one line each. A design whose driver has not landed
 * yet is listed in PLANNED so the command can say so instead of "unknown".
 */
import type { DesignAdapter } from './design-adapter.js';
import { bridgeLocal } from './adapters/bridge-local.js';
import { vethBaseline } from './adapters/veth-baseline.js';

export const DESIGNS: DesignAdapter[] = [
  vethBaseline,
  bridgeLocal,
  // overlay, overlay:encrypted, hostsubnet:vxlan|host-gw|udp, routed-bgp, mesh, mesh:encrypted, macvlan: one line each as they land
];

/** Designs of issue 18 whose adapters come with their drivers. */
export const PLANNED = [
  'overlay',
  'overlay:encrypted',
  'hostsubnet:vxlan',
  'hostsubnet:host-gw',
  'hostsubnet:udp',
  'routed-bgp',
  'mesh',
  'mesh:encrypted',
  'macvlan',
];

export const DEFAULT_DESIGNS = (): string[] => DESIGNS.map((d) => d.name);

export function designByName(name: string): DesignAdapter | undefined {
  return DESIGNS.find((d) => d.name === name);
}
