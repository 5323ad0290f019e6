/**
 * Whether this process may program the kernel. weftd creates links, namespaces, nftables
 * tables and sysctls: without root (and, inside a restricted container, without the
 * capabilities root normally has) it would fail late with a raw EACCES or an nft error in the
 * middle of reconciling. Checked once, before anything is touched.
 */
import { readFileSync } from 'node:fs';

/** The capabilities weft uses: netlink/nft/sysctl (NET_ADMIN), setns/mount/unshare (SYS_ADMIN). */
export const REQUIRED_CAPABILITIES = { CAP_NET_ADMIN: 12, CAP_SYS_ADMIN: 21 } as const;

export const NOT_ROOT_MESSAGE = 'weftd must run as root: it programs the kernel';

/**
 * Why these credentials cannot program the kernel, or undefined when they can. Pure:
 * `capEffHex` is the CapEff line of /proc/self/status (hex), undefined when unknown.
 */
export function privilegeProblem(euid: number, capEffHex: string | undefined): string | undefined {
  if (euid !== 0) return NOT_ROOT_MESSAGE;
  if (capEffHex === undefined || !/^[0-9a-fA-F]{1,16}$/.test(capEffHex)) return undefined;
  const eff = BigInt(`0x${capEffHex}`);
  const missing = Object.entries(REQUIRED_CAPABILITIES)
    .filter(([, bit]) => (eff & (1n << BigInt(bit))) === 0n)
    .map(([name]) => name);
  if (missing.length === 0) return undefined;
  return `${NOT_ROOT_MESSAGE} (running as root but without ${missing.join(' and ')}; it needs ${Object.keys(REQUIRED_CAPABILITIES).join(' and ')})`;
}

/** The CapEff field of a /proc/PID/status text. */
export function capEffOf(statusText: string): string | undefined {
  return /^CapEff:\s*([0-9a-fA-F]+)\s*$/m.exec(statusText)?.[1];
}

/** The problem with this process's own credentials, if any. */
export function ownPrivilegeProblem(): string | undefined {
  let status: string | undefined;
  try {
    status = readFileSync('/proc/self/status', 'utf8');
  } catch {
    // Without /proc the capability check cannot be made; the uid check still is.
    status = undefined;
  }
  return privilegeProblem(process.geteuid?.() ?? -1, status === undefined ? undefined : capEffOf(status));
}
