/**
 * weft's embedded DNS: Docker's 127.0.0.11, except that it listens on each user-defined
 * network's gateway address(es) in the daemon's namespace.
 *
 * Names on the network are answered from the record table (authoritative, TTL 600); everything
 * else is forwarded to upstreams from the daemon's namespace. Sockets live as long as the
 * network does: record changes only touch the table (aardvark-dns#389 tore sockets down to
 * reload and dropped queries meanwhile).
 *
 * Hot path: an exact repeat of a query (same bytes after the ID) is served from pre-encoded
 * replies, one per round-robin order, with only the ID spliced in — no decode, no encode.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { ErrorList, KernelError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DnsRecordTable } from './records.js';
import { Forwarder } from './forwarder.js';
import { parseUpstream, type Upstream } from './upstreams.js';
import { DEFAULT_TTL, RCODE, decide, formerrFor, rejectQuery, rotateAnswers, statusReply, truncatedReply, udpLimit } from './answer.js';
import { headerOnlyReply, screen } from './header-guard.js';
import { SourceLimiter, type RateLimit } from './source-limiter.js';
import { TcpAdmission } from './tcp-admission.js';
import { isLoopback, upstreamKey } from './upstreams.js';

export interface EmbeddedDnsOptions {
  table: DnsRecordTable;
  /** Resolvers for names the table does not hold (see planUpstreams). */
  upstreams?: Upstream[];
  /** 53 in production; tests and benchmarks pick another. */
  port?: number;
  ttl?: number;
  forwardTimeoutMs?: number;
  deadUpstreamMs?: number;
  /** A TCP connection with no traffic for this long is closed. */
  tcpIdleMs?: number;
  /** TCP connections per listener, and per client address (the rest wait their turn). */
  maxTcpConnections?: number;
  maxTcpPerSource?: number;
  /** Work per client address: queries not answered from the pre-encoded cache. */
  workLimit?: RateLimit;
  /** Error replies (REFUSED to outsiders, FORMERR, NOTIMP) per client address; beyond: silence. */
  errorLimit?: RateLimit;
  /** Forwarded queries one client address may have in flight. */
  maxForwardsPerSource?: number;
  log?: Pick<Logger, 'warn' | 'info'>;
}

/**
 * Defaults: a sandbox may make 2000 uncached lookups a second (bursts of 4000) and hold 16 TCP
 * connections and 128 forwarded queries; anyone gets at most 50 error replies a second. Cache
 * hits (every repeat of a local name) cost no token, so a busy client of local names is never
 * limited by this.
 */
export const DNS_LIMITS = {
  work: { perSecond: 2000, burst: 4000 },
  errors: { perSecond: 50, burst: 100 },
  tcpPerSource: 16,
  tcpTotal: 256,
  forwardsPerSource: 128,
} as const;

export interface ListenOptions {
  /** False for internal networks: they must not reach the outside, not even through DNS. */
  forward?: boolean;
  /**
   * Serve in another network namespace (overlay: the gateway lives in the network's own
   * namespace). `key` names it: two tenants' namespaces may hold the same gateway address.
   */
  netns?: NetnsBinding;
}

/** Where a listener outside the daemon's namespace lives, and how to get sockets bound there. */
export interface NetnsBinding {
  key: string;
  /** A UDP and a TCP socket bound to address:port there (fds the server then owns). */
  bind(address: string, port: number): Promise<{ udp: number; tcp: number }>;
}

/** Listeners in the daemon's namespace are keyed by address alone (the loop checks look them up so). */
const listenerKey = (address: string, netns?: string): string => (netns === undefined ? address : `${netns}|${address}`);

interface Listener {
  key: string;
  networkId: string;
  address: string;
  forward: boolean;
  udp: dgram.Socket;
  tcp: net.Server;
  conns: Set<net.Socket>;
  admission: TcpAdmission<net.Socket>;
}

interface CachedReply {
  /** Pre-encoded replies without their 2-byte ID, one per answer order. */
  bodies: Buffer[];
  next: number;
}

