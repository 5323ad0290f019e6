/**
 * `-o encrypted`: Docker encrypts VXLAN between hosts with kernel IPsec ESP. This kernel's xfrm
 * has no ESP and there is no kernel WireGuard, so the overlay refuses encrypted networks with a
 * typed error rather than carry them in the clear.
 */
import type { NetworkContext } from '../driver.js';
import { KernelUnsupportedError } from '../../errors.js';

/** Make sure encrypted networks can be carried encrypted on this host, or refuse. */
export async function ensureEncryption(c: NetworkContext): Promise<void> {
  throw new KernelUnsupportedError(
    'overlay encryption',
    `network ${c.network.name} asks for -o encrypted, but this kernel has no IPsec ESP and no WireGuard`,
  );
}
