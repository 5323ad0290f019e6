/** weftd's routed-networking flags (--bgp, --bgp-as, --bgp-bird, --policy), checked before anything starts. Pure. */
import { InvalidArgumentError } from '../errors.js';

export interface BgpConfig {
  /** AS number of hosts that neither /weft/v1/bgp/config nor their own bgp/hosts/<id> record give one. */
  asNumber: number;
  /** The bird executable (default: found on PATH / sbin). */
  birdProgram?: string;
}

export interface BgpFlags {
  bgp?: boolean;
  bgpAs?: string;
  bgpBird?: string;
  clusterStore?: string;
}

/** Calico's default AS (a private one). */
export const DEFAULT_BGP_AS = 64512;

export function bgpFromFlags(f: BgpFlags): BgpConfig | undefined {
  if (!f.bgp) {
    if (f.bgpAs !== undefined) throw new InvalidArgumentError('bgp-as', '--bgp-as needs --bgp');
    if (f.bgpBird !== undefined) throw new InvalidArgumentError('bgp-bird', '--bgp-bird needs --bgp');
    return undefined;
  }
  if (f.clusterStore === undefined) throw new InvalidArgumentError('bgp', '--bgp announces cluster IPAM blocks: it needs --cluster-store');
  let asNumber = DEFAULT_BGP_AS;
  if (f.bgpAs !== undefined) {
    asNumber = /^\d{1,10}$/.test(f.bgpAs) ? Number(f.bgpAs) : NaN;
    if (!Number.isInteger(asNumber) || asNumber < 1 || asNumber > 4294967295)
      throw new InvalidArgumentError('bgp-as', `"${f.bgpAs}" must be an AS number between 1 and 4294967295`);
  }
  return { asNumber, ...(f.bgpBird !== undefined ? { birdProgram: f.bgpBird } : {}) };
}

/** --policy: enforce the cluster's policies on this host's endpoints (they live in the cluster store). */
export function policyFromFlags(f: { policy?: boolean; clusterStore?: string }): boolean {
  if (f.policy && f.clusterStore === undefined)
    throw new InvalidArgumentError('policy', "--policy enforces the cluster store's policies: it needs --cluster-store");
  return f.policy === true;
}
