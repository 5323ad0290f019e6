/**
 * Docker's `-p` syntax: `[HOSTIP:][HOSTPORT[-END]]:PORT[-END][/PROTO]` or `PORT[-END][/PROTO]`,
 * with IPv6 host addresses in brackets (`[::1]:8080:80`). Pure.
 */
import { InvalidArgumentError } from '../errors.js';
import { FW_PROTOCOLS, type FwPortMapping, type FwProtocol } from './types.js';
import { normalizeIp } from './validate.js';

/** One container port to publish. */
export interface PortBinding {
  protocol: FwProtocol;
  /** Undefined = all host addresses. */
  hostIp?: string;
  /** 0 = let the caller choose a free port. */
  hostPort: number;
  /**
   * Set when a host range was given for a single container port (`8000-8010:80`): the caller
   * picks one free port from hostPort..hostPortEnd, as Docker does.
   */
  hostPortEnd?: number;
  containerPort: number;
}

const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

function parseRange(text: string, spec: string, what: string, field: string): [number, number] {
  const m = PORT_RE.exec(text);
  if (!m) throw new InvalidArgumentError(field, `${JSON.stringify(spec)}: invalid ${what} ${JSON.stringify(text)}`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  for (const p of [start, end]) {
    if (p < 1 || p > 65535) throw new InvalidArgumentError(field, `${JSON.stringify(spec)}: ${what} ${p} is out of range (1-65535)`);
  }
  if (end < start) throw new InvalidArgumentError(field, `${JSON.stringify(spec)}: ${what} range ${text} is reversed`);
  return [start, end];
}

/**
 * Parse one `-p` value into one binding per container port. Errors are InvalidArgumentError
 * naming `field`.
 */
export function parsePortSpec(spec: string, field = 'publish'): PortBinding[] {
  if (typeof spec !== 'string' || spec.trim() === '') throw new InvalidArgumentError(field, 'empty port specification');
  const shown = JSON.stringify(spec);
  let rest = spec;
  let protocol: FwProtocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash !== -1) {
    const p = rest.slice(slash + 1).toLowerCase();
    if (!FW_PROTOCOLS.includes(p as FwProtocol))
      throw new InvalidArgumentError(field, `${shown}: unknown protocol ${JSON.stringify(rest.slice(slash + 1))} (tcp, udp or sctp)`);
    protocol = p as FwProtocol;
    rest = rest.slice(0, slash);
  }
  let ipText: string | undefined;
  let hostText = '';
  let containerText: string;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1 || rest[close + 1] !== ':') throw new InvalidArgumentError(field, `${shown}: expected [IPv6]:HOSTPORT:PORT`);
    ipText = rest.slice(1, close);
    const tail = rest.slice(close + 2).split(':');
    if (tail.length !== 2) throw new InvalidArgumentError(field, `${shown}: expected [IPv6]:HOSTPORT:PORT`);
    [hostText, containerText] = tail as [string, string];
  } else {
    const parts = rest.split(':');
    const n = parts.length;
    containerText = parts[n - 1]!;
    if (n === 2) hostText = parts[0]!;
    if (n >= 3) {
      // More than three parts: an unbracketed IPv6 address, as Docker accepts.
      ipText = parts.slice(0, n - 2).join(':');
      hostText = parts[n - 2]!;
    }
  }
  if (containerText === '') throw new InvalidArgumentError(field, `${shown}: missing container port`);
  const [cStart, cEnd] = parseRange(containerText, spec, 'container port', field);
  let hostIp: string | undefined;
  if (ipText !== undefined && ipText !== '') {
    try {
      hostIp = normalizeIp(ipText, field).ip;
    } catch (err) {
      throw new InvalidArgumentError(field, `${shown}: invalid host IP ${JSON.stringify(ipText)}`, err);
    }
  }
  const base = (containerPort: number, hostPort: number): PortBinding =>
    hostIp === undefined ? { protocol, hostPort, containerPort } : { protocol, hostIp, hostPort, containerPort };
  const out: PortBinding[] = [];
  if (hostText === '') {
    for (let p = cStart; p <= cEnd; p++) out.push(base(p, 0));
    return out;
  }
  const [hStart, hEnd] = parseRange(hostText, spec, 'host port', field);
  if (cStart === cEnd && hEnd > hStart) return [{ ...base(cStart, hStart), hostPortEnd: hEnd }];
  if (hEnd - hStart !== cEnd - cStart) {
    throw new InvalidArgumentError(
      field,
      `${shown}: host port range ${hostText} and container port range ${containerText} differ in length`,
    );
  }
  for (let i = 0; i <= cEnd - cStart; i++) out.push(base(cStart + i, hStart + i));
  return out;
}

/** Mappings for one container address; every binding must have its host port chosen. */
export function bindingsToMappings(
  bindings: readonly PortBinding[],
  networkId: string,
  containerIp: string,
  field = 'publish',
): FwPortMapping[] {
  return bindings.map((b) => {
    if (b.hostPort === 0 || b.hostPortEnd !== undefined) {
      throw new InvalidArgumentError(field, `host port for container port ${b.containerPort}/${b.protocol} is not chosen yet`);
    }
    const m: FwPortMapping = { networkId, protocol: b.protocol, hostPort: b.hostPort, containerIp, containerPort: b.containerPort };
    if (b.hostIp !== undefined) m.hostIp = b.hostIp;
    return m;
  });
}
