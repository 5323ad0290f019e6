/**
 * How networks print. Networks are Docker's object, so every network output uses Docker's
 * PascalCase keys: inspect/create JSON is the `docker network inspect` shape, and `ls` rows are
 * the fields of `docker network ls --format` (ID, Name, Driver, Scope, IPv6, Internal, Labels,
 * CreatedAt) plus weft's Subnets.
 */
import type { NetworkInspect } from '../controller/inspect.js';
import type { View } from './output.js';

export interface NetworkRow {
  ID: string;
  Name: string;
  Driver: string;
  Scope: string;
  IPv6: string;
  Internal: string;
  Labels: string;
  CreatedAt: string;
  Subnets: string;
}

export const networkRow = (n: NetworkInspect): NetworkRow => ({
  ID: n.Id.slice(0, 12),
  Name: n.Name,
  Driver: n.Driver,
  Scope: n.Scope,
  IPv6: String(n.EnableIPv6),
  Internal: String(n.Internal),
  Labels: Object.entries(n.Labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(','),
  CreatedAt: n.Created,
  Subnets: n.IPAM.Config.map((c) => c.Subnet).join(','),
});

const LABELS = {
  ID: 'NETWORK ID',
  Id: 'NETWORK ID',
  IPv6: 'IPV6',
  EnableIPv6: 'IPV6',
  Created: 'CREATED',
  CreatedAt: 'CREATED AT',
};

const COLUMNS: View<NetworkRow>['columns'] = [
  { header: 'NETWORK ID', cell: (r) => r.ID },
  { header: 'NAME', cell: (r) => r.Name },
  { header: 'DRIVER', cell: (r) => r.Driver },
  { header: 'SCOPE', cell: (r) => r.Scope },
  { header: 'SUBNETS', cell: (r) => r.Subnets },
];

/** `network ls`: rows, strict (a misspelt field is an error), JSON one object per line. */
export const networkListView: View<NetworkInspect> = {
  columns: COLUMNS.map((c) => ({ header: c.header, cell: (n) => c.cell(networkRow(n)) })),
  row: networkRow,
  strict: true,
  labels: LABELS,
  jsonList: 'lines',
};

/** `network inspect` / `create`: the whole inspect object; table shows the ls columns. */
export const networkInspectView: View<NetworkInspect> = {
  columns: networkListView.columns,
  labels: LABELS,
  jsonList: 'array',
};
