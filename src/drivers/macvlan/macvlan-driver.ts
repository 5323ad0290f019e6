/**
 * macvlan driver (Docker's `-d macvlan`): sandboxes appear directly on the parent's LAN, each
 * with its own MAC, its address from the LAN's subnet and the LAN's router as gateway. The
 * network owns no bridge and puts no address on the host. Per endpoint, one macvlan child of
 * the parent is created directly in the sandbox's namespace under its final name; Docker's
 * endpoints are the one variant (runtime-child.ts). See README.md for the kernel objects and
 * the modes.
 */
import type { Driver, EndpointContext, NetworkContext, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { ConflictError, ErrorList, KernelError } from '../../errors.js';
import { IFNAMES } from '../ifnames.js';
import { macvlanStateOf, parseMacvlanOptions, reserveShimAddresses, type MacvlanMode } from './macvlan-options.js';
import { assertParentFree, parentStateOf } from '../underlay/parent-spec.js';
import { ensureParent, liveParent, removeOwnedParent } from '../underlay/parent-link.js';
import { configureChild, existingChild, removeChild, undoChild } from '../underlay/underlay-child.js';
import { ensureShim, ensureShimRoutes, removeShim, removeShimRoutes } from './host-shim.js';
import { probeLan } from './lan-probe.js';
import { macvlanInvariants } from './macvlan-invariants.js';
import { macvlanRuntimePlacement } from './runtime-child.js';

const EINVAL = 22;

export class MacvlanDriver implements Driver {
  readonly name = 'macvlan';
  readonly scope = 'local';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [IFNAMES.macvlanParent, IFNAMES.macvlanShim, IFNAMES.lanProbe, IFNAMES.macvlanRuntimeChild];
  readonly invariants = macvlanInvariants(this);
  readonly runtimePlacement = macvlanRuntimePlacement;

  validate(net: NetworkRecord, others: readonly NetworkRecord[]): NetworkValidation {
    const o = parseMacvlanOptions(net.options);
    const state = { ...parentStateOf(o.parent, IFNAMES.macvlanParent.of(net.id)), ...macvlanStateOf(o) };
    assertParentFree(net, state.parent!, others);
    return { options: net.options, driverState: state, ...(o.hostShim ? { ipam: reserveShimAddresses(net.ipam.config) } : {}) };
  }

  async networkUp(c: NetworkContext): Promise<void> {
    const net = c.network;
    const rt = c.kernel.host();
    const { link: parent, created } = ensureParent(rt, net);
    try {
      if (net.driverState.hostShim === 'true') await ensureShim(c.kernel, net, parent);
    } catch (err) {
      if (!created) throw err;
      const undo = new ErrorList(`network ${net.name}: set-up failed and removing its parent failed too`);
      undo.add(err);
      await undo.run(() => removeOwnedParent(rt, net));
      throw undo.combined();
    }
  }

  async networkDown(c: NetworkContext): Promise<void> {
    const rt = c.kernel.host();
    const errors = new ErrorList(`network ${c.network.name}: removing its kernel objects`);
    await errors.run(() => removeShim(rt, c.network));
    await errors.run(() => removeOwnedParent(rt, c.network));
    errors.throwIfAny();
  }

  fixedMac(c: NetworkContext): string | undefined {
    // A passthru child takes the parent's MAC whatever it is given; setting another one on it
    // would change the parent's.
    if (c.network.driverState.mode !== 'passthru') return undefined;
    return liveParent(c.kernel.host(), c.network).mac;
  }

  async addressInUse(c: NetworkContext, family: 4 | 6, address: string): Promise<string | undefined> {
    const net = c.network;
    if (net.driverState.probe !== 'true' || family !== 4) return undefined;
    const parent = liveParent(c.kernel.host(), net);
    try {
      return await probeLan(c.kernel, net, parent, address, Number(net.driverState.probeTimeoutMs));
    } catch (err) {
      // The probe is one more macvlan on the parent: a passthru parent that has its child refuses it.
      throw passthruTaken(net, parent.name, err);
    }
  }

  async join(c: EndpointContext): Promise<void> {
    const { network: net, endpoint: ep, sandbox: sb } = c;
    const rt = c.kernel.host();
    // Docker's child is Docker's once moved: weft keeps only the host's route to it.
    if (ep.placement === 'runtime') {
      if (net.driverState.hostShim === 'true') ensureShimRoutes(rt, net, ep);
      return;
    }
    const parent = liveParent(rt, net);
    const inner = await c.kernel.inNetns(sb.netnsPath);
    const mode = net.driverState.mode as MacvlanMode;
    let created = false;
    try {
      if (!existingChild(inner, c, 'macvlan')) {
        const nsFd = await c.kernel.netnsFd(sb.netnsPath);
        try {
          rt.createMacvlan({
            name: ep.ifname,
            parent: parent.index,
            mode,
            netnsFd: nsFd,
            up: false,
            ...(mode !== 'passthru' && ep.macAddress ? { mac: ep.macAddress } : {}),
          });
        } catch (err) {
          throw passthruTaken(net, parent.name, err);
        }
        created = true;
      }
      const probe = net.driverState.probe === 'true';
      await configureChild(inner, c, probe ? { dadTimeoutMs: Number(net.driverState.probeTimeoutMs) } : {});
      if (net.driverState.hostShim === 'true') ensureShimRoutes(rt, net, ep);
    } catch (err) {
      if (!created) throw err;
      throw await undoChild(inner, c, err);
    }
  }

  async leave(c: EndpointContext): Promise<void> {
    const errors = new ErrorList(`leave of ${c.sandbox.name} from ${c.network.name}`);
    if (c.network.driverState.hostShim === 'true') await errors.run(() => removeShimRoutes(c.kernel.host(), c.network, c.endpoint));
    await errors.run(() => removeChild(c, 'macvlan'));
    errors.throwIfAny();
  }
}

/** The clear error for a second child on a passthru parent (the kernel says only EINVAL). */
function passthruTaken(net: NetworkRecord, parent: string, err: unknown): unknown {
  if (net.driverState.mode === 'passthru' && err instanceof KernelError && err.errno === EINVAL)
    return new ConflictError('network', `network ${net.name} is in passthru mode: its parent ${parent} takes one child only, and has one`);
  return err;
}
