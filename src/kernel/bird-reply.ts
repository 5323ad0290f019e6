/**
 * BIRD's control-socket replies, decoded. Pure: no sockets here (see bird-control.ts).
 *
 * The wire format: every line ends in "\n" and is one of
 *   "DDDD-text"  a line of reply code DDDD, more lines follow;
 *   " text"      a further line of the previous code;
 *   "DDDD text"  the last line of the reply (the reply's own code).
 * Codes 0xxx report success or state, 1xxx/2xxx carry tables, 8xxx are run-time errors and
 * 9xxx mean the command itself did not parse.
 */

export interface BirdReplyLine {
  code: number;
  text: string;
}

export interface BirdReply {
  /** Every line, in order, with the code it belongs to (continuations inherit it). */
  lines: BirdReplyLine[];
  /** Code of the final line. */
  code: number;
  /** Text of the final line. */
  text: string;
}

/** Codes that end a `configure` or `configure check` successfully. */
export const BIRD_CONFIGURE_OK = new Set([3, 4, 5, 19, 20]);

/** Whether a reply code is an error (run-time 8xxx, syntax 9xxx). */
export function isBirdError(code: number): boolean {
  return code >= 8000;
}

const CODED = /^(\d{4})([ -])(.*)$/;

/** Incremental framer: feed socket chunks, take complete replies. */
export class BirdReplyReader {
  private partial = '';
  private lines: BirdReplyLine[] = [];
  private lastCode = 0;

  /** Feed text; returns every reply completed by it. Throws on a line that fits no form. */
  push(chunk: string): BirdReply[] {
    this.partial += chunk;
    const done: BirdReply[] = [];
    let nl: number;
    while ((nl = this.partial.indexOf('\n')) >= 0) {
      const line = this.partial.slice(0, nl);
      this.partial = this.partial.slice(nl + 1);
      const m = CODED.exec(line);
      if (m) {
        this.lastCode = Number(m[1]);
        this.lines.push({ code: this.lastCode, text: m[3]! });
        if (m[2] === ' ') {
          done.push({ lines: this.lines, code: this.lastCode, text: m[3]! });
          this.lines = [];
        }
      } else if (line.startsWith(' ')) {
        this.lines.push({ code: this.lastCode, text: line.slice(1) });
      } else {
        throw new Error(`unexpected line from BIRD: ${JSON.stringify(line.slice(0, 80))}`);
      }
    }
    return done;
  }
}

/** Decode a whole reply given as text (tests, captured output). */
export function parseBirdReply(text: string): BirdReply {
  const replies = new BirdReplyReader().push(text);
  if (replies.length !== 1) throw new Error(`expected one reply, got ${replies.length}`);
  return replies[0]!;
}

// ---- show protocols [all] ----

export interface BirdChannel {
  /** "ipv4", "ipv6". */
  name: string;
  state?: string;
  table?: string;
  imported?: number;
  filtered?: number;
  exported?: number;
  preferred?: number;
}

export interface BirdBgpDetails {
  /** Idle, Connect, Active, OpenSent, OpenConfirm, Established. */
  state: string;
  neighborAddress?: string;
  neighborAs?: number;
  localAs?: number;
  neighborId?: string;
  sourceAddress?: string;
  session?: string;
  lastError?: string;
  holdTimer?: string;
  keepaliveTimer?: string;
}

export interface BirdProtocol {
  name: string;
  /** BGP, Kernel, Static, Direct, Device. */
  proto: string;
  table: string;
  /** up, down, start, stop, … */
  state: string;
  since: string;
  info: string;
  description?: string;
  bgp?: BirdBgpDetails;
  channels: BirdChannel[];
}

// name proto table state since(date+time or one token) info
const SUMMARY = /^(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(?:\.\d+)?|\S+)\s*(.*)$/;
const ROUTES = /(\d+) imported, (?:(\d+) filtered, )?(\d+) exported(?:, (\d+) preferred)?/;

function keyValue(text: string): [string, string] | undefined {
  const m = /^\s*([A-Za-z][A-Za-z0-9 ]*?):\s*(.*)$/.exec(text);
  return m ? [m[1]!, m[2]!.trim()] : undefined;
}

function applyDetail(p: BirdProtocol, channel: BirdChannel | undefined, key: string, value: string): void {
  if (channel) {
    if (key === 'State') channel.state = value;
    else if (key === 'Table') channel.table = value;
    else if (key === 'Routes') {
      const m = ROUTES.exec(value);
      if (m) {
        channel.imported = Number(m[1]);
        if (m[2] !== undefined) channel.filtered = Number(m[2]);
        channel.exported = Number(m[3]);
        if (m[4] !== undefined) channel.preferred = Number(m[4]);
      }
    }
    return;
  }
  if (key === 'Description') {
    p.description = value;
    return;
  }
  if (!p.bgp) return;
  const b = p.bgp;
  switch (key) {
    case 'BGP state':
      b.state = value;
      break;
    case 'Neighbor address':
      b.neighborAddress = value;
      break;
    case 'Neighbor AS':
      b.neighborAs = Number(value);
      break;
    case 'Local AS':
      b.localAs = Number(value);
      break;
    case 'Neighbor ID':
      b.neighborId = value;
      break;
    case 'Source address':
      b.sourceAddress = value;
      break;
    case 'Session':
      b.session = value;
      break;
    case 'Last error':
      b.lastError = value;
      break;
    case 'Hold timer':
      b.holdTimer = value;
      break;
    case 'Keepalive timer':
      b.keepaliveTimer = value;
      break;
  }
}

