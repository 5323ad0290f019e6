/**
 * One IPAM pool as given (--subnet, --ip-range, --gateway, --aux-address) → the validated,
 * normalized record kept with the network. Pure.
 *
 * Size rules: an IPv4 subnet needs room for a gateway and at least one endpoint. /31 and /127
 * are point-to-point prefixes (RFC 3021, RFC 6164) whose two addresses are both usable, so they
 * are accepted (gateway + one endpoint); /32 and /128 are refused. Docker's own IPAM also
 * refuses a subnet that cannot hold its gateway.
 *
 * The default gateway is the first host address of the subnet, even when an --ip-range is given
 * (Docker hands the gateway out of the ip-range instead; an explicit --gateway gives the same
 * result in both).
 */
import { InvalidArgumentError } from '../errors.js';
import type { IpamPoolConfig } from '../model/types.js';
import { type Addr, formatAddress, parseAddress } from './address.js';
import { type Cidr, cidrContains, cidrContainsCidr, formatCidr, hostRange, parseCidr } from './cidr.js';

/** A pool as given by the user; only `subnet` is required. */
export interface PoolInput {
  subnet: string;
  ipRange?: string;
  gateway?: string;
  auxAddresses?: Record<string, string>;
}

/** Validate and normalize a pool; defaults the gateway. Errors name the offending flag. */
export function resolvePoolConfig(input: PoolInput): IpamPoolConfig {
  // Host bits are refused, as Docker does ("10.20.0.5/24": did you mean 10.20.0.0/24?).
  const subnet = parseCidr(input.subnet, 'subnet', { strict: true });
  const subnetText = formatCidr(subnet);
  const bits = subnet.family === 4 ? 32 : 128;
  if (subnet.prefix >= bits) {
    throw new InvalidArgumentError('subnet', `${subnetText} is too small: it has no room for a gateway and an endpoint`);
  }

  let ipRange: string | undefined;
  if (input.ipRange !== undefined) {
    const range = parseCidr(input.ipRange, 'ip-range', { strict: true });
    checkFamily('ip-range', input.ipRange, range.family, subnet);
    if (!cidrContainsCidr(subnet, range)) {
      throw new InvalidArgumentError('ip-range', `${formatCidr(range)} is not inside subnet ${subnetText}`);
    }
    ipRange = formatCidr(range);
  }

  const gw =
    input.gateway === undefined
      ? { family: subnet.family, value: hostRange(subnet).first }
      : checkHostAddress('gateway', input.gateway, subnet);
  const gateway = formatAddress(gw);

  const auxAddresses: Record<string, string> = {};
  const seen = new Map<string, string>([[gateway, 'the gateway']]);
  for (const [name, value] of Object.entries(input.auxAddresses ?? {})) {
    if (name === '') throw new InvalidArgumentError('aux-address', `"${value}" needs a name (name=address)`);
    const text = formatAddress(checkHostAddress('aux-address', value, subnet));
    const clash = seen.get(text);
    if (clash !== undefined) {
      throw new InvalidArgumentError('aux-address', `${name}=${text} is already ${clash}`);
    }
    seen.set(text, `aux address "${name}"`);
    auxAddresses[name] = text;
  }
  return { subnet: subnetText, ...(ipRange === undefined ? {} : { ipRange }), gateway, auxAddresses };
}

function checkFamily(field: string, text: string, family: 4 | 6, subnet: Cidr): void {
  if (family !== subnet.family) {
    throw new InvalidArgumentError(field, `"${text}" is IPv${family} but subnet ${formatCidr(subnet)} is IPv${subnet.family}`);
  }
}

/** An address inside the subnet that a host may hold (not the network or broadcast address). */
function checkHostAddress(field: string, text: string, subnet: Cidr): Addr {
  const a = parseAddress(text, field);
  checkFamily(field, text, a.family, subnet);
  const subnetText = formatCidr(subnet);
  if (!cidrContains(subnet, a)) {
    throw new InvalidArgumentError(field, `${formatAddress(a)} is not inside subnet ${subnetText}`);
  }
  const { first, last } = hostRange(subnet);
  if (a.value < first) {
    const what = a.family === 6 ? 'network (subnet-router anycast) address' : 'network address';
    throw new InvalidArgumentError(field, `${formatAddress(a)} is the ${what} of ${subnetText}`);
  }
  if (a.value > last) {
    throw new InvalidArgumentError(field, `${formatAddress(a)} is the broadcast address of ${subnetText}`);
  }
  return a;
}
