/**
 * Base of the drivers that program nothing: `null` (network "none": loopback only) and `host`
 * (the sandbox runs in the host's namespace). They take no options, hand out no addresses,
 * own no interface names and so have no invariants.
 */
import type { Driver, DriverInvariants, NetworkValidation } from './driver.js';
import type { NetworkRecord } from '../model/types.js';
import { InvalidArgumentError } from '../errors.js';

const NONE: DriverInvariants = { network: [], endpoint: [], host: [] };

export abstract class NoKernelDriver implements Driver {
  abstract readonly name: string;
  readonly scope = 'local';
  readonly usesIpam = false;
  readonly userCreatable = false;
  readonly ownedNames = [];
  readonly invariants = NONE;
  validate(net: NetworkRecord): NetworkValidation {
    if (Object.keys(net.options).length > 0) throw new InvalidArgumentError('opt', `the ${this.name} driver takes no options`);
    return { options: {}, driverState: {} };
  }
  async networkUp(): Promise<void> {}
  async networkDown(): Promise<void> {}
  async join(): Promise<void> {}
  async leave(): Promise<void> {}
}
