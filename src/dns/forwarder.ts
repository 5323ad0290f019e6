/**
 * Sends queries the embedded DNS does not own to upstream resolvers, from the daemon's own
 * namespace.
 *
 * Every query is independent (aardvark-dns#482: one dead upstream used to stall every other
 * query): each attempt has its own timer, a timed-out attempt moves on to the next upstream
 * while still accepting a late answer from the slow one, and upstreams that just timed out are
 * tried last for a while. UDP answers with TC set are fetched again over TCP.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomFillSync } from 'node:crypto';
import * as dnsPacket from 'dns-packet';
import type { Question } from 'dns-packet';
import { upstreamKey, type Upstream } from './upstreams.js';
import type { Logger } from '../logger.js';

export interface ForwarderOptions {
  upstreams: () => readonly Upstream[];
  /** How long one upstream gets before the next is asked too. */
  attemptTimeoutMs?: number;
  /** How long an upstream that timed out is tried only after the others. */
  deadForMs?: number;
  /** Bound on queries waiting for upstreams; beyond it new ones fail at once. */
  maxInFlight?: number;
  /** UDP sockets per address family: several source ports make spoofed replies harder. */
  socketsPerFamily?: number;
  log?: Pick<Logger, 'warn' | 'info'>;
}

interface Attempt {
  socket: dgram.Socket;
  upstream: Upstream;
  onReply(msg: Buffer): void;
}

const RCODE_SERVFAIL = 2;
const RCODE_REFUSED = 5;
const MAX_TCP_MESSAGE = 65535;

/** Whether a message decodes as a response to exactly this question. */
export function answersQuestion(msg: Buffer, q: Question): boolean {
  try {
    const p = dnsPacket.decode(msg);
    const rq = p.questions?.[0];
    return p.type === 'response' && rq !== undefined && rq.type === q.type && rq.name.toLowerCase() === q.name.toLowerCase();
  } catch {
    return false;
  }
}

const rcodeOf = (msg: Buffer): number => msg[3]! & 0x0f;
const truncated = (msg: Buffer): boolean => (msg[2]! & 0x02) !== 0;

/** Forwards queries to upstream resolvers with per-query timers and failover. */
export class Forwarder {
  private readonly attemptTimeoutMs: number;
  private readonly deadForMs: number;
  private readonly maxInFlight: number;
  private readonly socketsPerFamily: number;
  private readonly pending = new Map<number, Attempt>();
  private readonly deadUntil = new Map<string, number>();
  private readonly sockets: { 4: dgram.Socket[]; 6: dgram.Socket[] } = { 4: [], 6: [] };
  private readonly tcpConns = new Set<net.Socket>();
  private readonly active = new Set<(r: undefined) => void>();
  /** Local ports of the upstream sockets: a query arriving from one of them is our own, looped back. */
  private readonly ports = new Set<number>();
  private ids = new Uint16Array(0);
  private idPos = 0;
  private closed = false;

  constructor(private readonly opts: ForwarderOptions) {
    this.attemptTimeoutMs = opts.attemptTimeoutMs ?? 2000;
    this.deadForMs = opts.deadForMs ?? 30_000;
    this.maxInFlight = opts.maxInFlight ?? 4096;
    this.socketsPerFamily = opts.socketsPerFamily ?? 4;
  }

  /** Whether `port` is the local port of one of this forwarder's UDP sockets. */
  ownsPort(port: number): boolean {
    return this.ports.has(port);
  }

  /** Queries currently waiting for an upstream. */
  get inFlight(): number {
    return this.pending.size;
  }

  /** Upstreams currently considered dead (timed out recently). */
  deadUpstreams(now = Date.now()): string[] {
    return [...this.deadUntil].filter(([, t]) => t > now).map(([k]) => k);
  }

  /**
   * Resolve a query through the upstreams. Resolves to the upstream's reply carrying the
   * query's own ID, or undefined when every upstream failed (the caller answers SERVFAIL).
   */
  forward(query: Buffer, question: Question): Promise<Buffer | undefined> {
    const order = this.order();
    if (this.closed || order.length === 0 || this.pending.size >= this.maxInFlight) return Promise.resolve(undefined);
    const clientId = query.readUInt16BE(0);
    return new Promise<Buffer | undefined>((resolve) => {
      let next = 0;
      let waiting = 0;
      let done = false;
      let fallback: Buffer | undefined;
      const mine = new Map<number, NodeJS.Timeout | undefined>();

      const finish = (reply: Buffer | undefined): void => {
        if (done) return;
        done = true;
        this.active.delete(finish);
        for (const [id, timer] of mine) {
          if (timer) clearTimeout(timer);
          this.pending.delete(id);
        }
        if (reply) reply.writeUInt16BE(clientId, 0);
        resolve(reply);
      };
      const settleIfExhausted = (): void => {
        if (!done && waiting === 0 && next >= order.length) finish(fallback);
      };
      const accept = (up: Upstream, reply: Buffer): void => {
        this.deadUntil.delete(upstreamKey(up));
        const rc = rcodeOf(reply);
        if (rc === RCODE_SERVFAIL || rc === RCODE_REFUSED) {
          // Another upstream may know better (Docker does the same); keep this as the answer of last resort.
          fallback = reply;
          tryNext();
          settleIfExhausted();
          return;
        }
        finish(reply);
      };
      const stopWaiting = (id: number): void => {
        const t = mine.get(id);
        if (t) {
          clearTimeout(t);
          mine.set(id, undefined);
          waiting--;
        }
      };

      const tryNext = (): void => {
        if (this.closed) return finish(undefined);
        if (done || next >= order.length) return;
        const up = order[next++]!;
        const id = this.freshId();
        const sock = this.socketFor(up.family);
        const out = Buffer.from(query);
        out.writeUInt16BE(id, 0);
        waiting++;
        const timer = setTimeout(() => {
          mine.set(id, undefined);
          waiting--;
          this.markDead(up);
          tryNext();
          settleIfExhausted();
        }, this.attemptTimeoutMs);
        timer.unref();
        mine.set(id, timer);
        this.pending.set(id, {
          socket: sock,
          upstream: up,
          onReply: (msg) => {
            if (done || !answersQuestion(msg, question)) return;
            stopWaiting(id);
            this.pending.delete(id);
            if (!truncated(msg)) return accept(up, msg);
            // Too big for UDP: the same upstream again over TCP, within the same time budget.
            waiting++;
            // queryTcp never rejects: a failed TCP query resolves undefined (try the next upstream).
            void this.queryTcp(up, out, question).then((full) => {
              waiting--;
              if (full) return accept(up, full);
              tryNext();
              settleIfExhausted();
            });
          },
        });
        sock.send(out, up.port, up.address, (err) => {
          if (!err || done) return;
          stopWaiting(id);
          this.pending.delete(id);
          this.markDead(up);
          tryNext();
          settleIfExhausted();
        });
      };
      this.active.add(finish);
      tryNext();
    });
  }

