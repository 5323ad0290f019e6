/**
 * DNS helpers run inside test/benchmark namespaces (node, no shell). One JSON argument each:
 *   serve    {port, listen:[{networkId,address,forward?}], subnets:{net:[cidr]}, records:[…],
 *             upstreams:[…], forwardTimeoutMs?}   the embedded DNS; prints "ready"; stdin takes
 *             JSON lines {op:"set"|"remove"|"stats", …} and prints one JSON line per command
 *   upstream {address, port, records:{name:{A?:[],AAAA?:[],PTR?:string}}}   a toy authoritative
 *             server (UDP answers over 512 bytes are truncated; TCP gives them whole); prints
 *             "ready", then one JSON line per query it receives
 *   query    {server, port, queries:[{name,type,raw?}], tcp?, edns?, timeoutMs?}   prints a JSON
 *             array of results (one per query; over TCP all share one connection)
 *   load     {server, port, names:[], type, inflight, durationMs, workers?}   a UDP load generator:
 *             prints {sent, answered, errors, timeouts, qps, p50Us, p99Us, p999Us}
 */
import dgram from 'node:dgram';
import net from 'node:net';
import readline from 'node:readline';
import { performance } from 'node:perf_hooks';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import * as dnsPacket from 'dns-packet';
import type { Answer, Packet, RecordType } from 'dns-packet';
import { DnsRecordTable, type DnsEntry } from '../dns/records.js';
import { EmbeddedDnsServer } from '../dns/server.js';
import { parseUpstream } from '../dns/upstreams.js';

interface ServeConfig {
  port: number;
  listen: Array<{ networkId: string; address: string; forward?: boolean }>;
  subnets?: Record<string, string[]>;
  records?: Array<{ networkId: string; endpointId: string; entry: DnsEntry }>;
  upstreams?: string[];
  forwardTimeoutMs?: number;
}

async function serve(cfg: ServeConfig): Promise<void> {
  const table = new DnsRecordTable();
  for (const [id, subnets] of Object.entries(cfg.subnets ?? {})) table.setSubnets(id, subnets);
  for (const r of cfg.records ?? []) table.setEndpoint(r.networkId, r.endpointId, r.entry);
  const server = new EmbeddedDnsServer({
    table,
    port: cfg.port,
    upstreams: (cfg.upstreams ?? []).map((u) => parseUpstream(u)),
    forwardTimeoutMs: cfg.forwardTimeoutMs,
    log: { warn: (f, m) => process.stderr.write(`${m} ${JSON.stringify(f)}\n`), info: () => undefined },
  });
  for (const l of cfg.listen) await server.listen(l.networkId, l.address, { forward: l.forward });
  const rl = readline.createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    try {
      const c = JSON.parse(line) as { op: string; networkId: string; endpointId: string; entry: DnsEntry };
      if (c.op === 'set') table.setEndpoint(c.networkId, c.endpointId, c.entry);
      else if (c.op === 'remove') table.removeEndpoint(c.networkId, c.endpointId);
      process.stdout.write(JSON.stringify({ ok: true, stats: server.stats() }) + '\n');
    } catch (e) {
      process.stdout.write(JSON.stringify({ ok: false, error: (e as Error).message }) + '\n');
    }
  });
  const stop = (): void => void server.close().then(() => process.exit(0));
  rl.on('close', stop);
  process.on('SIGTERM', stop);
  process.stdout.write('ready\n');
}

interface UpstreamConfig {
  address: string;
  port: number;
  records: Record<string, { A?: string[]; AAAA?: string[]; PTR?: string }>;
}

function upstream(cfg: UpstreamConfig): void {
  const answer = (query: Packet, limit: number): Buffer => {
    const q = query.questions?.[0];
    const rec = q ? cfg.records[q.name.toLowerCase()] : undefined;
    const answers: Answer[] = [];
    if (q && rec) {
      if (q.type === 'A') for (const a of rec.A ?? []) answers.push({ type: 'A', name: q.name, ttl: 60, data: a });
      if (q.type === 'AAAA') for (const a of rec.AAAA ?? []) answers.push({ type: 'AAAA', name: q.name, ttl: 60, data: a });
      if (q.type === 'PTR' && rec.PTR) answers.push({ type: 'PTR', name: q.name, ttl: 60, data: rec.PTR });
    }
    const base: Packet = {
      type: 'response',
      id: query.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER | (rec ? 0 : 3),
      questions: query.questions,
      answers,
    };
    const full = dnsPacket.encode(base);
    return full.length <= limit
      ? full
      : dnsPacket.encode({ ...base, answers: [], flags: (base.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE });
  };
  const note = (transport: string, q: Packet): void => {
    const qq = q.questions?.[0];
    process.stdout.write(JSON.stringify({ transport, name: qq?.name, type: qq?.type }) + '\n');
  };
  const udp = dgram.createSocket(net.isIPv6(cfg.address) ? 'udp6' : 'udp4');
  udp.on('message', (msg, r) => {
    try {
      const q = dnsPacket.decode(msg);
      note('udp', q);
      udp.send(answer(q, 512), r.port, r.address);
    } catch {
      /* ignore junk */
    }
  });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('error', () => undefined);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const q = dnsPacket.decode(msg);
        note('tcp', q);
        const r = answer(q, 65535);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(r.length);
        s.write(Buffer.concat([len, r]));
      }
    });
  });
  udp.bind(cfg.port, cfg.address, () => tcp.listen(cfg.port, cfg.address, () => process.stdout.write('ready\n')));
}

