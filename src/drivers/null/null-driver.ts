/** The `null` driver (network "none"): the sandbox keeps only its loopback interface. */
import type { Driver, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { InvalidArgumentError } from '../../errors.js';

export class NullDriver implements Driver {
  readonly name = 'null';
  readonly usesIpam = false;
  readonly userCreatable = false;
  validate(net: NetworkRecord): NetworkValidation {
    if (Object.keys(net.options).length > 0) throw new InvalidArgumentError('opt', 'the null driver takes no options');
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
