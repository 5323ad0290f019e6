/**
 * Which namespaces may be attached (weft attach, CNI ADD, Docker's SandboxKey): a network
 * namespace that is neither the host's (weftd's own or pid 1's, compared by device + inode)
 * nor already one of weft's sandboxes. Checked before anything is created.
 */
import type { ControllerContext } from './context.js';
import type { NetnsIdentity } from '../kernel/kernel-port.js';
import { AlreadyAttachedError, InvalidArgumentError } from '../errors.js';

/** The host namespace `id` is, if it is one (its description), else undefined. */
export function hostNetnsOf(ctx: ControllerContext, id: NetnsIdentity): string | undefined {
  return ctx.kernel.hostNetns().find((h) => h.id.dev === id.dev && h.id.ino === id.ino)?.what;
}

export async function checkAttachTarget(ctx: ControllerContext, netnsPath: string, shown: string): Promise<number> {
  // Opening is itself the first check: only an nsfs network namespace gets an fd (never blocks).
  const id = await ctx.kernel.netnsIdentity(netnsPath);
  const host = hostNetnsOf(ctx, id);
  if (host) throw new InvalidArgumentError('netns', `${shown} is ${host}; weft never attaches the host's namespace to a network`);
  for (const other of await ctx.records.sandboxes()) {
    // Host- and container-mode sandboxes share a namespace on purpose; only owners count.
    if ((other.kind !== 'external' && other.kind !== 'netns') || other.netnsInode !== id.ino) continue;
    // A sandbox whose namespace or process is gone is stale (the reaper removes it), not a holder.
    if (other.pid !== undefined && !ctx.kernel.isAlive(other.pid, other.pidStartTime)) continue;
    if (ctx.kernel.netnsInode(other.netnsPath) !== id.ino) continue;
    throw new AlreadyAttachedError(shown, other.name);
  }
  return id.ino;
}
