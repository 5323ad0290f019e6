/**
 * Which namespaces may be attached (weft attach, CNI ADD, Docker's SandboxKey): a network
 * namespace that is neither the host's (weftd's own or pid 1's, compared by device + inode)
 * nor already one of weft's sandboxes. Checked before anything is created.
 */
import type { ControllerContext } from './context.js';
import { AlreadyAttachedError } from '../errors.js';
import { assertNotHostNetns, netnsIdentityOfFd } from '../kernel/netns-identity.js';
import { isAlive } from '../kernel/proc.js';

export async function checkAttachTarget(ctx: ControllerContext, netnsPath: string, shown: string): Promise<number> {
  // Opening is itself the first check: only an nsfs network namespace gets an fd (never blocks).
  const id = netnsIdentityOfFd(await ctx.kernel.netnsFd(netnsPath));
  assertNotHostNetns(id, shown);
  for (const other of await ctx.records.sandboxes()) {
    // Host- and container-mode sandboxes share a namespace on purpose; only owners count.
    if ((other.kind !== 'external' && other.kind !== 'netns') || other.netnsInode !== id.ino) continue;
    // A sandbox whose namespace or process is gone is stale (the reaper removes it), not a holder.
    if (other.pid !== undefined && !isAlive(other.pid, other.pidStartTime)) continue;
    if (ctx.kernel.netnsInode(other.netnsPath) !== id.ino) continue;
    throw new AlreadyAttachedError(shown, other.name);
  }
  return id.ino;
}
