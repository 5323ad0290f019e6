/**
 * `weft sandbox label` (Calico's relabelling): set and remove labels on a running sandbox. The
 * sandbox record keeps them for the next endpoint it gets; each of its endpoints on a global
 * network carries a copy in the cluster store (what every host's policy view selects by), so a
 * relabel is one store transaction that every host's policy watch turns into a set-element
 * change. Nothing else about the endpoint changes.
 */
import type { ControllerContext } from './context.js';
import type { SandboxRecord } from '../model/types.js';
import { ErrorList, InvalidArgumentError, NotFoundError } from '../errors.js';
import { validateLabels } from '../policy/policy-model.js';
import { json, keys } from '../store/records.js';

export interface LabelChange {
  set: Record<string, string>;
  remove: string[];
}

/** Throws unless the change is valid: label names and values, no reserved key, no key both set and removed, not empty. */
export function checkLabelChange(c: LabelChange): void {
  validateLabels(c.set, 'set');
  // Removing is checked by the same rule as setting: a reserved weft.* label is weft's to remove.
  validateLabels(Object.fromEntries(c.remove.map((k) => [k, ''])), 'remove');
  const both = c.remove.filter((k) => Object.hasOwn(c.set, k));
  if (both.length > 0) throw new InvalidArgumentError('remove', `label ${both.map((k) => `"${k}"`).join(', ')} is both set and removed`);
  if (Object.keys(c.set).length === 0 && c.remove.length === 0) throw new InvalidArgumentError('labels', 'nothing to set or remove');
}

export async function relabelSandbox(ctx: ControllerContext, sb: SandboxRecord, change: LabelChange): Promise<SandboxRecord> {
  checkLabelChange(change);
  const cur = await ctx.records.sandbox(sb.id);
  if (!cur) throw new NotFoundError('sandbox', sb.name);
  const labels: Record<string, string> = { ...cur.value.labels };
  for (const k of change.remove) delete labels[k];
  Object.assign(labels, change.set);
  // Global endpoints first, in one transaction checked on their versions; then the sandbox
  // record. If that fails, the endpoints get their old labels back.
  const checks: { key: string; version: number }[] = [];
  const puts: { key: string; value: string }[] = [];
  const previous: { key: string; value: string }[] = [];
  for (const ep of await ctx.records.endpointsOfSandbox(sb.id)) {
    const net = (await ctx.records.network(ep.networkId))?.value;
    if (!net || net.scope !== 'global') continue;
    const v = await ctx.records.endpoint(ep.id, net.id);
    if (!v) continue;
    const key = ctx.records.endpointKey(net, ep.id);
    checks.push({ key, version: v.version });
    puts.push({ key, value: json({ ...v.value, labels }) });
    previous.push({ key, value: json(v.value) });
  }
  if (puts.length > 0) await ctx.records.commitOrConflict({ checks, puts }, `relabel ${sb.name}'s endpoints`, 'global');
  const updated: SandboxRecord = { ...cur.value, labels };
  try {
    await ctx.records.commitOrConflict(
      { checks: [{ key: keys.sandbox(sb.id), version: cur.version }], puts: [{ key: keys.sandbox(sb.id), value: json(updated) }] },
      `relabel ${sb.name}`,
    );
  } catch (err) {
    const errs = new ErrorList(`relabelling ${sb.name} failed and putting its endpoints' labels back failed too`);
    errs.add(err);
    if (previous.length > 0) await errs.run(() => ctx.records.storeOf('global').commit({ puts: previous }));
    throw errs.combined();
  }
  return updated;
}
