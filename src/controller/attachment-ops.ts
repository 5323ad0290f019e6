/**
 * Records of `weft attach CONTAINER` (under `docker/attachments/`): which container is attached
 * to which network, with what address, so the attachment is re-applied whenever the container
 * starts again. The surface (api/docker/container-attachments.ts) follows the engine's events
 * and asks the controller to apply them; the records live here.
 */
import type { ControllerContext } from './context.js';
import { ConflictError } from '../errors.js';
import { dockerKeys, listRecords, putRecord, type AttachmentRecord } from './runtime-records.js';

/** Attachments, of one container or of all. */
export function listAttachments(ctx: ControllerContext, containerId?: string): Promise<AttachmentRecord[]> {
  return listRecords<AttachmentRecord>(
    ctx.records.store,
    containerId === undefined ? dockerKeys.attachments : `${dockerKeys.attachments}${containerId}/`,
  );
}

/** Remember a new attachment; a container is attached to a network once. */
export async function recordAttachment(ctx: ControllerContext, rec: AttachmentRecord, networkName: string): Promise<void> {
  const key = dockerKeys.attachment(rec.containerId, rec.networkId);
  if (await ctx.records.store.get(key))
    throw new ConflictError('network', `container "${rec.containerName}" is already attached to network "${networkName}"`);
  await putRecord(ctx.records.store, key, rec, 0);
}

/** Forget attachments (missing = success). */
export async function forgetAttachments(
  ctx: ControllerContext,
  recs: readonly Pick<AttachmentRecord, 'containerId' | 'networkId'>[],
): Promise<void> {
  if (recs.length > 0) await ctx.records.store.commit({ deletes: recs.map((r) => dockerKeys.attachment(r.containerId, r.networkId)) });
}
