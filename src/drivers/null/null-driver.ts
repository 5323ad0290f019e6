/** The `null` driver (network "none"): the sandbox keeps only its loopback interface. */
import { NoKernelDriver } from '../no-kernel-driver.js';

export class NullDriver extends NoKernelDriver {
  readonly name = 'null';
}
