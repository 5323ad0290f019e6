/**
 * Incremental changes as nft scripts. They only add or delete set/map elements, so their cost
 * does not grow with the number of networks or published ports. Pure.
 */
import { type Element, elementCommands } from './nft-ruleset.js';

/** Add elements (adding an existing identical element is not an error in nft). */
export function addElementsScript(elements: readonly Element[]): string {
  return elementCommands('add', elements).join('\n') + '\n';
}

/**
 * Delete elements, tolerating ones already gone: each is first added (a no-op if present) and
 * then deleted, in the same transaction, because nft 1.0.6 has no `destroy element`.
 */
export function removeElementsScript(elements: readonly Element[]): string {
  return [...elementCommands('add', elements), ...elementCommands('delete', elements)].join('\n') + '\n';
}
