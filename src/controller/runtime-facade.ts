/**
 * The controller's face towards container runtimes that drive weft through their own plugin
 * protocol (Docker's remote network + IPAM driver) or that weft follows (`weft attach
 * CONTAINER`): address pools, runtime-placed endpoints and their adoption, published ports,
 * attachment records. `controller.runtime`; the api/docker surface only translates Docker's
 * requests into these calls. Changes run under the engine lock like every other change.
 */
import type { ControllerContext } from './context.js';
import { logOf } from './context.js';
import type { AttachmentRecord, DockerPoolRecord } from './runtime-records.js';
import {
  bindPools,
  listPools,
  releaseAddress,
  releasePool,
  requestAddress,
  requestPool,
  type AddressRequest,
  type PoolRequest,
} from './pool-ops.js';
import {
  adoptRuntimeEndpoint,
  adoptionState,
  createRuntimeEndpoint,
  deleteRuntimeEndpoint,
  joinRuntimeEndpoint,
  leaveRuntimeEndpoint,
  pendingAdoptions,
  runtimeEndpointInfo,
  type RuntimeEndpointRequest,
  type RuntimeJoin,
} from './runtime-endpoint-ops.js';
import { publishRuntimePorts, unpublishRuntimePorts, type RuntimePortRequest } from './runtime-ports.js';
import { forgetAttachments, listAttachments, recordAttachment } from './attachment-ops.js';

type Exclusive = <T>(fn: () => Promise<T>) => Promise<T>;

/** How long an adoption is polled for: the runtime starts the container soon after Join. */
const ADOPTION_DEADLINE_MS = 120_000;
const ADOPTION_POLL_MS = 50;

export class RuntimeFacade {
  private readonly adopting = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly ctx: ControllerContext,
    private readonly exclusive: Exclusive,
  ) {}

  // --- address pools (Docker's IPAM driver)

  pools(): Promise<DockerPoolRecord[]> {
    return listPools(this.ctx);
  }
  requestPool(req: PoolRequest): Promise<{ id: string; pool: string }> {
    return requestPool(this.ctx, req);
  }
  releasePool(id: string): Promise<void> {
    return releasePool(this.ctx, id);
  }
  requestAddress(req: AddressRequest): Promise<string> {
    return requestAddress(this.ctx, req);
  }
  releaseAddress(poolId: string, address: string): Promise<void> {
    return releaseAddress(this.ctx, poolId, address);
  }
  /** Bind pools to the network created for them (undefined: unbind, the network is gone). */
  bindPools(cidrs: string[], networkId: string | undefined): Promise<void> {
    return bindPools(this.ctx, cidrs, networkId);
  }

  // --- runtime-placed endpoints (Docker's network driver)

  createEndpoint(req: RuntimeEndpointRequest): Promise<{ address?: string; mac?: string }> {
    return this.exclusive(() => createRuntimeEndpoint(this.ctx, req));
  }
  endpointInfo(id: string): Promise<{ endpointId?: string; hostIfname?: string }> {
    return runtimeEndpointInfo(this.ctx, id);
  }
  deleteEndpoint(id: string): Promise<void> {
    return this.exclusive(() => deleteRuntimeEndpoint(this.ctx, id));
  }
  /** Join, then poll in the background until the runtime moved the interface and it is adopted. */
  async join(networkId: string, id: string, sandboxKey: string): Promise<RuntimeJoin> {
    const j = await this.exclusive(() => joinRuntimeEndpoint(this.ctx, networkId, id, sandboxKey));
    this.scheduleAdoption(id);
    return j;
  }
  leave(id: string): Promise<void> {
    return this.exclusive(() => leaveRuntimeEndpoint(this.ctx, id));
  }
  publishPorts(id: string, wanted: RuntimePortRequest[]): Promise<void> {
    return this.exclusive(() => publishRuntimePorts(this.ctx, id, wanted));
  }
  unpublishPorts(id: string): Promise<void> {
    return this.exclusive(() => unpublishRuntimePorts(this.ctx, id));
  }

  /** After a restart: resume the adoptions that were under way. */
  async resume(): Promise<void> {
    for (const id of await pendingAdoptions(this.ctx)) this.scheduleAdoption(id);
  }

  private later(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private scheduleAdoption(id: string): void {
    if (this.adopting.has(id) || this.stopped) return;
    this.adopting.add(id);
    const deadline = Date.now() + ADOPTION_DEADLINE_MS;
    const step = async (): Promise<void> => {
      let done = false;
      try {
        // Polled read-only; the lock is taken only once there is something to record.
        const state = await adoptionState(this.ctx, id);
        done = state === 'done' || (state === 'ready' && (await this.exclusive(() => adoptRuntimeEndpoint(this.ctx, id))));
      } catch (err) {
        logOf(this.ctx).warn({ endpoint: id.slice(0, 12), err: (err as Error).message }, 'runtime endpoint adoption failed');
      }
      if (!done && !this.stopped && Date.now() > deadline)
        logOf(this.ctx).warn({ endpoint: id.slice(0, 12) }, 'runtime endpoint not adopted: its namespace never held the interface');
      if (done || this.stopped || Date.now() > deadline) {
        this.adopting.delete(id);
        return;
      }
      this.later(() => void step(), ADOPTION_POLL_MS);
    };
    this.later(() => void step(), 10);
  }

  // --- attachment records (`weft attach CONTAINER`)

  attachments(containerId?: string): Promise<AttachmentRecord[]> {
    return listAttachments(this.ctx, containerId);
  }
  recordAttachment(rec: AttachmentRecord, networkName: string): Promise<void> {
    return recordAttachment(this.ctx, rec, networkName);
  }
  forgetAttachments(recs: readonly Pick<AttachmentRecord, 'containerId' | 'networkId'>[]): Promise<void> {
    return forgetAttachments(this.ctx, recs);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}
