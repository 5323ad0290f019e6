/**
 * A small network tool run inside sandboxes by the integration tests (node, no shell):
 *   tcp-server PORT[,PORT…]    echo server; replies "<remoteAddress> <data>"
 *   udp-server PORT[,PORT…]    same over UDP
 *   echo-server PORT[,PORT…]   both: TCP and UDP on each port (one process per sandbox)
 *   tcp-client HOST PORT MSG [MS]  prints the reply; exit 1 on error/timeout (default 3 s)
 *   udp-client HOST PORT MSG   same over UDP
 *   stream-server PORT         accepts one connection, counts bytes until FIN, answers the count
 *   stream-client HOST PORT MS streams for MS milliseconds, prints "sent=N acked=N"
 *   ifaces                     prints the interfaces as JSON
 */
import net from 'node:net';
import dgram from 'node:dgram';
import os from 'node:os';

const [mode, a, b, c, d] = process.argv.slice(2);
const clientTimeout = Number(d ?? 3000);
const die = (msg: string): never => {
  process.stderr.write(msg + '\n');
  process.exit(1);
};
const clean = (addr: string | undefined): string => (addr ?? '').replace(/^::ffff:/, '');

const tcpServer = (port: string): void =>
  void net.createServer((s) => s.on('data', (d) => s.end(`${clean(s.remoteAddress)} ${d.toString()}`))).listen(Number(port), '::');
const udpServer = (port: string): void => {
  const s4 = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  s4.on('message', (m, r) => s4.send(`${clean(r.address)} ${m.toString()}`, r.port, r.address));
  s4.bind(Number(port), '::');
};

switch (mode) {
  case 'tcp-server':
    for (const port of a!.split(',')) tcpServer(port);
    break;
  case 'udp-server':
    for (const port of a!.split(',')) udpServer(port);
    break;
  case 'echo-server':
    for (const port of a!.split(',')) {
      tcpServer(port);
      udpServer(port);
    }
    break;
  case 'tcp-client': {
    const t = setTimeout(() => die('timeout'), clientTimeout);
    const s = net.connect({ host: a!, port: Number(b) }, () => s.write(c ?? 'ping'));
    let out = '';
    s.on('data', (d) => (out += d.toString()));
    s.on('end', () => {
      clearTimeout(t);
      process.stdout.write(out + '\n');
    });
    s.on('error', (e) => die(e.message));
    break;
  }
  case 'udp-client': {
    const s = dgram.createSocket(a!.includes(':') ? 'udp6' : 'udp4');
    const t = setTimeout(() => die('timeout'), clientTimeout);
    s.on('message', (m) => {
      clearTimeout(t);
      process.stdout.write(m.toString() + '\n');
      s.close();
    });
    s.send(c ?? 'ping', Number(b), a);
    break;
  }
  case 'stream-server':
    net
      .createServer((s) => {
        let n = 0;
        s.on('data', (d) => (n += d.length));
        s.on('end', () => s.end(String(n)));
        s.on('error', () => undefined);
      })
      .listen(Number(a), '::');
    break;
  case 'stream-client': {
    const until = Date.now() + Number(c);
    const chunk = Buffer.alloc(16384, 120);
    let sent = 0;
    const s = net.connect({ host: a!, port: Number(b) });
    const t = setTimeout(() => die(`stalled after sent=${sent}`), Number(c) + 15000);
    const pump = (): void => {
      while (Date.now() < until) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    s.on('connect', pump);
    let reply = '';
    s.on('data', (d) => (reply += d.toString()));
    s.on('end', () => {
      clearTimeout(t);
      process.stdout.write(`sent=${sent} acked=${reply}\n`);
    });
    s.on('error', (e) => die(`error after sent=${sent}: ${e.message}`));
    break;
  }
  case 'ifaces':
    process.stdout.write(JSON.stringify(os.networkInterfaces()) + '\n');
    break;
  default:
    die(`unknown mode ${mode}`);
}
