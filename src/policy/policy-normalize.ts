/**
 * From Calico-shaped input (already of the right types, see policy-schema.ts) to the validated
 * model: protocols canonical, selectors parsed, CIDRs canonical and of one family, ports as
 * ranges, and every combination Calico refuses refused here too — each problem reported with
 * its path. Pure.
 */
import { WeftError } from '../errors.js';
import { formatCidr, parseCidr, tryParseAddress } from '../ipam/cidr.js';
import type { PolicyIssue } from './policy-errors.js';
import type { EntityRaw, IcmpRaw, PolicySpecRaw, RuleRaw } from './policy-schema.js';
import type {
  EntityMatch,
  IcmpMatch,
  IpVersion,
  NamedProtocol,
  Policy,
  PolicyAction,
  PolicyDirection,
  PolicyProtocol,
  PolicyRule,
  PortRange,
} from './policy-types.js';
import { Selector } from './selector.js';

/** Collects problems so a file reports all of them at once. */
export class Issues {
  readonly list: PolicyIssue[] = [];
  add(path: string, message: string): undefined {
    this.list.push({ path, message });
    return undefined;
  }
  /** Record a WeftError thrown by a helper under its own field. */
  addError(path: string, err: unknown): undefined {
    if (!(err instanceof WeftError)) throw err;
    const field = err.field ?? path;
    return this.add(field, err.message.startsWith(`${field}: `) ? err.message.slice(field.length + 2) : err.message);
  }
}

const PROTOCOL_NAMES: Record<string, NamedProtocol> = {
  tcp: 'TCP',
  udp: 'UDP',
  icmp: 'ICMP',
  icmpv6: 'ICMPv6',
  sctp: 'SCTP',
  udplite: 'UDPLite',
};
export const PROTOCOL_NUMBERS: Readonly<Record<NamedProtocol, number>> = { TCP: 6, UDP: 17, ICMP: 1, ICMPv6: 58, SCTP: 132, UDPLite: 136 };
const NAME_OF_NUMBER = new Map(Object.entries(PROTOCOL_NUMBERS).map(([k, v]) => [v, k as NamedProtocol]));
/** Protocols whose header starts with source and destination ports. */
export const PORT_PROTOCOLS: readonly PolicyProtocol[] = ['TCP', 'UDP', 'SCTP', 'UDPLite'];

const ACTIONS: readonly PolicyAction[] = ['Allow', 'Deny', 'Log', 'Pass'];
const POLICY_NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?$/;

function oneOf<T extends string>(value: string, allowed: readonly T[]): T | undefined {
  return allowed.find((a) => a.toLowerCase() === value.toLowerCase());
}

export function parseProtocol(v: string | number, path: string, issues: Issues): PolicyProtocol | undefined {
  if (typeof v === 'number' || /^\d+$/.test(v)) {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > 255) return issues.add(path, `protocol number ${String(v)} is out of range (1-255)`);
    return NAME_OF_NUMBER.get(n) ?? n;
  }
  const named = PROTOCOL_NAMES[v.toLowerCase()];
  if (named === undefined)
    return issues.add(path, `unknown protocol "${v}" (expected TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or a number 1-255)`);
  return named;
}

export function parsePort(v: string | number, path: string, issues: Issues): PortRange | undefined {
  const check = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 65535;
  if (typeof v === 'number') return check(v) ? { min: v, max: v } : issues.add(path, `port ${v} is out of range (0-65535)`);
  const m = /^\s*(\d{1,5})\s*(?::\s*(\d{1,5})\s*)?$/.exec(v);
  if (!m) {
    if (/^[a-z]/i.test(v))
      return issues.add(path, `named port "${v}" is not supported (weft endpoints declare no named ports); use a number`);
    return issues.add(path, `"${v}" is not a port or a range "min:max"`);
  }
  const min = Number(m[1]);
  const max = m[2] === undefined ? min : Number(m[2]);
  if (!check(min) || !check(max)) return issues.add(path, `"${v}" is out of range (0-65535)`);
  if (min > max) return issues.add(path, `port range "${v}" is reversed (${min} > ${max})`);
  return { min, max };
}

function parseIcmp(raw: IcmpRaw, path: string, issues: Issues): IcmpMatch | undefined {
  const { type, code } = raw;
  if (type === null || type === undefined)
    return code === null || code === undefined ? issues.add(path, 'type is required') : issues.add(`${path}.code`, 'code needs a type');
  if (!Number.isInteger(type) || type < 0 || type > 254) return issues.add(`${path}.type`, `ICMP type ${type} is out of range (0-254)`);
  if (code === null || code === undefined) return { type };
  if (!Number.isInteger(code) || code < 0 || code > 255) return issues.add(`${path}.code`, `ICMP code ${code} is out of range (0-255)`);
  return { type, code };
}