/** Decode `show protocols` or `show protocols all [name]`. */
export function parseProtocols(reply: BirdReply): BirdProtocol[] {
  const out: BirdProtocol[] = [];
  let channel: BirdChannel | undefined;
  for (const { code, text } of reply.lines) {
    if (code === 1002) {
      const m = SUMMARY.exec(text);
      if (!m) continue;
      const [, name, proto, table, state, since, info] = m as unknown as [string, string, string, string, string, string, string];
      const p: BirdProtocol = { name, proto, table, state, since, info: info.trim(), channels: [] };
      if (proto === 'BGP') {
        // The info column of a BGP protocol: its state, then the last error after a wide gap.
        const [bgpState, ...rest] = info.trim().split(/\s{2,}/);
        p.bgp = { state: bgpState ?? '' };
        if (rest.length > 0) p.bgp.lastError = rest.join(' ');
      }
      out.push(p);
      channel = undefined;
    } else if (code === 1006) {
      const p = out[out.length - 1];
      if (!p) continue;
      const ch = /^\s*Channel (\S+)$/.exec(text);
      if (ch) {
        channel = { name: ch[1]! };
        p.channels.push(channel);
        continue;
      }
      const kv = keyValue(text);
      if (kv) applyDetail(p, channel, kv[0], kv[1]);
    }
  }
  return out;
}

// ---- show route [all] ----

export interface BirdNextHop {
  via?: string;
  dev?: string;
}

export interface BirdRoute {
  table: string;
  net: string;
  /** unicast, blackhole, unreachable, prohibit. */
  kind: string;
  protocol: string;
  since: string;
  /** The route BIRD selected for the net (marked "*"). */
  primary: boolean;
  preference?: number;
  /** "from ADDR" for routes learned through another speaker (reflected, multihop). */
  from?: string;
  /** The trailing bracket, e.g. "i" or "AS64513i" (origin and first AS). */
  origin?: string;
  nextHops: BirdNextHop[];
  /** With `all`: "Type", "BGP.next_hop", "BGP.as_path", … */
  attributes: Record<string, string>;
}

// [net] kind [proto since (from X)?] (*)? (pref) ([origin])?
const ROUTE = /^(\S+)?\s+(\w+) \[(\S+) ([^\]]*?)(?: from (\S+))?\](\s+\*)?(?:\s+\((\d+)(?:\/[^)]*)?\))?(?:\s+\[([^\]]*)\])?\s*$/;

/** Decode `show route [all] …`. */
export function parseRoutes(reply: BirdReply): BirdRoute[] {
  const out: BirdRoute[] = [];
  let table = '';
  let lastNet = '';
  for (const { code, text } of reply.lines) {
    if (code !== 1007 && code !== 1008 && code !== 1012) continue;
    const t = /^\s*Table (\S+):$/.exec(text);
    if (t) {
      table = t[1]!;
      continue;
    }
    const last = out[out.length - 1];
    if (text.startsWith('\t')) {
      const body = text.slice(1);
      const via = /^via (\S+)(?: on (\S+))?/.exec(body);
      const dev = /^dev (\S+)/.exec(body);
      if (via && last) last.nextHops.push({ via: via[1]!, ...(via[2] === undefined ? {} : { dev: via[2] }) });
      else if (dev && last) last.nextHops.push({ dev: dev[1]! });
      else if (last) {
        const kv = /^([\w.]+):\s*(.*)$/.exec(body);
        if (kv) last.attributes[kv[1]!] = kv[2]!;
      }
      continue;
    }
    const m = ROUTE.exec(text);
    if (!m) continue;
    const net = m[1] ?? lastNet;
    lastNet = net;
    const r: BirdRoute = {
      table,
      net,
      kind: m[2]!,
      protocol: m[3]!,
      since: m[4]!,
      primary: m[6] !== undefined,
      nextHops: [],
      attributes: {},
    };
    if (m[5] !== undefined) r.from = m[5];
    if (m[7] !== undefined) r.preference = Number(m[7]);
    if (m[8] !== undefined) r.origin = m[8];
    out.push(r);
  }
  return out;
}

// ---- show status ----

export interface BirdStatus {
  version?: string;
  routerId?: string;
  lastReconfiguration?: string;
  /** "Daemon is up and running", "Reconfiguration in progress", "Shutdown in progress". */
  state: string;
}

/** Decode `show status`. */
export function parseStatus(reply: BirdReply): BirdStatus {
  const s: BirdStatus = { state: reply.text };
  for (const { code, text } of reply.lines) {
    if (code === 1000) s.version = text.replace(/^BIRD\s+/, '');
    const rid = /Router ID is (\S+)/.exec(text);
    if (rid) s.routerId = rid[1]!;
    const rc = /Last reconfiguration on (.+)$/.exec(text);
    if (rc) s.lastReconfiguration = rc[1]!;
  }
  return s;
}
