/**
 * Base of the drivers that program nothing: `null` (network "none": loopback only) and `host`
 * (the sandbox runs in the host's namespace). They take no options and hand out no addresses.
 */
import type { Driver, NetworkValidation } from './driver.js';
import type { NetworkRecord } from '../model/types.js';
import { InvalidArgumentError } from '../errors.js';

export abstract class NoKernelDriver implements Driver {
  abstract readonly name: string;
  readonly usesIpam = false;
  readonly userCreatable = false;
  validate(net: NetworkRecord): NetworkValidation {
    if (Object.keys(net.options).length > 0) throw new InvalidArgumentError('opt', `the ${this.name} driver takes no options`);
    return { options: {}, driverState: {} };
  }
  async setup(): Promise<void> {}
  async teardown(): Promise<void> {}
  async check(): Promise<string[]> {
    return [];
  }
  async setupEndpoint(): Promise<void> {}
  async teardownEndpoint(): Promise<void> {}
  async checkEndpoint(): Promise<string[]> {
    return [];
  }
}
