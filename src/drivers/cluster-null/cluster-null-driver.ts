/**
 * `cluster-null`: a global-scope network with no dataplane — endpoints get addresses from the
 * cluster's IPAM blocks and are published to every host, but no kernel object is made. It
 * exercises the whole cluster control plane (global records, per-host blocks, remote endpoint
 * events) where a real multi-host dataplane (overlay, hostsubnet, routed) is not wanted: the
 * lab tests and the cluster attach benchmark. weftd registers it only with WEFT_TEST_DRIVERS=1.
 * It counts the peers it was told about, so a test can see the events arrive (`peers()`).
 */
import type { Driver, DriverInvariants, NetworkContext, NetworkValidation, RemoteEndpoint } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { InvalidArgumentError } from '../../errors.js';

const NONE: DriverInvariants = { network: [], endpoint: [], host: [] };

export class ClusterNullDriver implements Driver {
  readonly name = 'cluster-null';
  readonly scope = 'global';
  readonly usesIpam = true;
  readonly userCreatable = true;
  readonly ownedNames = [];
  readonly invariants = NONE;
  private readonly known = new Map<string, RemoteEndpoint>();

  validate(net: NetworkRecord): NetworkValidation {
    if (Object.keys(net.options).length > 0) throw new InvalidArgumentError('opt', `the ${this.name} driver takes no options`);
    return { options: {}, driverState: {} };
  }
  async networkUp(): Promise<void> {}
  async networkDown(c: NetworkContext): Promise<void> {
    for (const [k, p] of this.known) if (p.networkId === c.network.id) this.known.delete(k);
  }
  async join(): Promise<void> {}
  async leave(): Promise<void> {}
  async peerUp(_c: NetworkContext, peer: RemoteEndpoint): Promise<void> {
    this.known.set(peer.endpointId, peer);
  }
  async peerDown(_c: NetworkContext, peer: RemoteEndpoint): Promise<void> {
    this.known.delete(peer.endpointId);
  }
  /** Remote endpoints this driver holds now. */
  peers(): RemoteEndpoint[] {
    return [...this.known.values()];
  }
}
