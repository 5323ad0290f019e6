/**
 * Runs inside one workload namespace for the policy tests: serves TCP and UDP on the given ports
 * (answering "<name>"), then reads probe requests as JSON lines on stdin and answers each with a
 * JSON line — so hundreds of real connections need no process per probe.
 *   node policy-agent.js NAME TCP_PORTS UDP_PORTS
 *   stdin:  {"id":1,"kind":"tcp"|"udp"|"icmp","host":"10.65.0.2","port":80,"timeoutMs":1500}
 *   stdout: {"id":1,"ok":true,"detail":"r2"}
 */
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import net from 'node:net';
import { createInterface } from 'node:readline';

interface Probe {
  id: number;
  kind: 'tcp' | 'udp' | 'icmp';
  host: string;
  port: number;
  timeoutMs: number;
}

const [name = '?', tcpPorts = '', udpPorts = ''] = process.argv.slice(2);
const MAX_IN_FLIGHT = 12;

function serve(): Promise<void> {
  const ready: Promise<void>[] = [];
  for (const p of tcpPorts.split(',').filter(Boolean).map(Number)) {
    const srv = net.createServer((s) => {
      s.on('error', () => undefined); // a client that gave up mid-answer is not our problem
      s.end(name);
    });
    ready.push(new Promise((resolve) => srv.listen({ port: p, host: '::', ipv6Only: false }, resolve)));
  }
  for (const p of udpPorts.split(',').filter(Boolean).map(Number)) {
    const u = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    u.on('message', (_m, r) => u.send(name, r.port, r.address));
    ready.push(new Promise((resolve) => u.bind(p, '::', resolve)));
  }
  return Promise.all(ready).then(() => undefined);
}

function tcp(p: Probe): Promise<[boolean, string]> {
  return new Promise((resolve) => {
    let buf = '';
    const s = net.connect({ host: p.host, port: p.port });
    const t = setTimeout(() => {
      s.destroy();
      resolve([false, 'timeout']);
    }, p.timeoutMs);
    s.on('data', (d) => (buf += d.toString()));
    s.on('end', () => {
      clearTimeout(t);
      resolve([buf !== '', buf || 'empty']);
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(t);
      resolve([false, e.code ?? e.message]);
    });
  });
}

function udp(p: Probe): Promise<[boolean, string]> {
  return new Promise((resolve) => {
    const u = dgram.createSocket(p.host.includes(':') ? 'udp6' : 'udp4');
    const send = (): void => u.send('ping', p.port, p.host);
    const every = setInterval(send, 400);
    const finish = (r: [boolean, string]): void => {
      clearInterval(every);
      clearTimeout(t);
      u.close();
      resolve(r);
    };
    const t = setTimeout(() => finish([false, 'timeout']), p.timeoutMs);
    u.on('message', (m) => finish([true, m.toString()]));
    u.on('error', (e: NodeJS.ErrnoException) => finish([false, e.code ?? e.message]));
    send();
  });
}

function icmp(p: Probe): Promise<[boolean, string]> {
  const wait = String(Math.max(1, Math.round(p.timeoutMs / 1000)));
  const args = ['ping', ...(p.host.includes(':') ? ['-6'] : ['-4']), '-c', '1', '-W', wait, p.host];
  return new Promise((resolve) => {
    execFile('busybox', args, { timeout: p.timeoutMs + 3000 }, (err, stdout) => {
      resolve(err ? [false, 'no reply'] : [true, /(\d+) bytes from/.test(String(stdout)) ? 'reply' : String(stdout).trim()]);
    });
  });
}

await serve();
process.stdout.write(JSON.stringify({ ready: name }) + '\n');

let inFlight = 0;
const waiting: Probe[] = [];
const pump = (): void => {
  while (inFlight < MAX_IN_FLIGHT && waiting.length > 0) {
    const p = waiting.shift()!;
    inFlight++;
    const t0 = performance.now();
    const run = p.kind === 'tcp' ? tcp(p) : p.kind === 'udp' ? udp(p) : icmp(p);
    void run.then(([ok, detail]) => {
      inFlight--;
      process.stdout.write(JSON.stringify({ id: p.id, ok, detail, ms: Math.round(performance.now() - t0) }) + '\n');
      pump();
    });
  }
};
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === '') return;
  waiting.push(JSON.parse(line) as Probe);
  pump();
});
process.stdin.on('end', () => process.exit(0));
