/** `weft bgp peers|routes`: this host's BGP sessions and routes, read from its BIRD through weftd. */
import type { Command } from 'commander';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, printList, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';
import type { BgpPeerStatus } from '../bgp/bgp-speaker.js';

interface Route {
  table: string;
  net: string;
  kind: string;
  protocol: string;
  since: string;
  primary: boolean;
  from?: string;
  nextHops: { via?: string; dev?: string }[];
}

const peerView: View<BgpPeerStatus> = {
  columns: [
    { header: 'PEER', cell: (p) => p.peer },
    { header: 'ADDRESS', cell: (p) => p.neighborAddress },
    { header: 'AS', cell: (p) => String(p.neighborAs) },
    { header: 'KIND', cell: (p) => p.kind },
    { header: 'STATE', cell: (p) => p.state },
    { header: 'SINCE', cell: (p) => p.since },
    { header: 'ROUTES IN/OUT', cell: (p) => `${p.routesImported ?? '-'}/${p.routesExported ?? '-'}` },
    { header: 'INFO', cell: (p) => p.lastError ?? '' },
  ],
  jsonList: 'lines',
};

const routeView: View<Route> = {
  columns: [
    { header: 'PREFIX', cell: (r) => r.net },
    { header: 'KIND', cell: (r) => r.kind },
    { header: 'VIA', cell: (r) => r.nextHops.map((h) => [h.via, h.dev].filter(Boolean).join(' dev ')).join(', ') },
    { header: 'PROTOCOL', cell: (r) => r.protocol },
    { header: 'BEST', cell: (r) => (r.primary ? '*' : '') },
    { header: 'TABLE', cell: (r) => r.table },
    { header: 'SINCE', cell: (r) => r.since },
  ],
  jsonList: 'lines',
};

export function register(program: Command, cli: CliContext): void {
  const bgp = program.command('bgp').description("this host's BGP speaker (weftd --bgp)");
  bgp
    .command('peers')
    .description('BGP sessions: peer, address, AS, state, routes imported/exported')
    .option(...FORMAT_OPTION)
    .action(async (o: { format?: string }) => {
      printList(await cli.client().request<BgpPeerStatus[]>('GET', '/v1/bgp/peers'), parseFormat(o.format), peerView);
    });
  bgp
    .command('routes')
    .description("routes in BIRD's tables: this host's blocks and what peers announce")
    .option('--protocol <name>', 'only routes from this BIRD protocol')
    .option(...FORMAT_OPTION)
    .action(async (o: { protocol?: string; format?: string }) => {
      const q = o.protocol ? `?protocol=${encodeURIComponent(o.protocol)}` : '';
      printList(await cli.client().request<Route[]>('GET', `/v1/bgp/routes${q}`), parseFormat(o.format), routeView);
    });
}
