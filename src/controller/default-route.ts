/**
 * Who provides a sandbox's default route. In a namespace weft made, weft does. In a namespace
 * weft did not make (weft attach, CNI, Docker), a default route that is already there belongs
 * to the namespace's owner: weft does not replace it (it would be gone for good once weft's
 * interface leaves), and its endpoint is then recorded without the default route — as a second
 * network is in Docker.
 */
import type { ControllerContext } from './context.js';
import type { SandboxRecord } from '../model/types.js';
import { WEFT_ROUTE_PROTO } from '../drivers/link-ownership.js';

/** Whether the sandbox's namespace has an IPv4 default route weft did not add. */
export async function hasForeignDefaultRoute(ctx: ControllerContext, sb: SandboxRecord): Promise<boolean> {
  if (sb.kind !== 'external') return false;
  const rt = await ctx.kernel.inNetns(sb.netnsPath);
  // Unfiltered dump: a namespace with no route at all has no main table to filter on (ENOENT).
  return rt.routes(4).some((r) => r.table === 254 && r.dst === '0.0.0.0/0' && r.protocol !== WEFT_ROUTE_PROTO);
}