  /** Close the upstream sockets; queries in flight resolve to undefined. */
  close(): void {
    this.closed = true;
    for (const fam of [4, 6] as const) {
      for (const s of this.sockets[fam]) s.close();
      this.sockets[fam] = [];
      this.ports.clear();
    }
    for (const c of this.tcpConns) c.destroy();
    this.tcpConns.clear();
    for (const finish of [...this.active]) finish(undefined);
    this.pending.clear();
  }

  /** Live upstreams in configured order, then recently dead ones (still better than nothing). */
  private order(): Upstream[] {
    const ups = this.opts.upstreams();
    if (this.deadUntil.size === 0) return [...ups];
    const now = Date.now();
    const alive: Upstream[] = [];
    const dead: Upstream[] = [];
    for (const u of ups) ((this.deadUntil.get(upstreamKey(u)) ?? 0) > now ? dead : alive).push(u);
    return [...alive, ...dead];
  }

  private markDead(up: Upstream): void {
    const key = upstreamKey(up);
    const was = (this.deadUntil.get(key) ?? 0) > Date.now();
    this.deadUntil.set(key, Date.now() + this.deadForMs);
    if (!was) this.opts.log?.warn({ upstream: key, forMs: this.deadForMs }, 'dns upstream not answering; trying others first');
  }

  /** A random ID not used by any query in flight (the ID is half of the spoofing defence). */
  private freshId(): number {
    for (;;) {
      if (this.idPos >= this.ids.length) {
        this.ids = randomFillSync(new Uint16Array(1024));
        this.idPos = 0;
      }
      const id = this.ids[this.idPos++]!;
      if (!this.pending.has(id)) return id;
    }
  }

  private socketFor(family: 4 | 6): dgram.Socket {
    const pool = this.sockets[family];
    if (pool.length < this.socketsPerFamily) {
      const s = dgram.createSocket(family === 4 ? 'udp4' : 'udp6');
      s.on('message', (msg, rinfo) => this.onMessage(s, msg, rinfo));
      s.on('error', (err) => this.opts.log?.warn({ err: err.message }, 'dns forwarder socket error'));
      s.on('listening', () => this.ports.add(s.address().port));
      s.bind(0);
      s.unref();
      pool.push(s);
      return s;
    }
    return pool[(Math.random() * pool.length) | 0]!;
  }

  private onMessage(sock: dgram.Socket, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    if (msg.length < 12) return;
    const a = this.pending.get(msg.readUInt16BE(0));
    // Only the upstream we asked, on the socket we asked from, may answer.
    if (!a || a.socket !== sock || rinfo.port !== a.upstream.port || !sameAddress(rinfo.address, a.upstream.address)) return;
    a.onReply(msg);
  }

  /** One query over TCP (RFC 7766 framing); undefined on any failure or timeout. */
  private queryTcp(up: Upstream, query: Buffer, question: Question): Promise<Buffer | undefined> {
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const conn = net.connect({ host: up.address, port: up.port });
      this.tcpConns.add(conn);
      let buf = Buffer.alloc(0);
      let settled = false;
      const end = (r: Buffer | undefined): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.tcpConns.delete(conn);
        conn.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => end(undefined), this.attemptTimeoutMs);
      timer.unref();
      conn.on('error', () => end(undefined));
      conn.on('close', () => end(undefined));
      conn.on('connect', () => {
        const len = Buffer.alloc(2);
        len.writeUInt16BE(query.length, 0);
        conn.write(Buffer.concat([len, query]));
      });
      conn.on('data', (chunk: Buffer) => {
        buf = Buffer.concat([buf, chunk]);
        if (buf.length < 2) return;
        const n = buf.readUInt16BE(0);
        if (n < 12 || n > MAX_TCP_MESSAGE) return end(undefined);
        if (buf.length < 2 + n) return;
        const msg = Buffer.from(buf.subarray(2, 2 + n));
        end(msg.readUInt16BE(0) === query.readUInt16BE(0) && answersQuestion(msg, question) ? msg : undefined);
      });
    });
  }
}

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  // Replies to an IPv6 socket may name a v4 upstream in mapped form, or a zone-less v6 address.
  const strip = (x: string): string =>
    x
      .replace(/^::ffff:/i, '')
      .replace(/%.*$/, '')
      .toLowerCase();
  return strip(a) === strip(b);
}
