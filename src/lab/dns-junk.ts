/**
 * A DNS flood for tests and benchmarks, run inside a namespace they made (never aimed at an
 * address they did not create):
 *   node dns-junk.js '{"server":"10.1.0.1","port":53,"pps":1000,"durationMs":3000,"kind":"counts"}'
 * kinds: "counts" — 12-byte queries claiming 65535 records in every section (what made the
 * decoder spend ~11 ms each); "random" — random bytes of 12–512; "miss" — well-formed queries
 * for random names nobody caches. TCP: "tcp-hold" opens `connections` connections and keeps
 * them open for durationMs. Prints {"sent":N} (or {"held":N}) when done.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { randomBytes } from 'node:crypto';
import * as dnsPacket from 'dns-packet';

interface JunkConfig {
  server: string;
  port: number;
  pps?: number;
  durationMs: number;
  kind: 'counts' | 'random' | 'miss' | 'tcp-hold';
  connections?: number;
}

function packet(kind: JunkConfig['kind']): Buffer {
  switch (kind) {
    case 'counts': {
      const b = Buffer.alloc(12, 0xff);
      b.writeUInt16BE(randomBytes(2).readUInt16BE(0), 0);
      b[2] = 0x01; // a query (QR clear, opcode 0), RD set
      b[3] = 0x00;
      return b;
    }
    case 'random':
      return randomBytes(12 + (randomBytes(2).readUInt16BE(0) % 500));
    default:
      return dnsPacket.encode({
        type: 'query',
        id: randomBytes(2).readUInt16BE(0),
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ name: `${randomBytes(6).toString('hex')}.invalid`, type: 'A' }],
      });
  }
}

async function udpFlood(c: JunkConfig): Promise<number> {
  const sock = dgram.createSocket(net.isIPv6(c.server) ? 'udp6' : 'udp4');
  sock.on('message', () => undefined); // replies are read and ignored
  sock.on('error', () => undefined);
  const pps = c.pps ?? 1000;
  const tickMs = 10;
  const perTick = pps / (1000 / tickMs);
  let sent = 0;
  let owed = 0;
  const end = Date.now() + c.durationMs;
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (Date.now() >= end) {
        clearInterval(t);
        resolve();
        return;
      }
      owed += perTick;
      for (; owed >= 1; owed--) {
        sock.send(packet(c.kind), c.port, c.server);
        sent++;
      }
    }, tickMs);
  });
  sock.close();
  return sent;
}

async function tcpHold(c: JunkConfig): Promise<number> {
  const conns: net.Socket[] = [];
  let held = 0;
  await Promise.all(
    Array.from(
      { length: c.connections ?? 300 },
      () =>
        new Promise<void>((resolve) => {
          const s = net.connect({ host: c.server, port: c.port }, () => {
            held++;
            resolve();
          });
          s.on('error', () => resolve());
          s.on('close', () => resolve());
          conns.push(s);
        }),
    ),
  );
  await new Promise((r) => setTimeout(r, c.durationMs));
  const open = conns.filter((s) => !s.destroyed && s.readyState === 'open').length;
  for (const s of conns) s.destroy();
  process.stderr.write(`connected ${held}, still open at the end ${open}\n`);
  return open;
}

const cfg = JSON.parse(process.argv[2] ?? '{}') as JunkConfig;
if (cfg.kind === 'tcp-hold') process.stdout.write(JSON.stringify({ held: await tcpHold(cfg) }) + '\n');
else process.stdout.write(JSON.stringify({ sent: await udpFlood(cfg) }) + '\n');
