/** The bridge driver's `-o` options (Docker's names where they exist). Pure. */
import { InvalidArgumentError, WeftError } from '../../errors.js';
import type { NetworkRecord } from '../../model/types.js';
import { parseBool, parseMtu, validateIfname } from '../../config/validate.js';
import { parseAddress, parseCidr } from '../../ipam/cidr.js';
import { parseMac } from '../../ipam/mac.js';

export const BRIDGE_OPTIONS = {
  name: 'com.docker.network.bridge.name',
  mtu: 'com.docker.network.driver.mtu',
  masquerade: 'com.docker.network.bridge.enable_ip_masquerade',
  icc: 'com.docker.network.bridge.enable_icc',
  hostBindingIpv4: 'com.docker.network.bridge.host_binding_ipv4',
  ifacePrefix: 'com.docker.network.container_iface_prefix',
  mac: 'weft.bridge.mac',
  /** Use an existing bridge as it is (weft adds and later removes only its gateway addresses). */
  adopt: 'weft.bridge.adopt',
} as const;

const KNOWN = new Set<string>(Object.values(BRIDGE_OPTIONS));

export interface BridgeOptions {
  bridgeName: string;
  mtu: number;
  masquerade: boolean;
  icc: boolean;
  hostBindingIpv4?: string;
  ifacePrefix: string;
  mac?: string;
  adopt: boolean;
}

/** Parse and check options; `defaultName` is used when no bridge name is given. */
export function parseBridgeOptions(options: Record<string, string>, defaultName: string, ipv6: boolean): BridgeOptions {
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw new InvalidArgumentError(`opt ${k}`, `unknown option for the bridge driver (known: ${[...KNOWN].join(', ')})`);
  }
  const o = options;
  const get = (k: string): string | undefined => o[k];
  const name = get(BRIDGE_OPTIONS.name);
  const out: BridgeOptions = {
    bridgeName: validateIfname(BRIDGE_OPTIONS.name, name ?? defaultName),
    mtu: get(BRIDGE_OPTIONS.mtu) === undefined ? 1500 : parseMtu(BRIDGE_OPTIONS.mtu, get(BRIDGE_OPTIONS.mtu), ipv6),
    masquerade: get(BRIDGE_OPTIONS.masquerade) === undefined ? true : parseBool(BRIDGE_OPTIONS.masquerade, get(BRIDGE_OPTIONS.masquerade)),
    icc: get(BRIDGE_OPTIONS.icc) === undefined ? true : parseBool(BRIDGE_OPTIONS.icc, get(BRIDGE_OPTIONS.icc)),
    ifacePrefix: get(BRIDGE_OPTIONS.ifacePrefix) ?? 'eth',
    adopt: get(BRIDGE_OPTIONS.adopt) === undefined ? false : parseBool(BRIDGE_OPTIONS.adopt, get(BRIDGE_OPTIONS.adopt)),
  };
  if (out.adopt && name === undefined)
    throw new InvalidArgumentError(BRIDGE_OPTIONS.adopt, `needs ${BRIDGE_OPTIONS.name}: the existing bridge to use`);
  const hb = get(BRIDGE_OPTIONS.hostBindingIpv4);
  if (hb !== undefined) {
    const a = parseAddress(hb, BRIDGE_OPTIONS.hostBindingIpv4);
    if (a.family !== 4) throw new InvalidArgumentError(BRIDGE_OPTIONS.hostBindingIpv4, `"${hb}" is not an IPv4 address`);
    out.hostBindingIpv4 = hb;
  }
  // The prefix plus a number must still fit in 15 bytes.
  validateIfname(BRIDGE_OPTIONS.ifacePrefix, `${out.ifacePrefix}99`);
  if (/\d$/.test(out.ifacePrefix)) throw new InvalidArgumentError(BRIDGE_OPTIONS.ifacePrefix, 'must not end with a digit');
  const mac = get(BRIDGE_OPTIONS.mac);
  if (mac !== undefined && out.adopt)
    throw new InvalidArgumentError(BRIDGE_OPTIONS.mac, 'an adopted bridge keeps its own MAC: weft does not change it');
  if (mac !== undefined) out.mac = parseMac(mac, BRIDGE_OPTIONS.mac);
  return out;
}

/** Driver state stored with the network record (flat strings). */
export function bridgeStateOf(o: BridgeOptions): Record<string, string> {
  const s: Record<string, string> = {
    bridgeName: o.bridgeName,
    mtu: String(o.mtu),
    masquerade: String(o.masquerade),
    icc: String(o.icc),
    ifacePrefix: o.ifacePrefix,
  };
  if (o.hostBindingIpv4 !== undefined) s.hostBindingIpv4 = o.hostBindingIpv4;
  if (o.mac !== undefined) s.mac = o.mac;
  if (o.adopt) s.adopt = 'true';
  return s;
}

/** Locally administered unicast MAC from the network id: 02:xx:xx:xx:xx:xx. */
export function bridgeMacOf(networkId: string): string {
  return ['02', ...(networkId.slice(0, 10).match(/../g) ?? [])].join(':');
}

/** "gateway/prefix" for each pool of a network. */
export function gatewayCidrs(net: NetworkRecord): string[] {
  return net.ipam.config.map((p) => `${p.gateway}/${parseCidr(p.subnet, 'subnet').prefix}`);
}

/** The bridge's interface name (set by validate, so every stored bridge network has one). */
export function bridgeNameOf(net: NetworkRecord): string {
  const name = net.driverState.bridgeName;
  if (!name) throw new WeftError('WEFT_INTERNAL', `network ${net.name} has no bridge name in its driver state`);
  return name;
}
