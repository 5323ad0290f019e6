/**
 * Ethernet (EUI-48) addresses for endpoints: parsing user input and generating addresses.
 * Pure apart from the random source.
 */
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '../errors.js';
import { type Addr, formatAddress, parseAddress } from './address.js';

// The forms Go's net.ParseMAC takes for 48-bit addresses (what Docker accepts for --mac-address).
const COLON_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const DASH_RE = /^[0-9a-f]{2}(-[0-9a-f]{2}){5}$/i;
const DOT_RE = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i;

function format(bytes: Uint8Array | number[]): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * Parse a unicast MAC ("02:42:AC:11:00:02", "02-42-…", "0242.ac11.0002") into lowercase colon
 * form. Multicast/broadcast and all-zero addresses cannot be an interface's address.
 */
export function parseMac(s: string, field: string): string {
  const text = String(s);
  let hex: string;
  if (COLON_RE.test(text) || DASH_RE.test(text)) hex = text.replace(/[:-]/g, '');
  else if (DOT_RE.test(text)) hex = text.replace(/\./g, '');
  else throw new InvalidArgumentError(field, `"${text}" is not a MAC address (expected e.g. 02:42:ac:11:00:02)`);
  const bytes: number[] = [];
  for (let i = 0; i < 12; i += 2) bytes.push(parseInt(hex.slice(i, i + 2), 16));
  const mac = format(bytes);
  if (bytes[0]! & 1) throw new InvalidArgumentError(field, `${mac} is a multicast/broadcast address; an interface needs a unicast one`);
  if (bytes.every((b) => b === 0)) throw new InvalidArgumentError(field, `${mac} (all zeros) is not a usable address`);
  return mac;
}

/** Docker-style MAC from an IPv4 address: 02:42 (locally administered, unicast) + the 4 bytes. */
export function macFromIPv4(addr: string | Addr): string {
  const a = typeof addr === 'string' ? parseAddress(addr, 'ipv4') : addr;
  if (a.family !== 4)
    throw new InvalidArgumentError('ipv4', `${typeof addr === 'string' ? addr : formatAddress(addr)} is not an IPv4 address`);
  const v = Number(a.value);
  return format([0x02, 0x42, (v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255]);
}

/** A random locally administered unicast MAC. `random` is injectable for tests. */
export function randomMac(random: (n: number) => Uint8Array = randomBytes): string {
  const b = Uint8Array.from(random(6));
  b[0] = (b[0]! & 0xfe) | 0x02;
  // All-zero is impossible now (bit 1 is set), so every result passes parseMac.
  return format(b);
}
