/** The ipvlan driver's `-o` options, Docker's names. Pure. */
import { InvalidArgumentError } from '../../errors.js';
import { parseParent, type ParentSpec } from '../underlay/parent-spec.js';

export const IPVLAN_OPTIONS = { parent: 'parent', mode: 'ipvlan_mode', flag: 'ipvlan_flag' } as const;
const KNOWN = new Set<string>(Object.values(IPVLAN_OPTIONS));

export const IPVLAN_MODES = ['l2', 'l3', 'l3s'] as const;
export const IPVLAN_FLAGS = ['bridge', 'private', 'vepa'] as const;
export type IpvlanMode = (typeof IPVLAN_MODES)[number];
export type IpvlanFlag = (typeof IPVLAN_FLAGS)[number];

export interface IpvlanOptions {
  parent?: ParentSpec;
  mode: IpvlanMode;
  flag: IpvlanFlag;
}

export function parseIpvlanOptions(options: Record<string, string>): IpvlanOptions {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw new InvalidArgumentError(`opt ${k}`, `unknown option for the ipvlan driver (known: ${[...KNOWN].join(', ')})`);
  }
  const mode = options[IPVLAN_OPTIONS.mode] ?? 'l2';
  if (!(IPVLAN_MODES as readonly string[]).includes(mode))
    throw new InvalidArgumentError(IPVLAN_OPTIONS.mode, `unknown ipvlan mode "${mode}" (known: ${IPVLAN_MODES.join(', ')})`);
  const flag = options[IPVLAN_OPTIONS.flag] ?? 'bridge';
  if (!(IPVLAN_FLAGS as readonly string[]).includes(flag))
    throw new InvalidArgumentError(IPVLAN_OPTIONS.flag, `unknown ipvlan flag "${flag}" (known: ${IPVLAN_FLAGS.join(', ')})`);
  const o: IpvlanOptions = { mode: mode as IpvlanMode, flag: flag as IpvlanFlag };
  const p = options[IPVLAN_OPTIONS.parent];
  if (p !== undefined && p !== '') o.parent = parseParent(IPVLAN_OPTIONS.parent, p, 'ipvlan');
  return o;
}