interface QueryConfig {
  server: string;
  port: number;
  queries: Array<{ name?: string; type?: RecordType; raw?: string }>;
  tcp?: boolean;
  edns?: boolean;
  timeoutMs?: number;
}

/** One query's outcome as `query` prints it (tests and the benchmark read these). */
export interface QueryResult {
  id: number;
  ms: number;
  rcode?: string;
  aa?: boolean;
  tc?: boolean;
  answers?: Array<{ type: string; name: string; data: unknown; ttl?: number }>;
  error?: string;
}

function encodeQuery(id: number, q: QueryConfig['queries'][number], edns: boolean): Buffer {
  if (q.raw !== undefined) {
    const b = Buffer.from(q.raw, 'hex');
    if (b.length >= 2) b.writeUInt16BE(id, 0);
    return b;
  }
  const p: Packet = { type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: q.type ?? 'A', name: q.name ?? '.' }] };
  if (edns)
    p.additionals = [
      { type: 'OPT', name: '.', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
    ];
  return dnsPacket.encode(p);
}

function summarize(id: number, started: number, msg: Buffer): QueryResult {
  const r = dnsPacket.decode(msg) as dnsPacket.DecodedPacket & { rcode?: string };
  return {
    id,
    ms: performance.now() - started,
    rcode: r.rcode,
    aa: r.flag_aa,
    tc: r.flag_tc,
    answers: (r.answers ?? []).map((a) => ({
      type: a.type,
      name: a.name,
      data: 'data' in a ? a.data : undefined,
      ttl: 'ttl' in a ? a.ttl : undefined,
    })),
  };
}

async function query(cfg: QueryConfig): Promise<QueryResult[]> {
  const timeoutMs = cfg.timeoutMs ?? 5000;
  const ids = cfg.queries.map((_, i) => 0x1000 + i);
  if (!cfg.tcp) {
    // One socket per query, all sent at once: each result times its own query.
    return Promise.all(
      cfg.queries.map(
        (q, i) =>
          new Promise<QueryResult>((resolve) => {
            const s = dgram.createSocket(net.isIPv6(cfg.server) ? 'udp6' : 'udp4');
            const started = performance.now();
            const t = setTimeout(() => {
              s.close();
              resolve({ id: ids[i]!, ms: performance.now() - started, error: 'timeout' });
            }, timeoutMs);
            s.on('message', (msg) => {
              clearTimeout(t);
              s.close();
              try {
                resolve(summarize(ids[i]!, started, msg));
              } catch (e) {
                resolve({ id: ids[i]!, ms: performance.now() - started, error: (e as Error).message });
              }
            });
            s.send(encodeQuery(ids[i]!, q, !!cfg.edns), cfg.port, cfg.server);
          }),
      ),
    );
  }
  return new Promise((resolve) => {
    const results = new Map<number, QueryResult>();
    const started = new Map<number, number>();
    const s = net.connect({ host: cfg.server, port: cfg.port });
    const done = (error?: string): void => {
      clearTimeout(t);
      s.destroy();
      resolve(ids.map((id) => results.get(id) ?? { id, ms: performance.now() - (started.get(id) ?? 0), error: error ?? 'no answer' }));
    };
    const t = setTimeout(() => done('timeout'), timeoutMs);
    let buf = Buffer.alloc(0);
    s.on('error', (e) => done(e.message));
    s.on('close', () => done('closed'));
    s.on('connect', () => {
      const frames = cfg.queries.map((q, i) => {
        const m = encodeQuery(ids[i]!, q, !!cfg.edns);
        const len = Buffer.alloc(2);
        len.writeUInt16BE(m.length);
        started.set(ids[i]!, performance.now());
        return Buffer.concat([len, m]);
      });
      s.write(Buffer.concat(frames));
    });
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const msg = buf.subarray(2, 2 + buf.readUInt16BE(0));
        buf = buf.subarray(2 + msg.length);
        const id = msg.readUInt16BE(0);
        results.set(id, summarize(id, started.get(id) ?? 0, msg));
      }
      if (results.size === ids.length) done();
    });
  });
}

interface LoadConfig {
  server: string;
  port: number;
  names: string[];
  type?: RecordType;
  inflight: number;
  durationMs: number;
  warmupMs?: number;
  workers?: number;
}

interface LoadResult {
  sent: number;
  answered: number;
  errors: number;
  timeouts: number;
  latenciesUs: Float64Array;
}

