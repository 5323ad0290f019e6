/**
 * The typed error for a link kind this kernel lacks (ipvlan, 802.1q VLAN). The kernel answers
 * an unknown kind with EOPNOTSUPP ("Unknown device type"); that becomes a
 * KernelUnsupportedError naming the feature, its module and its config option, wherever the
 * link is created (Rtnl's builders, the scratch-namespace probe in link-support.ts).
 */
import { existsSync } from 'node:fs';
import { release } from 'node:os';
import { KernelError, KernelUnsupportedError } from '../errors.js';

export type OptionalLinkKind = 'ipvlan' | 'vlan';

const EOPNOTSUPP = 95;

const FEATURES: Record<OptionalLinkKind, { feature: string; module: string; config: string }> = {
  ipvlan: { feature: 'ipvlan', module: 'ipvlan', config: 'CONFIG_IPVLAN' },
  vlan: { feature: '802.1q VLAN', module: '8021q', config: 'CONFIG_VLAN_8021Q' },
};

/** What the module directory says, for the error message (the kernel's answer is what counts). */
function moduleHint(module: string): string {
  if (existsSync(`/sys/module/${module}`)) return `module ${module} is loaded`;
  const dir = `/lib/modules/${release()}`;
  return existsSync(dir) ? `module ${module} is not loaded and the kernel could not load it` : `no modules are installed for ${release()}`;
}

/** The typed error for a kind the kernel does not know. */
export function unsupportedLinkKind(kind: OptionalLinkKind): KernelUnsupportedError {
  const f = FEATURES[kind];
  return new KernelUnsupportedError(
    f.feature,
    `this kernel has no ${f.feature} support (module ${f.module}, ${f.config}): creating a link of kind "${kind}" answered ` +
      `EOPNOTSUPP (unknown link kind); ${moduleHint(f.module)}`,
  );
}

/** If `err` is the kernel refusing an unknown link kind, the KernelUnsupportedError for it; else `err`. */
export function translateLinkKindError(kind: OptionalLinkKind, err: unknown): unknown {
  return err instanceof KernelError && err.errno === EOPNOTSUPP ? unsupportedLinkKind(kind) : err;
}
