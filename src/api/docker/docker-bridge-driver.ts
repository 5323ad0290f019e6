/**
 * The bridge driver as Docker needs it. Docker moves the container end of a veth into the
 * container's namespace itself (Join replies with its name), so for sandboxes that belong to
 * Docker weft creates both ends in the host namespace and never touches the container side:
 * Docker sets its name, addresses, MAC and routes. Everything else is the plain bridge driver.
 */
import type { Driver, DriverContext, EndpointContext, NetworkValidation } from '../../drivers/driver.js';
import type { NetworkRecord, SandboxRecord } from '../../model/types.js';
import { KernelError } from '../../errors.js';
import { deleteOwnedLink } from '../../drivers/link-ownership.js';
import { dockerVethMark, ownDockerVeth } from './docker-join.js';

/** Label on weft sandboxes that stand for a Docker sandbox (SandboxKey). */
export const DOCKER_SANDBOX_LABEL = 'weft.docker.sandbox';

export const isDockerSandbox = (sb: SandboxRecord): boolean => sb.labels[DOCKER_SANDBOX_LABEL] === 'true';

export class DockerAwareBridgeDriver implements Driver {
  readonly name: string;
  readonly usesIpam: boolean;
  readonly userCreatable: boolean;
  constructor(private readonly inner: Driver) {
    this.name = inner.name;
    this.usesIpam = inner.usesIpam;
    this.userCreatable = inner.userCreatable;
  }

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    return this.inner.validate(net, others);
  }
  setup(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    return this.inner.setup(ctx, net);
  }
  teardown(ctx: DriverContext, net: NetworkRecord): Promise<void> {
    return this.inner.teardown(ctx, net);
  }
  check(ctx: DriverContext, net: NetworkRecord): Promise<string[]> {
    return this.inner.check(ctx, net);
  }

  async setupEndpoint(ctx: EndpointContext): Promise<void> {
    if (!isDockerSandbox(ctx.sandbox)) return this.inner.setupEndpoint(ctx);
    const { network: net, endpoint: ep } = ctx;
    const rt = ctx.kernel.host();
    const br = rt.link(net.driverState.bridgeName!);
    if (!br) throw new KernelError('docker join', `bridge ${net.driverState.bridgeName} of network ${net.name} does not exist`);
    const hostIf = ep.hostIfname!;
    const existing = rt.link(hostIf);
    // The pair is made at Join (docker-join.ts); a missing host end means the container's
    // interface went with it, which checkEndpoint reports. Nothing to re-create for Docker.
    if (existing && ownDockerVeth(existing) && (existing.master !== br.index || !existing.up))
      rt.setLink(existing.index, { master: br.index, up: true });
  }

  async teardownEndpoint(ctx: EndpointContext): Promise<void> {
    if (!isDockerSandbox(ctx.sandbox) || !ctx.endpoint.hostIfname) return this.inner.teardownEndpoint(ctx);
    // Deleting the host end deletes the peer wherever Docker put it; only the veth weft made.
    deleteOwnedLink(ctx.kernel.host(), ctx.endpoint.hostIfname, [dockerVethMark(ctx.endpoint.hostIfname)]);
  }

  async checkEndpoint(ctx: EndpointContext): Promise<string[]> {
    if (!isDockerSandbox(ctx.sandbox)) return this.inner.checkEndpoint(ctx);
    const { network: net, endpoint: ep, sandbox: sb } = ctx;
    const rt = ctx.kernel.host();
    const l = rt.link(ep.hostIfname!);
    if (!l) return [`endpoint ${sb.name}/${net.name}: host interface ${ep.hostIfname} missing`];
    const br = rt.link(net.driverState.bridgeName!);
    const problems: string[] = [];
    if (!br || l.master !== br.index) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} not on bridge`);
    if (!l.up) problems.push(`endpoint ${sb.name}/${net.name}: ${ep.hostIfname} is down`);
    return problems;
  }
}