function parseSelectorAt(text: string | null | undefined, path: string, issues: Issues): Selector | undefined {
  if (text === null || text === undefined || text.trim() === '') return undefined;
  try {
    return Selector.parse(text, path);
  } catch (err) {
    return issues.addError(path, err);
  }
}

/** CIDRs (a bare address means /32 or /128), canonical, with the family each has. */
function parseNets(
  list: readonly string[] | null | undefined,
  path: string,
  issues: Issues,
  families: Set<IpVersion>,
): string[] | undefined {
  if (!list || list.length === 0) return undefined;
  const out: string[] = [];
  list.forEach((s, i) => {
    const bare = tryParseAddress(s);
    const text = bare ? `${s}/${bare.family === 4 ? 32 : 128}` : s;
    try {
      const c = parseCidr(text, `${path}[${i}]`);
      families.add(c.family);
      out.push(formatCidr(c));
    } catch (err) {
      issues.addError(`${path}[${i}]`, err);
    }
  });
  return [...new Set(out)];
}

function parsePorts(list: readonly (string | number)[] | null | undefined, path: string, issues: Issues): PortRange[] | undefined {
  if (!list || list.length === 0) return undefined;
  return list.map((p, i) => parsePort(p, `${path}[${i}]`, issues)).filter((p): p is PortRange => p !== undefined);
}

const UNSUPPORTED_ENTITY: Record<string, string> = {
  namespaceSelector: 'weft has no namespaces; select by labels, or by the implicit label weft.network',
  serviceAccounts: 'weft endpoints have no service accounts',
  services: 'weft has no Kubernetes services',
};

function parseEntity(raw: EntityRaw | null | undefined, path: string, issues: Issues, families: Set<IpVersion>): EntityMatch {
  if (!raw) return {};
  for (const [k, why] of Object.entries(UNSUPPORTED_ENTITY)) {
    if (raw[k as keyof EntityRaw] !== undefined && raw[k as keyof EntityRaw] !== null) issues.add(`${path}.${k}`, `not supported: ${why}`);
  }
  const out: EntityMatch = {};
  const nets = parseNets(raw.nets, `${path}.nets`, issues, families);
  const notNets = parseNets(raw.notNets, `${path}.notNets`, issues, families);
  const selector = parseSelectorAt(raw.selector, `${path}.selector`, issues);
  const notSelector = parseSelectorAt(raw.notSelector, `${path}.notSelector`, issues);
  const ports = parsePorts(raw.ports, `${path}.ports`, issues);
  const notPorts = parsePorts(raw.notPorts, `${path}.notPorts`, issues);
  if (nets) out.nets = nets;
  if (notNets) out.notNets = notNets;
  if (selector) out.selector = selector;
  if (notSelector) out.notSelector = notSelector;
  if (ports) out.ports = ports;
  if (notPorts) out.notPorts = notPorts;
  return out;
}

/** One rule; `allowPass` is false in profiles (nothing comes after a profile). */
export function normalizeRule(raw: RuleRaw, path: string, issues: Issues, allowPass = true): PolicyRule | undefined {
  const action = oneOf(raw.action, ACTIONS);
  if (!action) issues.add(`${path}.action`, `unknown action "${raw.action}" (expected Allow, Deny, Log or Pass)`);
  else if (action === 'Pass' && !allowPass) issues.add(`${path}.action`, 'Pass is not allowed in a profile (nothing comes after it)');
  if (raw.http !== undefined && raw.http !== null) issues.add(`${path}.http`, 'not supported: weft enforces policy at layers 3 and 4 only');
  const rule: PolicyRule = { action: action ?? 'Deny', source: {}, destination: {} };
  const families = new Set<IpVersion>();
  if (raw.ipVersion !== null && raw.ipVersion !== undefined) {
    if (raw.ipVersion !== 4 && raw.ipVersion !== 6) issues.add(`${path}.ipVersion`, `must be 4 or 6, not ${raw.ipVersion}`);
    else rule.ipVersion = raw.ipVersion;
  }
  const protocol =
    raw.protocol === null || raw.protocol === undefined ? undefined : parseProtocol(raw.protocol, `${path}.protocol`, issues);
  const notProtocol =
    raw.notProtocol === null || raw.notProtocol === undefined ? undefined : parseProtocol(raw.notProtocol, `${path}.notProtocol`, issues);
  if (protocol !== undefined) rule.protocol = protocol;
  if (notProtocol !== undefined) rule.notProtocol = notProtocol;
  for (const key of ['icmp', 'notICMP'] as const) {
    const v = raw[key];
    if (v === null || v === undefined) continue;
    if (protocol !== 'ICMP' && protocol !== 'ICMPv6') issues.add(`${path}.${key}`, `${key} needs protocol ICMP or ICMPv6`);
    const m = parseIcmp(v, `${path}.${key}`, issues);
    if (m) rule[key] = m;
  }
  rule.source = parseEntity(raw.source, `${path}.source`, issues, families);
  rule.destination = parseEntity(raw.destination, `${path}.destination`, issues, families);
  for (const side of ['source', 'destination'] as const) {
    for (const key of ['ports', 'notPorts'] as const) {
      if (rule[side][key] && !PORT_PROTOCOLS.includes(protocol ?? -1)) {
        issues.add(
          `${path}.${side}.${key}`,
          `ports need protocol TCP, UDP, SCTP or UDPLite (protocol is ${protocol === undefined ? 'not set' : String(protocol)})`,
        );
      }
    }
  }
  if (protocol === 'ICMP') families.add(4);
  if (protocol === 'ICMPv6') families.add(6);
  if (rule.ipVersion !== undefined) families.add(rule.ipVersion);
  if (families.size > 1) {
    issues.add(path, 'mixes IPv4 and IPv6 (through ipVersion, ICMP/ICMPv6 or nets): such a rule can never match; split it in two');
  }
  if (raw.metadata?.annotations) rule.annotations = { ...raw.metadata.annotations };
  return rule;
}

