/**
 * The designs `weft lab compare` knows: one line each. A design whose driver has not landed
 * yet is listed in PLANNED so the command can say so instead of "unknown".
 */
import type { DesignAdapter } from './design-adapter.js';
import { bridgeLocal } from './adapters/bridge-local.js';
import { vethBaseline } from './adapters/veth-baseline.js';
import { WEFT_DESIGNS } from './adapters/weft-designs.js';

export const DESIGNS: DesignAdapter[] = [
  vethBaseline,
  bridgeLocal,
  // Ordered so that weftd is restarted as few times as possible: store designs, then BGP, then mesh.
  ...WEFT_DESIGNS,
];

/** Designs of issue 18 whose adapters come with their drivers. */
export const PLANNED: string[] = [];

export const DEFAULT_DESIGNS = (): string[] => DESIGNS.map((d) => d.name);

export function designByName(name: string): DesignAdapter | undefined {
  return DESIGNS.find((d) => d.name === name);
}
