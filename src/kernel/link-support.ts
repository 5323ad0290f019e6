/**
 * Which optional link types the running kernel has (ipvlan, 802.1q VLAN). The answer is the
 * kernel's own: the link is really created, in a scratch namespace on a scratch veth, so the
 * host is never touched and a kernel that has the type (built in, or a module it can load)
 * says yes. A missing type answers EOPNOTSUPP ("Unknown device type"); that becomes a
 * KernelUnsupportedError naming the feature, its module and its config option
 * (link-kind-errors.ts).
 */
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { KernelUnsupportedError } from '../errors.js';
import { createNetns, deleteNetns } from './netns.js';
import { Rtnl } from './netlink/rtnl.js';
import type { OptionalLinkKind } from './link-kind-errors.js';

export type { OptionalLinkKind } from './link-kind-errors.js';

/** Try `kind` in a scratch namespace; resolves when supported, rejects with the reason otherwise. */
async function tryKind(kind: OptionalLinkKind): Promise<void> {
  const nsPath = path.join(tmpdir(), `weft-linkprobe-${process.pid}-${randomBytes(4).toString('hex')}`);
  await createNetns(nsPath);
  let rt: Rtnl | undefined;
  try {
    rt = await Rtnl.open(nsPath);
    const lower = rt.createVeth({ name: 'probe0', peerName: 'probe1' });
    // Rtnl turns the kernel's "unknown link kind" into the KernelUnsupportedError.
    if (kind === 'ipvlan') rt.createIpvlan({ name: 'probe2', parent: lower.index, mode: 'l2' });
    else rt.createVlan({ name: 'probe0.2', parent: lower.index, vlanId: 2 });
  } finally {
    rt?.close();
    // Deleting the namespace deletes every link made in it.
    await deleteNetns(nsPath);
  }
}

const answers = new Map<OptionalLinkKind, Promise<void>>();

/**
 * Resolve if the kernel supports `kind`, else reject with a KernelUnsupportedError. A "no" is
 * remembered for this process (a kernel does not grow a link type); a failure of the probe
 * itself (not a "no") is not, so the next call asks again.
 */
export function requireLinkKind(kind: OptionalLinkKind): Promise<void> {
  let p = answers.get(kind);
  if (!p) {
    p = tryKind(kind);
    answers.set(kind, p);
    p.catch((err: unknown) => {
      if (!(err instanceof KernelUnsupportedError)) answers.delete(kind);
    });
  }
  return p;
}