/** Closed loop: `inflight` queries outstanding at all times, each slot re-sent on its answer. */
function loadOnce(cfg: LoadConfig): Promise<LoadResult> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(net.isIPv6(cfg.server) ? 'udp6' : 'udp4');
    const bodies = cfg.names.map((n) => encodeQuery(0, { name: n, type: cfg.type ?? 'A' }, false).subarray(2));
    const slots = Math.min(cfg.inflight, 65535);
    const idBufs = Array.from({ length: slots }, (_, i) => {
      const b = Buffer.alloc(2);
      b.writeUInt16BE(i);
      return b;
    });
    const sentAt = new Float64Array(slots);
    const lat = new Float64Array(Math.min(20_000_000, Math.ceil((cfg.durationMs / 1000) * 2_000_000)));
    let n = 0;
    let sent = 0;
    let answered = 0;
    let errors = 0;
    let timeouts = 0;
    let nameIdx = 0;
    let measuring = (cfg.warmupMs ?? 0) === 0;
    let stopping = false;
    const send = (slot: number): void => {
      sentAt[slot] = performance.now();
      if (measuring) sent++;
      s.send([idBufs[slot]!, bodies[nameIdx++ % bodies.length]!], cfg.port, cfg.server);
    };
    s.on('message', (msg) => {
      const slot = msg.readUInt16BE(0);
      if (slot >= slots || sentAt[slot] === 0) return;
      const us = (performance.now() - sentAt[slot]!) * 1000;
      sentAt[slot] = 0;
      if (measuring) {
        answered++;
        // NOERROR with at least one answer is the only success for a local name.
        if ((msg[3]! & 0x0f) !== 0 || msg.readUInt16BE(6) === 0) errors++;
        if (n < lat.length) lat[n++] = us;
      }
      if (!stopping) send(slot);
    });
    // A lost datagram would shrink the window for good: re-send slots silent for 1 s.
    const sweeper = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < slots; i++) {
        if (sentAt[i]! !== 0 && now - sentAt[i]! > 1000) {
          if (measuring) timeouts++;
          if (!stopping) send(i);
          else sentAt[i] = 0;
        }
      }
    }, 200);
    s.bind(0, () => {
      try {
        s.setRecvBufferSize(4 << 20);
      } catch {
        /* default */
      }
      for (let i = 0; i < slots; i++) send(i);
      setTimeout(() => {
        measuring = true;
        setTimeout(() => {
          stopping = true;
          measuring = false;
          setTimeout(() => {
            clearInterval(sweeper);
            s.close();
            resolve({ sent, answered, errors, timeouts, latenciesUs: lat.slice(0, n) });
          }, 200);
        }, cfg.durationMs);
      }, cfg.warmupMs ?? 0);
    });
  });
}

async function load(cfg: LoadConfig): Promise<Record<string, number>> {
  const workers = Math.max(1, cfg.workers ?? 1);
  let parts: LoadResult[];
  if (workers === 1) {
    parts = [await loadOnce(cfg)];
  } else {
    const per = { ...cfg, inflight: Math.max(1, Math.round(cfg.inflight / workers)), workers: 1 };
    parts = await Promise.all(
      Array.from(
        { length: workers },
        () =>
          new Promise<LoadResult>((resolve, reject) => {
            const w = new Worker(fileURLToPath(import.meta.url), { workerData: per });
            w.once('message', (r: LoadResult) => resolve(r));
            w.once('error', reject);
          }),
      ),
    );
  }
  const all = new Float64Array(parts.reduce((k, p) => k + p.latenciesUs.length, 0));
  let off = 0;
  for (const p of parts) {
    all.set(p.latenciesUs, off);
    off += p.latenciesUs.length;
  }
  all.sort();
  const pct = (q: number): number => (all.length === 0 ? NaN : all[Math.min(all.length - 1, Math.floor(q * all.length))]!);
  const sum = (f: (p: LoadResult) => number): number => parts.reduce((k, p) => k + f(p), 0);
  const answered = sum((p) => p.answered);
  return {
    sent: sum((p) => p.sent),
    answered,
    errors: sum((p) => p.errors),
    timeouts: sum((p) => p.timeouts),
    qps: Math.round(answered / (cfg.durationMs / 1000)),
    p50Us: Math.round(pct(0.5)),
    p99Us: Math.round(pct(0.99)),
    p999Us: Math.round(pct(0.999)),
  };
}

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  const cfg = JSON.parse(json ?? '{}') as unknown;
  switch (mode) {
    case 'serve':
      return serve(cfg as ServeConfig);
    case 'upstream':
      return upstream(cfg as UpstreamConfig);
    case 'query':
      process.stdout.write(JSON.stringify(await query(cfg as QueryConfig)) + '\n');
      return;
    case 'load':
      process.stdout.write(JSON.stringify(await load(cfg as LoadConfig)) + '\n');
      return;
    default:
      process.stderr.write('usage: dns-lab-tool serve|upstream|query|load JSON\n');
      process.exit(2);
  }
}

if (isMainThread) {
  main().catch((e: Error) => {
    process.stderr.write(`${e.stack ?? e.message}\n`);
    process.exit(1);
  });
} else {
  loadOnce(workerData as LoadConfig).then(
    (r) => parentPort!.postMessage(r, [r.latenciesUs.buffer as ArrayBuffer]),
    (e: Error) => {
      process.stderr.write(`load worker: ${e.stack ?? e.message}\n`);
      process.exit(1);
    },
  );
}
