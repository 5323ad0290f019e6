/**
 * `weft attach CONTAINER --network NET [--ip CIDR[@GATEWAY]]`: pipework's syntax, but weftd
 * remembers the attachment and re-applies it when the container restarts. weftd looks the
 * container up through the engine's API socket (Docker's, or podman's compatible one).
 */
import type { WeftClient } from './client.js';
import type { AttachmentRecord } from '../controller/runtime-records.js';
import type { SandboxRecord } from '../model/types.js';
import type { SandboxView } from '../controller/inspect.js';
import { InvalidArgumentError } from '../errors.js';

export interface AttachContainerOptions {
  network: string;
  ip?: string;
  ip6?: string;
  mac?: string;
  ifname?: string;
  alias?: string[];
  dockerHost?: string;
}

/** Split pipework's "IP[/PREFIX][@GATEWAY]". */
export function parseIpSpec(spec: string): { ip: string; gateway?: string } {
  const parts = spec.split('@');
  if (parts.length > 2 || !parts[0]) throw new InvalidArgumentError('ip', `"${spec}" is not IP[/PREFIX][@GATEWAY]`);
  return parts[1] ? { ip: parts[0], gateway: parts[1] } : { ip: parts[0] };
}

/** Attach and return the container's sandbox (the attachment record is kept by weftd). */
export async function attachContainer(client: WeftClient, container: string, o: AttachContainerOptions): Promise<SandboxView> {
  const ip = o.ip ? parseIpSpec(o.ip) : undefined;
  const out = await client.request<{ attachment: AttachmentRecord; sandbox: SandboxRecord }>('POST', '/v1/attachments', {
    container,
    network: o.network,
    aliases: o.alias ?? [],
    ...(o.dockerHost ? { engine: o.dockerHost } : {}),
    ...(ip ? { ip: ip.ip } : {}),
    ...(ip?.gateway ? { gateway: ip.gateway } : {}),
    ...(o.ip6 ? { ip6: o.ip6 } : {}),
    ...(o.mac ? { mac: o.mac } : {}),
    ...(o.ifname ? { ifname: o.ifname } : {}),
  });
  // The reply's sandbox is the record; the view (with endpoints) is what every sandbox output shows.
  return client.request<SandboxView>('GET', `/v1/sandboxes/${encodeURIComponent(out.sandbox.id)}`);
}