interface NetworkCache {
  generation: number;
  forward: boolean;
  replies: Map<string, CachedReply>;
  /** Client address → whether it is inside the network (see DnsRecordTable.acceptsClient). */
  clients: Map<string, boolean>;
}

/** Larger UDP queries are not something a stub resolver sends; drop rather than parse. */
const MAX_UDP_QUERY = 4096;
const EADDRNOTAVAIL = 99;
/** Queries answered at once per TCP connection before reading pauses. */
const MAX_TCP_PIPELINE = 64;
const MAX_CACHED_REPLIES = 8192;
/** Names shared by more endpoints than this are not pre-encoded in every order. */
const MAX_ROTATIONS = 32;
/** IPv6 gateway addresses can be tentative (DAD) for a moment after they are added. */
const BIND_RETRY_MS = 3000;

export interface DnsServerStats {
  udpQueries: number;
  tcpQueries: number;
  cacheHits: number;
  forwarded: number;
  servfail: number;
  formerr: number;
  /** Queries dropped because their source ran out of work or error tokens. */
  rateLimited: number;
  /** Queries that came from this server's own forwarder (a forwarding loop), answered SERVFAIL. */
  loops: number;
  /** TCP connections refused or evicted for fairness. */
  tcpRefused: number;
}

/** The embedded DNS server for every user-defined network of one daemon. */
export class EmbeddedDnsServer {
  readonly table: DnsRecordTable;
  private readonly port: number;
  private readonly ttl: number;
  private readonly tcpIdleMs: number;
  private readonly maxTcp: number;
  private readonly listeners = new Map<string, Listener>();
  private readonly caches = new Map<string, NetworkCache>();
  private readonly forwarder: Forwarder;
  private upstreamList: Upstream[];
  private readonly counters: DnsServerStats = {
    udpQueries: 0,
    tcpQueries: 0,
    cacheHits: 0,
    forwarded: 0,
    servfail: 0,
    formerr: 0,
    rateLimited: 0,
    loops: 0,
    tcpRefused: 0,
  };
  private readonly work: SourceLimiter;
  private readonly errors: SourceLimiter;
  private readonly maxTcpPerSource: number;
  private readonly maxForwardsPerSource: number;
  private readonly forwardsInFlight = new Map<string, number>();
  private readonly skippedUpstreams = new Set<string>();

  constructor(private readonly opts: EmbeddedDnsOptions) {
    this.table = opts.table;
    this.port = opts.port ?? 53;
    this.ttl = opts.ttl ?? DEFAULT_TTL;
    this.tcpIdleMs = opts.tcpIdleMs ?? 10_000;
    this.maxTcp = opts.maxTcpConnections ?? DNS_LIMITS.tcpTotal;
    this.maxTcpPerSource = opts.maxTcpPerSource ?? DNS_LIMITS.tcpPerSource;
    this.maxForwardsPerSource = opts.maxForwardsPerSource ?? DNS_LIMITS.forwardsPerSource;
    this.work = new SourceLimiter(opts.workLimit ?? DNS_LIMITS.work);
    this.errors = new SourceLimiter(opts.errorLimit ?? DNS_LIMITS.errors);
    this.upstreamList = [...(opts.upstreams ?? [])];
    this.forwarder = new Forwarder({
      upstreams: () => this.usableUpstreams(),
      attemptTimeoutMs: opts.forwardTimeoutMs,
      deadForMs: opts.deadUpstreamMs,
      log: opts.log,
    });
  }

  /** Replace the upstreams (e.g. after the host's resolv.conf changed); sockets stay. */
  setUpstreams(upstreams: Array<Upstream | string>): void {
    this.upstreamList = upstreams.map((u) => (typeof u === 'string' ? parseUpstream(u) : u));
  }

  stats(): DnsServerStats & { listening: number; forwardInFlight: number; deadUpstreams: string[] } {
    return {
      ...this.counters,
      listening: this.listeners.size,
      forwardInFlight: this.forwarder.inFlight,
      deadUpstreams: this.forwarder.deadUpstreams(),
    };
  }

