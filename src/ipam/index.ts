/** weft's IPAM core: addresses, prefixes, pools, allocation, default pools, MACs. Pure. */
export {
  type Addr,
  type Family,
  familyBits,
  formatAddress,
  maxAddressValue,
  normalizeAddress,
  parseAddress,
  tryParseAddress,
} from './address.js';
export {
  type Cidr,
  type ParseCidrOptions,
  addressWithPrefix,
  cidrContains,
  cidrContainsCidr,
  cidrOverlaps,
  cidrSize,
  firstAddress,
  formatCidr,
  hostRange,
  lastAddress,
  normalizeCidr,
  nthAddress,
  parseCidr,
  prefixMask,
  splitCidr,
} from './cidr.js';
export { type PoolInput, resolvePoolConfig } from './pool-config.js';
export { checkStaticAddress, nextFreeAddress, poolForFamily, reservedAddresses, subnetsOverlap } from './allocator.js';
export { type AddressPool, DEFAULT_POOLS_V4, DEFAULT_POOLS_V6, parseAddressPoolSpec, pickSubnet } from './default-pools.js';
export { macFromIPv4, parseMac, randomMac } from './mac.js';
