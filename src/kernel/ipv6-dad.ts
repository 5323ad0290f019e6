/**
 * Waiting for the kernel's IPv6 duplicate address detection on one address: the address is
 * tentative until DAD finishes, then usable, or flagged "dadfailed" when another host on the
 * link already holds it. Bounded by a timeout.
 */
import { TimeoutError } from '../errors.js';
import { IFA_F_DADFAILED, IFA_F_TENTATIVE } from './netlink/constants.js';
import type { NetlinkPort } from './kernel-port.js';

const STEP_MS = 50;

/** 'ok' when the address passed DAD, 'duplicate' when another host has it. */
export async function waitForDad(rt: NetlinkPort, index: number, cidr: string, timeoutMs: number): Promise<'ok' | 'duplicate'> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = rt.addresses(index, 6).find((x) => x.cidr === cidr);
    // Gone entirely: some kernels remove a failed address instead of flagging it.
    if (!a) return 'duplicate';
    if (a.flags & IFA_F_DADFAILED) return 'duplicate';
    if (!(a.flags & IFA_F_TENTATIVE)) return 'ok';
    if (Date.now() > deadline) throw new TimeoutError(`IPv6 duplicate address detection of ${cidr}`, timeoutMs);
    await new Promise((r) => setTimeout(r, STEP_MS));
  }
}