  /** Addresses being served, with the network each answers for. */
  listening(): Array<{ networkId: string; address: string; port: number }> {
    return [...this.listeners.values()].map((l) => ({ networkId: l.networkId, address: l.address, port: this.port }));
  }

  /**
   * Serve a network on one of its gateway addresses (UDP and TCP). Idempotent: listening again
   * on the same address only updates which network it answers for.
   */
  async listen(networkId: string, address: string, opts: ListenOptions = {}): Promise<void> {
    const forward = opts.forward ?? true;
    const key = listenerKey(address, opts.netns?.key);
    const existing = this.listeners.get(key);
    if (existing) {
      existing.networkId = networkId;
      existing.forward = forward;
      return;
    }
    const family = net.isIPv6(address) ? 6 : 4;
    const deadline = Date.now() + BIND_RETRY_MS;
    for (;;) {
      try {
        const l = await this.bind(key, networkId, address, family, forward, opts.netns);
        this.listeners.set(key, l);
        return;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const notYet = code === 'EADDRNOTAVAIL' || (err as KernelError).errno === EADDRNOTAVAIL;
        if (notYet && family === 6 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          continue;
        }
        throw new KernelError('dns listen', `cannot serve DNS on ${address}:${this.port}: ${(err as Error).message}`, {
          errno: (err as NodeJS.ErrnoException).errno,
          cause: err,
        });
      }
    }
  }

  /** Stop serving an address (in the namespace `netns` keys, if given); unknown ones are fine (already gone). */
  async unlisten(address: string, netns?: string): Promise<void> {
    const key = listenerKey(address, netns);
    const l = this.listeners.get(key);
    if (!l) return;
    this.listeners.delete(key);
    await closeListener(l);
  }

  /** Stop everything: listeners, TCP connections, upstream sockets. */
  async close(): Promise<void> {
    const all = [...this.listeners.values()];
    this.listeners.clear();
    this.forwarder.close();
    await Promise.all(all.map(closeListener));
  }

