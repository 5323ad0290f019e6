/** The macvlan driver's `-o` options (Docker's names, plus weft's under `weft.macvlan.`). Pure. */
import { InvalidArgumentError } from '../../errors.js';
import { parseBool } from '../../config/validate.js';
import type { IpamPoolConfig } from '../../model/types.js';
import { reservedAddresses } from '../../ipam/allocator.js';
import { formatAddress } from '../../ipam/address.js';
import { cidrSize, hostRange, parseCidr } from '../../ipam/cidr.js';
import { parseParent, type ParentSpec } from '../underlay/parent-spec.js';

export const MACVLAN_OPTIONS = {
  parent: 'parent',
  mode: 'macvlan_mode',
  hostShim: 'weft.macvlan.host_shim',
  probe: 'weft.macvlan.probe',
  probeTimeout: 'weft.macvlan.probe_timeout_ms',
} as const;

const KNOWN = new Set<string>(Object.values(MACVLAN_OPTIONS));

export const MACVLAN_MODES = ['bridge', 'private', 'vepa', 'passthru'] as const;
export type MacvlanMode = (typeof MACVLAN_MODES)[number];

/** Aux-address name under which the host shim's address is reserved (give it to pin the address). */
export const SHIM_AUX_NAME = 'weft-host-shim';

export interface MacvlanOptions {
  parent?: ParentSpec;
  mode: MacvlanMode;
  hostShim: boolean;
  probe: boolean;
  probeTimeoutMs: number;
}

export function parseMacvlanOptions(options: Record<string, string>): MacvlanOptions {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k))
      throw new InvalidArgumentError(`opt ${k}`, `unknown option for the macvlan driver (known: ${[...KNOWN].join(', ')})`);
  }
  const mode = options[MACVLAN_OPTIONS.mode] ?? 'bridge';
  if (!(MACVLAN_MODES as readonly string[]).includes(mode))
    throw new InvalidArgumentError(MACVLAN_OPTIONS.mode, `unknown macvlan mode "${mode}" (known: ${MACVLAN_MODES.join(', ')})`);
  const parentText = options[MACVLAN_OPTIONS.parent];
  const o: MacvlanOptions = {
    mode: mode as MacvlanMode,
    hostShim:
      options[MACVLAN_OPTIONS.hostShim] === undefined ? false : parseBool(MACVLAN_OPTIONS.hostShim, options[MACVLAN_OPTIONS.hostShim]),
    probe: options[MACVLAN_OPTIONS.probe] === undefined ? false : parseBool(MACVLAN_OPTIONS.probe, options[MACVLAN_OPTIONS.probe]),
    probeTimeoutMs: 500,
  };
  if (parentText !== undefined && parentText !== '') o.parent = parseParent(MACVLAN_OPTIONS.parent, parentText, 'macvlan');
  const t = options[MACVLAN_OPTIONS.probeTimeout];
  if (t !== undefined) {
    if (!/^\d+$/.test(t) || Number(t) < 50 || Number(t) > 10_000)
      throw new InvalidArgumentError(MACVLAN_OPTIONS.probeTimeout, `expected milliseconds between 50 and 10000, got "${t}"`);
    o.probeTimeoutMs = Number(t);
  }
  // The shim is one more macvlan on the parent in bridge mode: a private child cannot talk to it,
  // and a passthru parent takes exactly one child (which the shim would be).
  if (o.hostShim && (o.mode === 'private' || o.mode === 'passthru'))
    throw new InvalidArgumentError(MACVLAN_OPTIONS.hostShim, `the host shim cannot reach children in ${o.mode} mode (use bridge or vepa)`);
  if (o.hostShim && !o.parent)
    throw new InvalidArgumentError(MACVLAN_OPTIONS.hostShim, 'a network without a parent has no LAN to shim; give -o parent=IFACE');
  return o;
}

/**
 * The pools with the host shim's address reserved as an aux address: the one named
 * `weft-host-shim` if the user gave it, else the highest free address of the allocation range
 * (so it stays out of the way of round-robin allocation from the bottom).
 */
export function reserveShimAddresses(pools: readonly IpamPoolConfig[]): IpamPoolConfig[] {
  return pools.map((p) => {
    if (p.auxAddresses[SHIM_AUX_NAME] !== undefined) return p;
    const subnet = parseCidr(p.subnet, 'subnet');
    const { first, last } = hostRange(subnet);
    let lo = first;
    let hi = last;
    if (p.ipRange !== undefined) {
      const r = parseCidr(p.ipRange, 'ip-range');
      if (r.network > lo) lo = r.network;
      if (r.network + cidrSize(r) - 1n < hi) hi = r.network + cidrSize(r) - 1n;
    }
    const reserved = reservedAddresses(p);
    for (let v = hi; v >= lo && hi - v < 1024n; v--) {
      const a = formatAddress({ family: subnet.family, value: v });
      if (!reserved.has(a)) return { ...p, auxAddresses: { ...p.auxAddresses, [SHIM_AUX_NAME]: a } };
    }
    throw new InvalidArgumentError(MACVLAN_OPTIONS.hostShim, `no free address left in ${p.ipRange ?? p.subnet} for the host shim`);
  });
}

/** Driver state (flat strings) for the options. */
export function macvlanStateOf(o: MacvlanOptions): Record<string, string> {
  const s: Record<string, string> = { mode: o.mode };
  if (o.hostShim) s.hostShim = 'true';
  if (o.probe) {
    s.probe = 'true';
    s.probeTimeoutMs = String(o.probeTimeoutMs);
  }
  return s;
}
