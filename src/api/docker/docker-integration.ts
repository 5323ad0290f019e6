/**
 * Docker integration as weftd runs it: the plugin socket (network + IPAM driver) and container
 * attachments with their REST routes. Both translate Docker's protocols into controller calls;
 * Docker's veth join is the bridge driver's runtime placement, and DOCKER-USER rules are the
 * firewall's host integration — nothing here touches the kernel, the store or a lock.
 */
import type { Controller } from '../../controller/controller.js';
import type { Router } from '../rest/router.js';
import type { Logger } from '../../logger.js';
import { DockerIpam } from './ipam-driver.js';
import { DockerNetworkDriver } from './network-driver.js';
import { servePlugin, type PluginHandler, type PluginServer } from './plugin-server.js';
import { ContainerAttachments, type AttachInput } from './container-attachments.js';
import { InvalidArgumentError } from '../../errors.js';
import { DockerNetworkNamer } from './docker-network-name.js';

/** Every method of the plugin protocol weft answers, by URL name. */
export function pluginHandlers(net: DockerNetworkDriver, ipam: DockerIpam): Map<string, PluginHandler> {
  const ack = (): object => ({});
  const handlers = new Map<string, PluginHandler>([
    ['Plugin.Activate', () => ({ Implements: ['NetworkDriver', 'IpamDriver'] })],
    ['NetworkDriver.GetCapabilities', () => net.capabilities()],
    ['NetworkDriver.CreateNetwork', (b) => net.createNetwork(b)],
    ['NetworkDriver.DeleteNetwork', (b) => net.deleteNetwork(b)],
    ['NetworkDriver.AllocateNetwork', ack],
    ['NetworkDriver.FreeNetwork', ack],
    ['NetworkDriver.CreateEndpoint', (b) => net.createEndpoint(b)],
    ['NetworkDriver.EndpointOperInfo', (b) => net.endpointOperInfo(b)],
    ['NetworkDriver.DeleteEndpoint', (b) => net.deleteEndpoint(b)],
    ['NetworkDriver.Join', (b) => net.join(b)],
    ['NetworkDriver.Leave', (b) => net.leave(b)],
    ['NetworkDriver.DiscoverNew', ack],
    ['NetworkDriver.DiscoverDelete', ack],
    ['NetworkDriver.ProgramExternalConnectivity', (b) => net.programExternalConnectivity(b)],
    ['NetworkDriver.RevokeExternalConnectivity', (b) => net.revokeExternalConnectivity(b)],
    ['IpamDriver.GetCapabilities', () => ipam.capabilities()],
    ['IpamDriver.GetDefaultAddressSpaces', () => ipam.defaultAddressSpaces()],
    ['IpamDriver.RequestPool', (b) => ipam.requestPool(b)],
    ['IpamDriver.ReleasePool', (b) => ipam.releasePool(b)],
    ['IpamDriver.RequestAddress', (b) => ipam.requestAddress(b)],
    ['IpamDriver.ReleaseAddress', (b) => ipam.releaseAddress(b)],
    ['IpamDriver.DiscoverNew', ack],
    ['IpamDriver.DiscoverDelete', ack],
  ]);
  // Calls that read then write several records run one at a time, with background adoptions.
  for (const [k, h] of handlers) handlers.set(k, (b) => net.serial(async () => h(b)));
  return handlers;
}

function attachInput(b: unknown): AttachInput {
  const o = (b && typeof b === 'object' ? b : {}) as Record<string, unknown>;
  const s = (k: string): string | undefined => {
    const v = o[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw new InvalidArgumentError(k, 'must be a string');
    return v;
  };
  const container = s('container');
  const network = s('network');
  if (!container) throw new InvalidArgumentError('container', 'is required');
  if (!network) throw new InvalidArgumentError('network', 'is required');
  const aliases = o.aliases === undefined ? [] : o.aliases;
  if (!Array.isArray(aliases) || aliases.some((a) => typeof a !== 'string'))
    throw new InvalidArgumentError('aliases', 'must be a list of strings');
  const out: AttachInput = { container, network, aliases: aliases as string[] };
  for (const k of ['engine', 'ip', 'gateway', 'ip6', 'mac', 'ifname'] as const) {
    const v = s(k);
    if (v !== undefined) out[k] = v;
  }
  return out;
}

export interface DockerIntegration {
  attachments: ContainerAttachments;
  plugin?: PluginServer;
  stop(): Promise<void>;
}

/** Start the plugin socket (if a path is given) and the attachment watcher; add REST routes. */
export async function startDockerIntegration(
  controller: Controller,
  routes: Router,
  log: Logger,
  opts: { pluginSocket?: string | undefined },
): Promise<DockerIntegration> {
  const ipam = new DockerIpam(controller);
  const net = new DockerNetworkDriver(controller);
  const namer = new DockerNetworkNamer(controller, log);
  net.namer = namer;
  void namer.resumeAll().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'docker network names'));
  const attachments = new ContainerAttachments(controller, log);
  routes.on('GET', '/v1/attachments', async () => ({ body: await attachments.list() }));
  routes.on('POST', '/v1/attachments', async (_p, b) => ({ status: 201, body: await attachments.attach(attachInput(b)) }));
  routes.on('DELETE', '/v1/attachments/:container/:network', async (p) => {
    await attachments.detach(p.container!, p.network!);
    return { status: 204 };
  });
  const plugin = opts.pluginSocket ? await servePlugin(opts.pluginSocket, pluginHandlers(net, ipam), log) : undefined;
  if (plugin) {
    await controller.runtime
      .resume()
      .catch((err: unknown) => log.warn({ err: (err as Error).message }, 'resuming Docker endpoint adoptions failed'));
  }
  // In the background: an engine that is down or slow must not hold up weftd's start.
  attachments.start().catch((err: unknown) => log.warn({ err: (err as Error).message }, 'attachments resync failed'));
  if (plugin) log.info({ socket: plugin.path }, 'docker plugin ready');
  return {
    attachments,
    ...(plugin ? { plugin } : {}),
    async stop() {
      namer.stop();
      attachments.stop();
      await plugin?.close();
    },
  };
}
