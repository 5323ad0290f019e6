/**
 * `weft attach CONTAINER --network NET [--ip CIDR[@GATEWAY]]`: pipework's syntax, but weftd
 * remembers the attachment and re-applies it when the container restarts. weftd looks the
 * container up through the engine's API socket (Docker's, or podman's compatible one).
 */
import type { WeftClient } from './client.js';
import { formatOf, printJson } from './output.js';
import type { AttachmentRecord } from '../controller/runtime-records.js';
import type { SandboxRecord } from '../model/types.js';
import { InvalidArgumentError } from '../errors.js';

export interface AttachContainerOptions {
  network: string;
  ip?: string;
  ip6?: string;
  mac?: string;
  ifname?: string;
  alias?: string[];
  dockerHost?: string;
  format?: string;
}

/** Split pipework's "IP[/PREFIX][@GATEWAY]". */
export function parseIpSpec(spec: string): { ip: string; gateway?: string } {
  const parts = spec.split('@');
  if (parts.length > 2 || !parts[0]) throw new InvalidArgumentError('ip', `"${spec}" is not IP[/PREFIX][@GATEWAY]`);
  return parts[1] ? { ip: parts[0], gateway: parts[1] } : { ip: parts[0] };
}

export async function attachContainer(client: WeftClient, container: string, o: AttachContainerOptions): Promise<void> {
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
  if (formatOf(o) === 'json') printJson(out);
  else process.stdout.write(out.sandbox.id + '\n');
}
