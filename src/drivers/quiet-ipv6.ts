/** IPv6 tuning of the links drivers make (veths, macvlan/ipvlan children), which a kernel booted without IPv6 refuses. */
import { KernelError } from '../errors.js';

/** Errnos that mean "this kernel has no IPv6" (booted with ipv6.disable=1): EOPNOTSUPP, EAFNOSUPPORT. */
const NO_IPV6 = new Set([95, 97]);

/** Run an IPv6 optimisation (no link-local address, no DAD/MLD chatter); only "no IPv6 here" is fine. */
export function quietIpv6(fn: () => void): void {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof KernelError && err.errno !== undefined && NO_IPV6.has(err.errno))) throw err;
  }
}
