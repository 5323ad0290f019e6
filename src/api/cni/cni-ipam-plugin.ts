/**
 * The `weft-ipam` plugin: addresses from a weft network's pools for another main plugin (e.g.
 * the reference `bridge`). Reservations are held by the owner `ext:cni:<container>:<ifname>`
 * in the same allocation keys weft's endpoints use, so no address is handed out twice whichever
 * path asks. A network first seen here is created as a weft bridge network on the bridge the
 * main plugin names (default `cni0`, as the bridge plugin's), so both agree on the gateway.
 */
import type { Controller } from '../../controller/controller.js';
import { ErrorList } from '../../errors.js';
import { parseCidr } from '../../ipam/cidr.js';
import { CNI_CODES, CniError } from './cni-errors.js';
import type { CniRequest } from './cni-request.js';
import { ipamOwnerOf, parseIpamOwner, wantedOf } from './cni-identity.js';
import { ensureNetwork, findNetwork } from './cni-network.js';
import type { CniResult } from './cni-result.js';
import { atLeast } from './cni-versions.js';

const DEFAULT_BRIDGE = 'cni0';

export async function ipamAdd(c: Controller, req: CniRequest): Promise<CniResult> {
  const w = wantedOf(req);
  const net = await ensureNetwork(c, req.conf, 'weft-ipam', DEFAULT_BRIDGE);
  const owner = ipamOwnerOf(req.containerId, req.ifname);
  const r: CniResult = {
    ips: [],
    routes: (req.conf.ipam?.routes ?? []).map((x) => ({ dst: x.dst, ...(x.gw ? { gw: x.gw } : {}) })),
    dns: {},
  };
  try {
    for (const pool of net.ipam.config) {
      const fam = pool.subnet.includes(':') ? 6 : 4;
      const addr = await c.reserveAddress(net.id, fam, owner, fam === 4 ? w.ipv4 : w.ipv6);
      r.ips!.push({ address: `${addr}/${parseCidr(pool.subnet, 'subnet').prefix}`, gateway: pool.gateway });
    }
  } catch (err) {
    const undo = new ErrorList(`weft-ipam ADD on ${net.name} failed and releasing what it reserved failed too`);
    undo.add(err);
    await undo.run(() => c.releaseOwner(net.id, owner));
    throw undo.combined();
  }
  return r;
}

export async function ipamDel(c: Controller, req: CniRequest): Promise<void> {
  const net = await findNetwork(c, req.conf.name);
  if (net) await c.releaseOwner(net.id, ipamOwnerOf(req.containerId, req.ifname));
}

export async function ipamCheck(c: Controller, req: CniRequest): Promise<void> {
  if (!atLeast(req.conf.cniVersion, '0.4.0'))
    throw new CniError(CNI_CODES.incompatibleVersion, 'config version does not allow CHECK', `cniVersion ${req.conf.cniVersion}`);
  const net = await findNetwork(c, req.conf.name);
  if (!net) throw new CniError(CNI_CODES.unknownContainer, `network "${req.conf.name}" does not exist`);
  const held = await c.addressesOf(net.id, ipamOwnerOf(req.containerId, req.ifname));
  if (held.length === 0)
    throw new CniError(CNI_CODES.unknownContainer, `container ${req.containerId} holds no address on "${net.name}" for ${req.ifname}`);
}

export async function ipamGc(c: Controller, req: CniRequest): Promise<void> {
  if (!atLeast(req.conf.cniVersion, '1.1.0'))
    throw new CniError(CNI_CODES.incompatibleVersion, 'config version does not allow GC', `cniVersion ${req.conf.cniVersion}`);
  const net = await findNetwork(c, req.conf.name);
  if (!net) return;
  const valid = new Set((req.conf['cni.dev/valid-attachments'] ?? []).map((a) => `${a.containerID}\0${a.ifname}`));
  const stale = new Set<string>();
  for (const fam of [4, 6] as const) {
    for (const owner of (await c.allocations(net.id, fam)).values()) {
      const id = parseIpamOwner(owner);
      if (id && !valid.has(`${id.containerId}\0${id.ifname}`)) stale.add(owner);
    }
  }
  for (const owner of stale) await c.releaseOwner(net.id, owner);
}
