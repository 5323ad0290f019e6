/**
 * How sandboxes print. A sandbox is weft's own object (Docker has no standalone one), so its
 * keys are weft's REST API's camelCase everywhere: inspect/run -d/attach JSON is the API's
 * sandbox view, and `sandbox ls` rows are { id, name, kind, pid, networks, addresses }.
 * Templates also find a key case-insensitively, so `{{.Name}}` works as Docker users type it.
 */
import type { SandboxView } from '../controller/inspect.js';
import type { View } from './output.js';

export interface SandboxRow {
  id: string;
  name: string;
  kind: string;
  pid: string;
  networks: string;
  addresses: string;
}

export const sandboxRow = (s: SandboxView): SandboxRow => ({
  id: s.id.slice(0, 12),
  name: s.name,
  kind: s.kind,
  pid: s.pid === undefined ? '' : String(s.pid),
  networks: s.endpoints.map((e) => e.networkName).join(','),
  addresses: s.endpoints.flatMap((e) => [e.ipv4, e.ipv6].filter(Boolean)).join(','),
});

const LABELS = { id: 'SANDBOX ID', ID: 'SANDBOX ID', Id: 'SANDBOX ID', pid: 'PID', netnsPath: 'NETNS' };

const COLUMNS: View<SandboxRow>['columns'] = [
  { header: 'SANDBOX ID', cell: (r) => r.id },
  { header: 'NAME', cell: (r) => r.name },
  { header: 'KIND', cell: (r) => r.kind },
  { header: 'PID', cell: (r) => r.pid },
  { header: 'NETWORKS', cell: (r) => r.networks },
  { header: 'ADDRESSES', cell: (r) => r.addresses },
];

export const sandboxListView: View<SandboxView> = {
  columns: COLUMNS.map((c) => ({ header: c.header, cell: (s) => c.cell(sandboxRow(s)) })),
  row: sandboxRow,
  strict: true,
  labels: LABELS,
  jsonList: 'lines',
};

export const sandboxInspectView: View<SandboxView> = {
  columns: sandboxListView.columns,
  labels: LABELS,
  jsonList: 'array',
};
