/** `weft mesh status|peers|connect|forget`: the store-less mesh as this host's weftd sees it (weftd --mesh). */
import type { Command } from 'commander';
import type { MeshStatus } from '../mesh/router/status.js';
import type { CliContext } from './cli-context.js';
import { FORMAT_OPTION, printList, printOne, write, type View } from './output.js';
import { parseFormat } from './format/format-spec.js';

type PeerRow = MeshStatus['members'][number] & { link: string; route: string; encrypted: string };

/** One row per member: its SWIM state, our link to it, and how traffic to it goes (direct / via a relay). */
export function peerRows(s: MeshStatus): PeerRow[] {
  return s.members
    .filter((m) => m.name !== s.name)
    .map((m) => {
      const c = s.connections.find((x) => x.peer === m.name);
      const r = s.routes.find((x) => x.dest === m.name);
      return {
        ...m,
        link: c ? (c.established ? 'established' : 'connecting') : '-',
        route: r ? (r.hops === 1 ? 'direct' : `via ${r.via}`) : 'unreachable',
        encrypted: c ? String(c.encrypted) : '-',
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

const peerView: View<PeerRow> = {
  columns: [
    { header: 'NAME', cell: (p) => p.name },
    { header: 'ADDRESS', cell: (p) => p.addr },
    { header: 'STATE', cell: (p) => p.state },
    { header: 'LINK', cell: (p) => p.link },
    { header: 'ROUTE', cell: (p) => p.route },
    { header: 'ENCRYPTED', cell: (p) => p.encrypted },
  ],
  jsonList: 'lines',
};

const statusView: View<MeshStatus> = { columns: [{ header: 'NAME', cell: (s) => s.name }], jsonList: 'array' };

function plainStatus(s: MeshStatus): string {
  const alive = s.members.filter((m) => m.state === 'alive').length;
  const lines = [
    `Name:        ${s.name} (${s.uid})`,
    `Address:     ${s.address}`,
    `Encryption:  ${s.encrypted ? 'on (ChaCha20-Poly1305)' : 'off (no password)'}`,
    `Peers:       ${s.members.length} known, ${alive} alive; ${s.connections.filter((c) => c.established).length} links established`,
    `Sleeve:      ${s.sleeve ? `${s.sleeve.device} ${s.sleeve.address}` : 'not up'}`,
    `Range:       ${s.ring.universe}, owned here ${s.ring.owned.join(' ') || '(none)'}, ${s.ring.free} free`,
    `Names:       ${s.names}`,
  ];
  if (s.ring.conflicts.length > 0) lines.push(`Conflicts:   ${s.ring.conflicts.join('; ')}`);
  if (s.refusals.length > 0) lines.push(`Refused:     ${s.refusals.map((r) => `${r.addr} (${r.reason})`).join('; ')}`);
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, cli: CliContext): void {
  const mesh = program.command('mesh').description('the store-less mesh (needs weftd --mesh)');
  const status = (): Promise<MeshStatus> => cli.client().request<MeshStatus>('GET', '/v1/mesh');
  mesh
    .command('status')
    .description('this peer: name, encryption, links, address range, names')
    .option(...FORMAT_OPTION)
    .action(async (o: { format?: string }) => printOne(await status(), o.format, statusView, plainStatus));
  mesh
    .command('peers')
    .description('the peers this one knows: state, link, route (direct or via a relay)')
    .option(...FORMAT_OPTION)
    .action(async (o: { format?: string }) => printList(peerRows(await status()), parseFormat(o.format), peerView));
  mesh
    .command('connect')
    .description('connect to another peer (IP or IP:PORT)')
    .argument('<address>')
    .action(async (address: string) => {
      const r = await cli.client().request<{ connecting: string }>('POST', '/v1/mesh/connect', { address });
      write(`connecting to ${r.connecting}\n`);
    });
  mesh
    .command('forget')
    .description('remove a dead peer for good: its address space becomes this peer’s, its names vanish (run on one peer only)')
    .argument('<peer>')
    .action(async (peer: string) => {
      const r = await cli.client().request<{ peer: string; addresses: number }>('POST', '/v1/mesh/forget', { peer });
      write(`forgot ${r.peer}: took over ${r.addresses} addresses\n`);
    });
}
