/**
 * Host-port conflicts between published ports: two mappings collide when they share protocol
 * and host port and their host addresses overlap (an unspecified address covers every address
 * of its family). Pure.
 */
import { ConflictError } from '../errors.js';
import type { FwNetwork, FwPortMapping } from './types.js';
import { portKey, resolveBinding } from './validate.js';

export interface PortConflict {
  wanted: FwPortMapping;
  existing: FwPortMapping;
  message: string;
}

function describe(m: FwPortMapping): string {
  const host = m.hostIp === undefined ? '' : m.hostIp.includes(':') ? `[${m.hostIp}]:` : `${m.hostIp}:`;
  return `${host}${m.hostPort}/${m.protocol}`;
}

/**
 * Mappings in `wanted` whose host port is already taken by `existing` or by an earlier entry of
 * `wanted`. An identical mapping is not a conflict (publishing twice is a no-op); hostPort 0
 * (not chosen yet) never conflicts. `networks` lets a network's default host address count.
 */
export function findConflicts(
  existing: readonly FwPortMapping[],
  wanted: readonly FwPortMapping[],
  networks: readonly FwNetwork[] = [],
): PortConflict[] {
  const nets = new Map(networks.map((n) => [n.id, n]));
  const bindingOf = (m: FwPortMapping) => resolveBinding(m, nets.get(m.networkId)) ?? resolveBinding(m, undefined)!;
  // Index by protocol/port so the check costs the same for the 1000th port as for the 1st.
  const index = new Map<string, FwPortMapping[]>();
  const put = (m: FwPortMapping): void => {
    const k = `${m.protocol}/${m.hostPort}`;
    const list = index.get(k);
    if (list) list.push(m);
    else index.set(k, [m]);
  };
  existing.filter((m) => m.hostPort !== 0).forEach(put);
  const out: PortConflict[] = [];
  for (const w of wanted) {
    if (w.hostPort === 0) continue;
    const wb = bindingOf(w);
    const clash = (index.get(`${w.protocol}/${w.hostPort}`) ?? []).find((e) => {
      if (portKey(e) === portKey(w)) return false;
      const eb = bindingOf(e);
      return eb.family === wb.family && (eb.hostIp === undefined || wb.hostIp === undefined || eb.hostIp === wb.hostIp);
    });
    if (clash) {
      out.push({
        wanted: w,
        existing: clash,
        message: `host port ${describe(w)} is already published (as ${describe(clash)} → ${clash.containerIp}:${clash.containerPort})`,
      });
    } else {
      put(w);
    }
  }
  return out;
}

/** Throws ConflictError (field "publish") for the first conflict findConflicts reports. */
export function assertNoConflicts(
  existing: readonly FwPortMapping[],
  wanted: readonly FwPortMapping[],
  networks: readonly FwNetwork[] = [],
): void {
  const c = findConflicts(existing, wanted, networks);
  if (c.length > 0) throw new ConflictError('publish', c.map((x) => x.message).join('; '));
}