  private async bind(
    key: string,
    networkId: string,
    address: string,
    family: 4 | 6,
    forward: boolean,
    netns?: NetnsBinding,
  ): Promise<Listener> {
    // Replies go to the literal address a query came from: skip dns.lookup's extra tick per send.
    const literal = (host: string, _o: unknown, cb: (err: null, address: string, family: number) => void): void => cb(null, host, family);
    const udp = dgram.createSocket({ type: family === 4 ? 'udp4' : 'udp6', lookup: literal });
    const tcp = net.createServer();
    const l: Listener = {
      key,
      networkId,
      address,
      forward,
      udp,
      tcp,
      conns: new Set(),
      admission: new TcpAdmission({ perSource: this.maxTcpPerSource, total: this.maxTcp }),
    };
    try {
      // Sockets made in the other namespace are adopted: the address and port are already bound.
      const fds = netns ? await netns.bind(address, this.port) : undefined;
      await new Promise<void>((resolve, reject) => {
        udp.once('error', reject);
        udp.bind(fds ? { fd: fds.udp } : { address, port: this.port, exclusive: true }, () => {
          udp.off('error', reject);
          resolve();
        });
      });
      await new Promise<void>((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(fds ? { fd: fds.tcp, backlog: 128 } : { host: address, port: this.port, exclusive: true, backlog: 128 }, () => {
          tcp.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      const undo = new ErrorList(`DNS listener on ${address} failed and closing it failed too`);
      undo.add(err);
      await undo.run(() => closeListener(l));
      throw undo.combined();
    }
    try {
      // A bigger receive queue absorbs bursts instead of dropping them (best effort: rmem_max).
      udp.setRecvBufferSize(4 << 20);
    } catch {
      /* keep the default */
    }
    udp.on('message', (msg, rinfo) => this.onUdp(l, msg, rinfo));
    udp.on('error', (err) => this.opts.log?.warn({ address, err: err.message }, 'dns udp socket error'));
    tcp.on('connection', (sock) => this.onTcp(l, sock));
    tcp.on('error', (err) => this.opts.log?.warn({ address, err: err.message }, 'dns tcp server error'));
    return l;
  }

  private cacheFor(networkId: string, forward: boolean): NetworkCache {
    const gen = this.table.generation(networkId);
    let c = this.caches.get(networkId);
    if (!c || c.generation !== gen || c.forward !== forward) {
      c = { generation: gen, forward, replies: new Map(), clients: new Map() };
      this.caches.set(networkId, c);
    }
    return c;
  }

  /**
   * Upstreams, minus any address this server itself listens on: forwarding there would send
   * the query straight back to us (a weft gateway given as --dns-upstream loops forever).
   */
  private usableUpstreams(): Upstream[] {
    const out: Upstream[] = [];
    for (const u of this.upstreamList) {
      if (u.port === this.port && this.listeners.has(u.address)) {
        const k = upstreamKey(u);
        if (!this.skippedUpstreams.has(k)) {
          this.skippedUpstreams.add(k);
          this.opts.log?.warn({ upstream: k }, "dns upstream is one of weft's own DNS addresses; never forwarding to it (it would loop)");
        }
        continue;
      }
      out.push(u);
    }
    return out;
  }

  /** A query sent by this server's own forwarder came back to it: a forwarding loop. */
  private fromOwnForwarder(address: string, port: number): boolean {
    return this.forwarder.ownsPort(port) && (this.listeners.has(address) || isLoopback(address));
  }

  /** An error reply from the header alone, within the source's error budget (else silence). */
  private errorReply(source: string, msg: Buffer, rcode: (typeof RCODE)[keyof typeof RCODE]): Buffer | undefined {
    if (!this.errors.take(source)) {
      this.counters.rateLimited++;
      return undefined;
    }
    if (rcode === RCODE.FORMERR || rcode === RCODE.NOTIMP) this.counters.formerr++;
    if (rcode === RCODE.SERVFAIL) this.counters.servfail++;
    return headerOnlyReply(msg, rcode);
  }

  private onUdp(l: Listener, msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.counters.udpQueries++;
    // Screened from the header alone before anything else: no decoding for junk, responses or runts.
    if (msg.length > MAX_UDP_QUERY) return;
    const verdict = screen(msg);
    if (verdict === 'drop') return;
    const send = (r: Buffer | undefined): void => {
      if (r) l.udp.send(r, rinfo.port, rinfo.address);
    };
    const cache = this.cacheFor(l.networkId, l.forward);
    if (!this.accepts(cache, l.networkId, rinfo.address)) return send(this.errorReply(rinfo.address, msg, RCODE.REFUSED));
    if (verdict !== 'decode') return send(this.errorReply(rinfo.address, msg, verdict.rcode));
    if (this.fromOwnForwarder(rinfo.address, rinfo.port)) {
      this.counters.loops++;
      return send(this.errorReply(rinfo.address, msg, RCODE.SERVFAIL));
    }
    const key = msg.toString('latin1', 2);
    const hit = cache.replies.get(key);
    if (hit) {
      this.counters.cacheHits++;
      const body = hit.bodies.length === 1 ? hit.bodies[0]! : hit.bodies[hit.next++ % hit.bodies.length]!;
      // Small pooled allocation + copy is cheaper than a two-buffer scatter send.
      const out = Buffer.allocUnsafe(body.length + 2);
      out[0] = msg[0]!;
      out[1] = msg[1]!;
      body.copy(out, 2);
      l.udp.send(out, rinfo.port, rinfo.address);
      return;
    }
    // Anything beyond a cache hit is work: within the source's budget, or silently dropped.
    if (!this.work.take(rinfo.address)) {
      this.counters.rateLimited++;
      return;
    }
    const out = this.safeHandle(l, msg, 'udp', rinfo.address, cache, key);
    if (out === undefined) return;
    if (Buffer.isBuffer(out)) {
      l.udp.send(out, rinfo.port, rinfo.address);
      return;
    }
    out.then(
      (r) => {
        if (r && this.listeners.get(l.key) === l) l.udp.send(r, rinfo.port, rinfo.address);
      },
      (err: Error) => this.opts.log?.warn({ err: err.message }, 'dns query failed'),
    );
  }

  private onTcp(l: Listener, sock: net.Socket): void {
    const source = sock.remoteAddress ?? '';
    if (!this.accepts(this.cacheFor(l.networkId, l.forward), l.networkId, source)) {
      sock.destroy();
      return;
    }
    // A few connections per source; a full listener makes the busiest source give one up.
    const a = l.admission.admit(source, sock);
    if (!a.admit) {
      this.counters.tcpRefused++;
      sock.destroy();
      return;
    }
    if (a.evict) {
      this.counters.tcpRefused++;
      a.evict.destroy();
    }
    l.conns.add(sock);
    sock.setNoDelay(true);
    sock.setTimeout(this.tcpIdleMs, () => sock.destroy());
    sock.on('error', () => undefined);
    sock.on('close', () => {
      l.conns.delete(sock);
      l.admission.release(sock);
    });
    let buf: Buffer = Buffer.alloc(0);
    let inFlight = 0;
    let paused = false;
    const reply = (r: Buffer | undefined): void => {
      if (r && !sock.destroyed) {
        const len = Buffer.allocUnsafe(2);
        len.writeUInt16BE(r.length, 0);
        sock.write(Buffer.concat([len, r]));
      }
    };
    const settle = (): void => {
      inFlight--;
      if (paused && inFlight < MAX_TCP_PIPELINE / 2) {
        paused = false;
        sock.resume();
      }
    };
    // RFC 7766: many queries per connection, answered as each completes (possibly out of order).
    sock.on('data', (chunk: Buffer) => {
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      while (buf.length >= 2) {
        const n = buf.readUInt16BE(0);
        if (n < 12) {
          // A frame too short to be DNS: the stream cannot be trusted to resynchronise.
          sock.destroy();
          return;
        }
        if (buf.length < 2 + n) break;
        const msg = buf.subarray(2, 2 + n);
        buf = buf.subarray(2 + n);
        this.counters.tcpQueries++;
        const verdict = screen(msg);
        if (verdict === 'drop') continue;
        if (verdict !== 'decode') {
          reply(this.errorReply(source, msg, verdict.rcode));
          continue;
        }
        // Over its work budget, a TCP client is told so at once (no spoofing on TCP: no silence needed).
        if (!this.work.take(source)) {
          this.counters.rateLimited++;
          reply(headerOnlyReply(msg, RCODE.REFUSED));
          continue;
        }
        const out = this.safeHandle(l, msg, 'tcp', source);
        if (out === undefined || Buffer.isBuffer(out)) {
          reply(out);
          continue;
        }
        inFlight++;
        if (inFlight >= MAX_TCP_PIPELINE && !paused) {
          paused = true;
          sock.pause();
        }
        out
          .then(reply, (err: Error) => {
            // The client gets no answer for this query (as for a lost UDP one); the stream goes on.
            this.opts.log?.warn({ err: err.message }, 'dns query failed');
            reply(undefined);
          })
          .finally(settle);
      }
    });
  }

  /** handle(), with a bug or an unencodable name turned into SERVFAIL instead of a crash. */
  private safeHandle(
    l: Listener,
    msg: Buffer,
    transport: 'udp' | 'tcp',
    source: string,
    cache?: NetworkCache,
    key?: string,
  ): Buffer | Promise<Buffer | undefined> | undefined {
    try {
      return this.handle(l, msg, transport, source, cache, key);
    } catch (err) {
      this.opts.log?.warn({ err: (err as Error).message }, 'dns query could not be answered');
      this.counters.servfail++;
      try {
        return dnsPacket.encode({ type: 'response', id: msg.readUInt16BE(0), flags: RCODE.SERVFAIL, questions: [], answers: [] });
      } catch {
        return undefined;
      }
    }
  }

  /**
   * Answer one query: a Buffer now (local answers, errors), a Promise when forwarded, or
   * undefined to stay silent (it was a response, not a query).
   */
  private handle(
    l: Listener,
    msg: Buffer,
    transport: 'udp' | 'tcp',
    source: string,
    cache?: NetworkCache,
    key?: string,
  ): Buffer | Promise<Buffer | undefined> | undefined {
    let query: DecodedPacket & { opcode?: string };
    try {
      query = dnsPacket.decode(msg);
    } catch {
      // Undecodable with QR set claims to be a response: answering it could start a loop.
      if ((msg[2]! & 0x80) !== 0) return undefined;
      this.counters.formerr++;
      return dnsPacket.encode(formerrFor(msg.readUInt16BE(0)));
    }
    const rejected = rejectQuery(query);
    if (rejected === 'drop') return undefined;
    if (rejected) {
      this.counters.formerr++;
      return dnsPacket.encode(rejected);
    }
    const limit = transport === 'udp' ? udpLimit(query) : 65535;
    const d = decide(this.table, l.networkId, query, { ttl: this.ttl, forward: l.forward });
    if (d.kind === 'reply') {
      const first = this.encodeLimited(d.packet, limit);
      if (cache && key !== undefined && d.rotations <= MAX_ROTATIONS) this.remember(cache, key, d.packet, d.rotations, limit, first);
      return first;
    }
    // One source may only have so many queries waiting for upstreams (the forwarder's slots are shared).
    const waiting = this.forwardsInFlight.get(source) ?? 0;
    if (waiting >= this.maxForwardsPerSource) {
      this.counters.rateLimited++;
      this.counters.servfail++;
      return dnsPacket.encode(statusReply(query, RCODE.SERVFAIL));
    }
    this.forwardsInFlight.set(source, waiting + 1);
    const done = (): void => {
      const n = (this.forwardsInFlight.get(source) ?? 1) - 1;
      if (n <= 0) this.forwardsInFlight.delete(source);
      else this.forwardsInFlight.set(source, n);
    };
    this.counters.forwarded++;
    return this.forwarder
      .forward(msg, d.question)
      .finally(done)
      .then((r) => {
        if (!r) {
          this.counters.servfail++;
          return dnsPacket.encode(statusReply(query, RCODE.SERVFAIL));
        }
        // The client's limit, not the upstream's: a big answer becomes "retry over TCP".
        if (r.length > limit)
          return dnsPacket.encode(truncatedReply({ ...statusReply(query, RCODE.NOERROR), flags: ((r[2]! << 8) | r[3]!) & 0x7fff }));
        return r;
      });
  }

  private accepts(cache: NetworkCache, networkId: string, client: string): boolean {
    let ok = cache.clients.get(client);
    if (ok === undefined) {
      ok = this.table.acceptsClient(networkId, client);
      if (cache.clients.size >= MAX_CACHED_REPLIES) cache.clients.clear();
      cache.clients.set(client, ok);
    }
    return ok;
  }

  private encodeLimited(p: Packet, limit: number): Buffer {
    const b = dnsPacket.encode(p);
    return b.length <= limit ? b : dnsPacket.encode(truncatedReply(p));
  }

  private remember(cache: NetworkCache, key: string, packet: Packet, rotations: number, limit: number, first: Buffer): void {
    if (cache.replies.size >= MAX_CACHED_REPLIES) cache.replies.clear();
    const n = Math.max(1, rotations);
    const bodies = [first.subarray(2)];
    // A truncated reply carries no answers, so every order encodes the same.
    const truncatedFirst = (first[2]! & 0x02) !== 0;
    if (!truncatedFirst) for (let k = 1; k < n; k++) bodies.push(this.encodeLimited(rotateAnswers(packet, k), limit).subarray(2));
    // The table already advanced its own turn for this reply; the cache continues from the next order.
    cache.replies.set(key, { bodies, next: bodies.length > 1 ? 1 : 0 });
  }
}

async function closeListener(l: Listener): Promise<void> {
  for (const c of l.conns) c.destroy();
  l.conns.clear();
  await Promise.all([
    new Promise<void>((r) => {
      try {
        l.udp.close(() => r());
      } catch {
        r();
      }
    }),
    new Promise<void>((r) => (l.tcp.listening ? l.tcp.close(() => r()) : r())),
  ]);
}
