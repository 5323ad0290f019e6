/** Views shaped like `docker network inspect` / `docker inspect` network parts. */
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../model/types.js';
import type { RemoteEndpoint } from '../drivers/driver.js';

export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv6: boolean;
  IPAM: {
    Driver: string;
    Options: Record<string, string>;
    Config: { Subnet: string; IPRange?: string; Gateway: string; AuxiliaryAddresses?: Record<string, string> }[];
  };
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }>;
  Options: Record<string, string>;
  Labels: Record<string, string>;
  /** Global networks: the other hosts with endpoints on it, as this host's driver knows them (Docker's overlay "Peers"). */
  Peers?: { Name: string; IP: string; Endpoints: { EndpointID: string; IPv4Address: string; IPv6Address: string; MacAddress: string }[] }[];
}

function peersOf(remote: readonly RemoteEndpoint[]): NonNullable<NetworkInspect['Peers']> {
  const byHost = new Map<string, NonNullable<NetworkInspect['Peers']>[number]>();
  for (const r of remote) {
    let p = byHost.get(r.hostId);
    if (!p) byHost.set(r.hostId, (p = { Name: r.hostId, IP: r.hostAddress, Endpoints: [] }));
    p.Endpoints.push({ EndpointID: r.endpointId, IPv4Address: r.ipv4 ?? '', IPv6Address: r.ipv6 ?? '', MacAddress: r.mac ?? '' });
  }
  return [...byHost.values()].sort((a, b) => a.Name.localeCompare(b.Name));
}

export function inspectNetwork(
  net: NetworkRecord,
  eps: EndpointRecord[],
  sandboxes: Map<string, SandboxRecord>,
  remote?: readonly RemoteEndpoint[],
): NetworkInspect {
  const containers: NetworkInspect['Containers'] = {};
  for (const e of eps) {
    if (e.networkId !== net.id) continue;
    containers[e.sandboxId] = {
      Name: sandboxes.get(e.sandboxId)?.name ?? '',
      EndpointID: e.id,
      MacAddress: e.macAddress ?? '',
      IPv4Address: e.ipv4 ?? '',
      IPv6Address: e.ipv6 ?? '',
    };
  }
  return {
    Name: net.name,
    Id: net.id,
    Created: net.created,
    Scope: net.scope,
    Driver: net.driver,
    EnableIPv6: net.enableIPv6,
    IPAM: {
      Driver: net.ipam.driver,
      Options: net.ipam.options,
      Config: net.ipam.config.map((p) => ({
        Subnet: p.subnet,
        ...(p.ipRange ? { IPRange: p.ipRange } : {}),
        Gateway: p.gateway,
        ...(Object.keys(p.auxAddresses).length ? { AuxiliaryAddresses: p.auxAddresses } : {}),
      })),
    },
    Internal: net.internal,
    Attachable: net.attachable,
    Ingress: false,
    ConfigFrom: { Network: '' },
    ConfigOnly: false,
    Containers: containers,
    Options: { ...net.options, ...(net.driverState.bridgeName ? { 'com.docker.network.bridge.name': net.driverState.bridgeName } : {}) },
    Labels: net.labels,
    ...(remote ? { Peers: peersOf(remote) } : {}),
  };
}

export interface SandboxView extends SandboxRecord {
  endpoints: (EndpointRecord & { networkName: string })[];
}

export function viewSandbox(sb: SandboxRecord, eps: EndpointRecord[], nets: Map<string, NetworkRecord>): SandboxView {
  return { ...sb, endpoints: eps.map((e) => ({ ...e, networkName: nets.get(e.networkId)?.name ?? '' })) };
}