function normalizeTypes(spec: PolicySpecRaw, at: (field: string) => string, issues: Issues): PolicyDirection[] {
  const hasIn = (spec.ingress?.length ?? 0) > 0;
  const hasEg = (spec.egress?.length ?? 0) > 0;
  if (spec.types === null || spec.types === undefined) {
    // Calico's defaults: egress rules alone make an Egress policy, anything else is Ingress.
    return hasIn && hasEg ? ['Ingress', 'Egress'] : hasEg ? ['Egress'] : ['Ingress'];
  }
  const out: PolicyDirection[] = [];
  spec.types.forEach((t, i) => {
    const d = oneOf(t, ['Ingress', 'Egress'] as const);
    if (!d) issues.add(at(`types[${i}]`), `unknown type "${t}" (expected Ingress or Egress)`);
    else if (!out.includes(d)) out.push(d);
  });
  if (hasIn && !out.includes('Ingress')) issues.add(at('ingress'), 'ingress rules are present but types does not include Ingress');
  if (hasEg && !out.includes('Egress')) issues.add(at('egress'), 'egress rules are present but types does not include Egress');
  return (['Ingress', 'Egress'] as const).filter((d) => out.includes(d));
}

const UNSUPPORTED_SPEC: Record<string, string> = {
  serviceAccountSelector: 'weft endpoints have no service accounts',
  namespaceSelector: 'weft has no namespaces; use the implicit label weft.network in the selector',
  doNotTrack: 'host endpoint policy is not supported',
  preDNAT: 'host endpoint policy is not supported',
  applyOnForward: 'host endpoint policy is not supported',
};

/** Policy name as Calico accepts it. */
export function checkPolicyName(name: string, path: string, issues: Issues): void {
  if (!POLICY_NAME_RE.test(name))
    issues.add(path, `${JSON.stringify(name)} is not a valid policy name (1-253 of A-Z a-z 0-9 . _ -, starting and ending alphanumeric)`);
}

/** A policy spec with its identity; `specPath` prefixes every issue (e.g. "spec"). */
export function normalizePolicySpec(
  id: { kind: Policy['kind']; name: string; network?: string },
  spec: PolicySpecRaw,
  specPath: string,
  issues: Issues,
): Policy {
  const at = (field: string): string => (specPath === '' ? field : `${specPath}.${field}`);
  for (const [k, why] of Object.entries(UNSUPPORTED_SPEC)) {
    const v = spec[k as keyof PolicySpecRaw];
    if (v !== undefined && v !== null && v !== false && v !== '') issues.add(at(k), `not supported: ${why}`);
  }
  if (spec.tier !== null && spec.tier !== undefined && spec.tier !== 'default')
    issues.add(at('tier'), 'only the "default" tier exists in weft');
  if (spec.order !== null && spec.order !== undefined && !Number.isFinite(spec.order)) issues.add(at('order'), 'must be a finite number');
  const types = normalizeTypes(spec, at, issues);
  const rules = (list: PolicySpecRaw['ingress'], field: string): PolicyRule[] =>
    (list ?? []).map((r, i) => normalizeRule(r, at(`${field}[${i}]`), issues)).filter((r): r is PolicyRule => r !== undefined);
  const policy: Policy = {
    kind: id.kind,
    name: id.name,
    selector: parseSelectorAt(spec.selector, at('selector'), issues) ?? Selector.ALL,
    types,
    ingress: rules(spec.ingress, 'ingress'),
    egress: rules(spec.egress, 'egress'),
  };
  if (id.network !== undefined) policy.network = id.network;
  if (spec.order !== null && spec.order !== undefined && Number.isFinite(spec.order)) policy.order = spec.order;
  return policy;
}
