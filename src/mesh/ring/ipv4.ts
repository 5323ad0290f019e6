/** IPv4 addresses as plain numbers for the ring's arithmetic (a universe is at most 2^32 wide). */
import { InvalidArgumentError } from '../../errors.js';
import { formatAddress, parseAddress } from '../../ipam/address.js';
import { parseCidr } from '../../ipam/cidr.js';

export function ip4ToNum(s: string, field = 'address'): number {
  const a = parseAddress(s, field);
  if (a.family !== 4) throw new InvalidArgumentError(field, `${s} is not an IPv4 address`);
  return Number(a.value);
}

export function numToIp4(n: number): string {
  return formatAddress({ family: 4, value: BigInt(n) });
}

/** A universe "10.32.0.0/12" as [start, end). */
export function parseUniverse(cidr: string): { start: number; end: number; prefix: number } {
  const c = parseCidr(cidr, 'subnet');
  if (c.family !== 4) throw new InvalidArgumentError('subnet', `the mesh ring splits IPv4 ranges; ${cidr} is not one`);
  if (c.host !== c.network) throw new InvalidArgumentError('subnet', `${cidr} has host bits set`);
  if (c.prefix > 30) throw new InvalidArgumentError('subnet', `${cidr} is too small to share between peers`);
  const start = Number(c.network);
  return { start, end: start + 2 ** (32 - c.prefix), prefix: c.prefix };
}
