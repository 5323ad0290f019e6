/**
 * The one iptables operation weft needs: keep ACCEPT rules for its bridges in Docker's
 * DOCKER-USER chain. When dockerd runs on the host it sets the FORWARD policy to DROP, and
 * with br_netfilter loaded even frames bridged between two containers of one weft network
 * traverse that chain; DOCKER-USER is the chain Docker documents for other tools' rules and
 * never flushes. Acts in the caller's network namespace; argument arrays, never a shell.
 */
import { execFile } from 'node:child_process';

/** Docker's user chain; iptables-nft keeps it in nf_tables table `ip filter`. */
export const DOCKER_USER_CHAIN = 'DOCKER-USER';
const CHAIN = DOCKER_USER_CHAIN;

function iptables(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('iptables', ['-w', '5', ...args], { timeout: 10_000 }, (err, _out, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stderr: String(stderr) });
    });
  });
}

/** Which iptables this host runs: its rules live in nf_tables (iptables-nft) or in the legacy x_tables. */
export type IptablesFlavour = 'nf_tables' | 'legacy' | 'missing';

/** `iptables -V` once: "iptables v1.8.9 (nf_tables)" or "(legacy)"; versions before 1.8 are legacy. */
export function iptablesFlavour(): Promise<IptablesFlavour> {
  return new Promise((resolve) => {
    execFile('iptables', ['-V'], { timeout: 10_000 }, (err, out) => {
      if (err) resolve('missing');
      else resolve(/\(nf_tables\)/.test(String(out)) ? 'nf_tables' : 'legacy');
    });
  });
}

const rulesFor = (bridge: string): string[][] => [
  ['-i', bridge, '-j', 'ACCEPT'],
  ['-o', bridge, '-m', 'conntrack', '--ctstate', 'RELATED,ESTABLISHED', '-j', 'ACCEPT'],
];

/** Whether Docker's user chain exists here (no iptables, or no Docker: false). */
export async function dockerUserChainExists(): Promise<boolean> {
  return (await iptables(['-n', '-L', CHAIN])).code === 0;
}

/** Ensure the bridge's ACCEPT rules are in DOCKER-USER (idempotent); false if there is no such chain. */
export async function ensureDockerUserAccept(bridge: string): Promise<boolean> {
  if (!(await dockerUserChainExists())) return false;
  for (const r of rulesFor(bridge)) {
    if ((await iptables(['-C', CHAIN, ...r])).code !== 0) {
      const add = await iptables(['-I', CHAIN, ...r]);
      if (add.code !== 0) throw new Error(`iptables -I ${CHAIN} ${r.join(' ')}: ${add.stderr.trim()}`);
    }
  }
  return true;
}

/** Remove the bridge's rules (missing = success). */
export async function removeDockerUserAccept(bridge: string): Promise<void> {
  for (const r of rulesFor(bridge)) {
    for (let i = 0; i < 16 && (await iptables(['-D', CHAIN, ...r])).code === 0; i++) {
      /* a rule inserted twice by hand is removed too */
    }
  }
}
