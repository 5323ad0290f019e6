/** The `host` driver: the sandbox runs in the host's namespace; nothing to set up. */
import type { Driver, NetworkValidation } from '../driver.js';
import type { NetworkRecord } from '../../model/types.js';
import { InvalidArgumentError } from '../../errors.js';

export class HostDriver implements Driver {
  readonly name = 'host';
  readonly usesIpam = false;
  readonly userCreatable = false;
  validate(net: NetworkRecord): NetworkValidation {
    if (Object.keys(net.options).length > 0) throw new InvalidArgumentError('opt', 'the host driver takes no options');
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
