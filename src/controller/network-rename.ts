/**
 * Renaming a network's record, for surfaces that learn a network's name only after creating it
 * (Docker's plugin request carries the id; Docker records the name after the driver answers).
 * The rename is conditional: it happens only while the network still has `from` and `to` is free.
 */
import type { ControllerContext } from './context.js';
import { validateName } from '../config/validate.js';
import { json, keys } from '../store/records.js';

/** Give network netId the name `to` if it still has `from` and `to` is free; true if renamed. */
export async function renameNetwork(ctx: ControllerContext, netId: string, from: string, to: string): Promise<boolean> {
  validateName('name', to);
  const store = ctx.records.store;
  return store.withLock('networks', async () => {
    const cur = await ctx.records.network(netId);
    if (!cur || cur.value.name !== from || cur.value.scope !== 'local') return false;
    if ((await ctx.records.networkIdByName(to)) !== undefined) return false;
    return store.commit({
      checks: [
        { key: keys.network(netId), version: cur.version },
        { key: keys.networkName(to), version: 0 },
      ],
      puts: [
        { key: keys.network(netId), value: json({ ...cur.value, name: to }) },
        { key: keys.networkName(to), value: json(netId) },
      ],
      deletes: [keys.networkName(from)],
    });
  });
}
