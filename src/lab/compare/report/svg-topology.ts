/**
 * The lab as a picture: the underlay switch and its subnet, the store, the hosts with their
 * underlay addresses, and inside each host the endpoints every design put there (colour per
 * design). Laid out on a grid with d3-scale's band scale; pure.
 */
import { scaleBand } from 'd3-scale';
import type { CompareReport } from '../compare-types.js';
import { colourOf, esc } from './svg-text.js';

export function topologySvg(r: CompareReport): string {
  const W = 760;
  const nodes = [
    ...r.lab.store.map((s) => ({ ...s, kind: 'store' as const })),
    ...r.lab.hosts.map((h) => ({ ...h, kind: 'host' as const })),
  ];
  const eps = (host: string) =>
    r.designs.flatMap((d, i) => d.endpoints.filter((e) => e.host === host).map((e) => ({ design: d.design, colour: colourOf(i), ...e })));
  const rows = Math.max(1, ...r.lab.hosts.map((h) => eps(h.name).length));
  const boxH = 46 + rows * 16;
  const H = 120 + boxH + 70;
  const x = scaleBand<string>()
    .domain(nodes.map((n) => n.name))
    .range([20, W - 20])
    .paddingInner(0.08);
  const swY = 50;
  const boxY = 110;
  const parts: string[] = [
    `<rect class="underlay" x="20" y="${swY}" width="${W - 40}" height="26" rx="4" fill="#eef2f7" stroke="#4e79a7"/>`,
    `<text x="30" y="${swY + 17}">underlay switch (${esc(r.lab.underlay)}) ${esc(r.lab.subnets.join(', '))}</text>`,
  ];
  for (const n of nodes) {
    const x0 = x(n.name)!;
    const bw = x.bandwidth();
    const cx = x0 + bw / 2;
    parts.push(`<line x1="${cx}" x2="${cx}" y1="${swY + 26}" y2="${boxY}" stroke="#888"/>`);
    parts.push(
      `<g class="node" data-node="${esc(n.name)}" data-kind="${n.kind}"><rect x="${x0}" y="${boxY}" width="${bw}" height="${n.kind === 'host' ? boxH : 46}" rx="6" fill="${n.kind === 'host' ? '#fff' : '#f6f6f6'}" stroke="#333"/>` +
        `<text x="${x0 + 8}" y="${boxY + 18}" font-weight="bold">${esc(n.name)}${n.kind === 'store' ? ' (etcd)' : ''}</text>` +
        `<text x="${x0 + 8}" y="${boxY + 34}" font-size="11">eth0 ${esc(n.address)}</text>`,
    );
    if (n.kind === 'host')
      eps(n.name).forEach((e, i) => {
        const y = boxY + 52 + i * 16;
        parts.push(
          `<g class="endpoint" data-design="${esc(e.design)}" data-endpoint="${esc(e.id)}"><circle cx="${x0 + 14}" cy="${y - 4}" r="5" fill="${e.colour}"/>` +
            `<text x="${x0 + 24}" y="${y}" font-size="10">${esc(`${e.id} ${e.address}`)}</text><title>${esc(`${e.design} ${e.id} ${e.address}`)}</title></g>`,
        );
      });
    parts.push('</g>');
  }
  // Which colour is which design.
  r.designs.forEach((d, i) =>
    parts.push(
      `<g class="legend" transform="translate(${20 + i * 150},${H - 30})"><circle cx="5" cy="5" r="5" fill="${colourOf(i)}"/><text x="14" y="9">${esc(d.design)}</text></g>`,
    ),
  );
  const title = `Lab ${r.lab.name}: ${r.lab.hosts.length} hosts on one underlay, ${r.lab.store.length ? 'etcd store' : 'no store'}`;
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-plot="topology" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(title)}" font-family="sans-serif" font-size="12">` +
    `<title>${esc(title)}</title><rect width="${W}" height="${H}" fill="#fff"/><text x="20" y="24" font-size="14" font-weight="bold">${esc(title)}</text>${parts.join('')}</svg>\n`
  );
}
