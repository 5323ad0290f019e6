/**
 * bird.conf for one host (or lab router) from a BGP model: validate, then render BIRD 2
 * configuration text. Same model, same text (so "did anything change" is a string compare).
 * Pure; checking the text with BIRD's own parser is the caller's (bird-binary.ts) job.
 */
import type { BgpModel, NormalizedBgpModel } from './model.js';
import { validateBgpModel } from './validate.js';
import { bgpSessions, type BgpSession } from './sessions.js';
import { addrsProtocol, blocksProtocol, filterNames, renderFilters } from './render-filters.js';
import { birdString } from './bird-syntax.js';

/** Names of the protocols every rendered config has (what weft looks for in `show protocols`). */
export const KERNEL_PROTOCOLS = ['weft_kernel4', 'weft_kernel6'] as const;
export const BGP_TEMPLATE = 'weft_peer';

function renderKernel(m: NormalizedBgpModel, fam: 4 | 6): string {
  const f = filterNames(fam);
  return `protocol kernel weft_kernel${fam} {
  ipv${fam} {
    import filter ${f.kernelLearn};
    export filter ${f.kernelExport};
  };
  kernel table ${m.kernel.table};
  metric ${m.kernel.metric};
  learn;
  scan time ${m.kernel.scanSeconds};
}
`;
}

function renderStatics(m: NormalizedBgpModel, fam: 4 | 6): string {
  const blocks = fam === 4 ? m.blocks4 : m.blocks6;
  const addrs = fam === 4 ? m.addrs4 : m.addrs6;
  const routes = (list: string[]): string => list.map((p) => `  route ${p} blackhole;\n`).join('');
  const c = (text: string): string => (fam === 4 ? text : '');
  return `${c(`# Local IPAM blocks: exported as one aggregate each; in the kernel the aggregate is a
# blackhole, so an address of the block no workload uses is dropped here, not sent back out.
`)}protocol static ${blocksProtocol(fam)} {
  ipv${fam};
${routes(blocks)}}

${c(`# Borrowed single addresses (and single-address blocks): exported over BGP only; the
# kernel route to the workload is the driver's, so these never reach the kernel.
`)}protocol static ${addrsProtocol(fam)} {
  ipv${fam};
${routes(addrs)}}
`;
}

function renderTemplate(m: NormalizedBgpModel): string {
  const t = m.timers;
  const gr =
    m.gracefulRestartSeconds === undefined
      ? '  graceful restart aware;\n'
      : `  graceful restart on;\n  graceful restart time ${m.gracefulRestartSeconds};\n`;
  return `template bgp ${BGP_TEMPLATE} {
  hold time ${t.holdSeconds};
  keepalive time ${t.keepaliveSeconds};
  connect delay time ${t.connectDelaySeconds};
  connect retry time ${t.connectRetrySeconds};
  error wait time 1, 30;
${gr}}
`;
}

function renderSession(m: NormalizedBgpModel, s: BgpSession): string {
  const f = filterNames(s.family);
  const lines = [
    `  description ${birdString(`${s.kind === 'host' ? 'host' : 'peer'} ${s.peerName}`)};`,
    `  local ${s.localAddress} as ${m.asNumber};`,
    `  neighbor ${s.neighborAddress}${s.port === undefined ? '' : ` port ${s.port}`} as ${s.neighborAs};`,
  ];
  if (s.multihop !== undefined) lines.push(`  multihop ${s.multihop};`);
  if (s.passive) lines.push('  passive on;');
  if (s.password !== undefined) lines.push(`  password ${birdString(s.password)};`);
  if (s.rrClient) lines.push('  rr client;', `  rr cluster id ${m.reflectorClusterId!};`);
  lines.push(
    `  ipv${s.family} {`,
    `    import filter ${f.bgpImport};`,
    `    export filter ${s.transit ? f.bgpTransit : f.bgpExport};`,
    '  };',
  );
  return `protocol bgp ${s.protocol} from ${BGP_TEMPLATE} {\n${lines.join('\n')}\n}\n`;
}

/** Render an already validated model. */
export function renderNormalized(m: NormalizedBgpModel): string {
  const sessions = bgpSessions(m);
  const iface = m.interfaces.map((p) => (p.startsWith('-') ? `-${birdString(p.slice(1))}` : birdString(p))).join(', ');
  const parts = [
    `# BIRD 2 configuration for ${m.role} ${m.hostName}, rendered by weft. Do not edit: weft rewrites it.
log stderr all;
router id ${m.routerId};

protocol device weft_device {
  scan time 10;
}

# Connected routes of the underlay, to resolve BGP next hops; filtered out of BGP and the kernel.
protocol direct weft_direct {
  ipv4;
  ipv6;
  interface ${iface};
}
`,
    renderFilters(m, 4),
    renderFilters(m, 6),
    '# Kernel routing table sync; BIRD writes its routes with protocol "bird" (12).\n' + renderKernel(m, 4),
    renderKernel(m, 6),
    renderStatics(m, 4),
    renderStatics(m, 6),
    renderTemplate(m),
    sessions.length === 0 ? '# No BGP peers.\n' : sessions.map((s) => renderSession(m, s)).join('\n'),
  ];
  return parts.join('\n');
}

/** Validate (InvalidArgumentError naming the field) and render bird.conf. */
export function renderBirdConfig(model: BgpModel): string {
  return renderNormalized(validateBgpModel(model));
}
