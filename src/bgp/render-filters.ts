/**
 * The filters of a rendered bird.conf, per address family. Together they say:
 * - from peers, accept only prefixes inside weft's pools, never a default route;
 * - to peers, announce what this host originates (block aggregates, borrowed addresses) and,
 *   on reflectors and routers only, pool routes learned from other peers;
 * - into the kernel, write the blackholes of local blocks and the BGP routes in the pools —
 *   including a /32 another host announces from inside one of this host's blocks, which
 *   then beats the block's blackhole by prefix length (Calico #3246);
 * - from the kernel, learn only non-pool routes (the underlay), so BGP next hops resolve
 *   through them; they are never announced, and workload routes stay the driver's business.
 * Pure.
 */
import type { NormalizedBgpModel } from './model.js';
import { birdString, prefixSetOrMore } from './bird-syntax.js';

/** Static protocols whose routes this host originates (see render.ts). */
export const blocksProtocol = (fam: 4 | 6): string => `weft_blocks${fam}`;
export const addrsProtocol = (fam: 4 | 6): string => `weft_addrs${fam}`;

/** Filter names, for the protocols that use them. */
export const filterNames = (fam: 4 | 6) => ({
  kernelLearn: `weft_kernel_learn${fam}`,
  kernelExport: `weft_kernel_export${fam}`,
  bgpImport: `weft_bgp_import${fam}`,
  bgpExport: `weft_bgp_export${fam}`,
  bgpTransit: `weft_bgp_transit${fam}`,
});

/** BIRD condition "net is inside one of weft's pools" (false when the family has none). */
function inPools(pools: readonly string[]): string {
  return pools.length === 0 ? 'false' : `net ~ ${prefixSetOrMore(pools)}`;
}

/** The filter block of one family. */
export function renderFilters(m: NormalizedBgpModel, fam: 4 | 6): string {
  const pools = inPools(fam === 4 ? m.pools4 : m.pools6);
  const f = filterNames(fam);
  const blocks = birdString(blocksProtocol(fam));
  const addrs = birdString(addrsProtocol(fam));
  const local = `proto = ${blocks} || proto = ${addrs}`;
  // The comments explain the IPv4 filters once; the IPv6 ones mirror them.
  const c = (text: string): string => (fam === 4 ? text : '');
  return `# ---- IPv${fam} filters ----
${c(`# Kernel routes BIRD may learn: the underlay only, to resolve BGP next hops. Routes inside the
# pools (workload routes of the driver) are not BIRD's to learn.
`)}filter ${f.kernelLearn} {
  if ${pools} then reject;
  accept;
}

${c(`# Routes BIRD writes to the kernel: blackholes for the unused part of local blocks, and routes
# learned over BGP inside the pools (a peer's /32 inside a local block wins over the blackhole).
`)}filter ${f.kernelExport} {
  if net.len = 0 then reject;
  if proto = ${blocks} then accept;
  if source = RTS_BGP && ${pools} then accept;
  reject;
}

${c('# From BGP peers: pool prefixes only, never a default route.\n')}filter ${f.bgpImport} {
  if net.len = 0 then reject;
  if ${pools} then accept;
  reject;
}

${c(`# To BGP peers: only what this host originates — one aggregate per block, single borrowed
# addresses — never the per-workload routes beneath a block.
`)}filter ${f.bgpExport} {
  if net.len = 0 then reject;
  if ${local} then accept;
  reject;
}

${c('# To BGP peers from a route reflector or a router: also pass on pool routes learned over BGP.\n')}filter ${f.bgpTransit} {
  if net.len = 0 then reject;
  if ${local} then accept;
  if source = RTS_BGP && ${pools} then accept;
  reject;
}
`;
}
