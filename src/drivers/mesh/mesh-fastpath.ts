/**
 * The mesh's fast path in the kernel: one VXLAN device per mesh network (no learning, static
 * entries), programmed from the plan the mesh computes (src/mesh/fastpath/vxlan-plan.ts): per
 * directly linked peer of an unencrypted mesh a permanent FDB entry (its VTEP MAC → its
 * underlay address), a permanent neighbour and onlink routes for its ring ranges — more
 * specific than the sleeve's whole-range route, so those packets never reach userspace.
 * Relayed and encrypted peers keep using the sleeve. Re-applied on every mesh change.
 */
import type { KernelPort, NetlinkPort } from '../../kernel/kernel-port.js';
import type { MeshService } from '../driver-services.js';
import type { Logger } from '../../logger.js';
import { diffPlans, vtepMac, type FastPathPlan } from '../../mesh/fastpath/vxlan-plan.js';
import { claimLink, createOwnedVxlan, foreignLinkError, isWeftLink, ownedBy } from '../link-ownership.js';

/** Weave's fastdp port; apart from 4789 so an overlay network on the same host never clashes. */
export const MESH_VXLAN_PORT = 6784;
/** One VNI: the mesh is one routed network per host, the device is per mesh network. */
export const MESH_VNI = 0x6d6573;
/** NTF_SELF: the entry goes into the vxlan device's own FDB (a value: drivers import only kernel types). */
const NTF_SELF = 0x02;
const EMPTY: FastPathPlan = { fdb: [], neighbours: [], routes: [], sleeve: [] };

/**
 * Ensure the VXLAN device exists, marked as this network's (`mark`), up with this peer's VTEP
 * MAC. A link of that name weft did not make for this network is refused, never replaced; one
 * that is this network's but of the wrong kind (impossible unless someone re-made it) too.
 */
export function ensureVxlan(rt: NetlinkPort, name: string, mesh: MeshService, mtu: number, mark: string): number {
  const mac = vtepMac(mesh.name);
  const dev = rt.link(name);
  if (!dev) {
    const made = createOwnedVxlan(
      rt,
      { name, vni: MESH_VNI, local: mesh.underlay, port: MESH_VXLAN_PORT, learning: false, mtu, mac, up: true },
      mark,
    );
    return made.index;
  }
  if (!ownedBy(dev, mark) || dev.kind !== 'vxlan') throw foreignLinkError('network', dev);
  claimLink(rt, dev, mark);
  if (dev.mac !== mac || !dev.up) rt.setLink(dev.index, { mac, up: true });
  return dev.index;
}

/** Keeps one mesh network's VXLAN entries equal to the mesh's plan. */
export class FastPath {
  private applied: FastPathPlan = EMPTY;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly kernel: KernelPort,
    private readonly mesh: MeshService,
    private readonly device: string,
    private readonly log: Logger | undefined,
  ) {
    this.unsubscribe = mesh.onChange(() => this.sync());
  }

  /** Apply the difference between what was applied and the plan now; on a failure start over next time. */
  sync(): void {
    const rt = this.kernel.host();
    const dev = rt.link(this.device);
    // Entries go only onto weft's own device (a foreign link of that name was refused by ensureVxlan).
    if (!dev || !isWeftLink(dev) || dev.kind !== 'vxlan') return;
    const plan = this.mesh.fastPath();
    const { add, remove } = diffPlans(this.applied, plan);
    try {
      for (const r of remove.routes) rt.deleteRoute({ dst: r.cidr, gateway: r.via, oif: dev.index }, { ignoreMissing: true });
      for (const n of remove.neighbours) rt.deleteNeighbour({ index: dev.index, family: 4, dst: n.ip }, { ignoreMissing: true });
      for (const f of remove.fdb)
        rt.deleteNeighbour({ index: dev.index, family: 7, lladdr: f.mac, dst: f.dst, flags: NTF_SELF }, { ignoreMissing: true });
      for (const f of add.fdb)
        rt.addNeighbour({ index: dev.index, family: 7, lladdr: f.mac, dst: f.dst, flags: NTF_SELF }, { replace: true });
      for (const n of add.neighbours) rt.addNeighbour({ index: dev.index, family: 4, dst: n.ip, lladdr: n.mac }, { replace: true });
      for (const r of add.routes) rt.addRoute({ dst: r.cidr, gateway: r.via, oif: dev.index, onlink: true }, { replace: true });
      this.applied = plan;
    } catch (err) {
      // Replace-adds are idempotent: forgetting what was applied makes the next change re-add it all.
      this.applied = EMPTY;
      this.log?.warn({ device: this.device, err: (err as Error).message }, 'mesh fast path not applied');
    }
  }

  /** Re-apply everything (after a repair re-created the device, whose entries went with it). */
  reset(): void {
    this.applied = EMPTY;
    this.sync();
  }

  /** Routes the fast path holds now (for doctor / tests). */
  routes(): FastPathPlan['routes'] {
    return this.applied.routes;
  }

  close(): void {
    this.unsubscribe();
  }
}
