/** The `host` driver: the sandbox runs in the host's namespace; nothing to set up. */
import { NoKernelDriver } from '../no-kernel-driver.js';

export class HostDriver extends NoKernelDriver {
  readonly name = 'host';
}
