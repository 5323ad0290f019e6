/**
 * NftFirewall against real packets. Topology (all in namespaces this file makes):
 *
 *   outside (198.18.0.2, fd98::2) ── uplink ── host (198.18.0.1 + 198.18.0.11, fd98::1)
 *   host: br-a 10.88.1.1/24 fd88:1::1/64  ← s1 (.2), s2 (.3)      icc, masquerade, dual-stack
 *         br-b 10.88.2.1/24 fd88:2::1/64  ← s3 (.2)               isolation peer
 *         br-c 10.88.3.1/24               ← s5 (.2), s6 (.3)      icc=false
 *         br-i 10.88.4.1/24               ← s7 (.2), s8 (.3)      internal
 *
 * NftFirewall runs against the host namespace through netnsPath; every probe is a real TCP or
 * UDP exchange whose answer names the address the server saw.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { NftFirewall } from '../../src/firewall/nft-firewall.js';
import { bindingsToMappings, parsePortSpec } from '../../src/firewall/port-spec.js';
import type { FwNetwork, FwPortMapping } from '../../src/firewall/types.js';
import { ConflictError, FirewallError } from '../../src/errors.js';

const TAG = `weft-fw-${randomBytes(3).toString('hex')}`;
const NS = {
  host: `${TAG}-host`,
  out: `${TAG}-out`,
  s1: `${TAG}-s1`,
  s2: `${TAG}-s2`,
  s3: `${TAG}-s3`,
  s5: `${TAG}-s5`,
  s6: `${TAG}-s6`,
  s7: `${TAG}-s7`,
  s8: `${TAG}-s8`,
};
type NsName = keyof typeof NS;
const nsPath = (n: NsName): string => `/run/netns/${NS[n]}`;

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], opts: { timeoutMs?: number; input?: string } = {}): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { timeout: opts.timeoutMs ?? 20_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? Number((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    child.stdin?.on('error', () => undefined); // the program may exit without reading stdin
    child.stdin?.end(opts.input ?? '');
  });
}

async function must(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await run(cmd, args, input === undefined ? {} : { input });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const ipn = (n: NsName, ...args: string[]): Promise<string> => must('ip', ['-n', NS[n], ...args]);
const inNs = (n: NsName, cmd: string, args: string[], input?: string): Promise<string> =>
  must('nsenter', [`--net=${nsPath(n)}`, cmd, ...args], input);
const nftIn = (n: NsName, args: string[], input?: string): Promise<string> => inNs(n, 'nft', args, input);

// A server answering every TCP connection / UDP datagram with "<name> <peer address>".
const SERVER = `
const net = require('node:net'), dgram = require('node:dgram');
const [name, ...ports] = process.argv.slice(1);
const peer = (a) => String(a).replace(/^::ffff:/, '');
let pending = ports.length * 2;
const ready = () => { if (--pending === 0) process.stdout.write('ready\\n'); };
for (const p of ports.map(Number)) {
  net.createServer((s) => { s.on('error', () => {}); s.end(name + ' ' + peer(s.remoteAddress)); })
    .listen({ port: p, host: '::', ipv6Only: false }, ready);
  const u = dgram.createSocket({ type: 'udp6', ipv6Only: false });
  u.on('message', (m, r) => u.send(name + ' ' + peer(r.address), r.port, r.address));
  u.bind(p, '::', ready);
}
setTimeout(() => process.exit(0), 600000).unref();
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

// One probe: prints the server's answer, or "ERR <reason>".
const CLIENT = `
const net = require('node:net'), dgram = require('node:dgram');
const [proto, host, port, ms] = process.argv.slice(1);
const done = (s) => { process.stdout.write(s); process.exit(0); };
setTimeout(() => done('ERR timeout'), Number(ms));
if (proto === 'tcp') {
  let buf = '';
  const s = net.connect({ host, port: Number(port) });
  s.on('data', (d) => (buf += d)); s.on('end', () => done(buf || 'ERR empty')); s.on('error', (e) => done('ERR ' + e.code));
} else {
  const u = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
  u.on('message', (m) => done(String(m))); u.on('error', (e) => done('ERR ' + e.code));
  const send = () => u.send('ping', Number(port), host);
  send(); setInterval(send, 300);
}
`;

const servers: ChildProcess[] = [];

async function startServer(n: NsName, ports: number[]): Promise<void> {
  const child = spawn('nsenter', [`--net=${nsPath(n)}`, process.execPath, '-e', SERVER, n, ...ports.map(String)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  servers.push(child);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server in ${n} did not start`)), 10_000);
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`server in ${n} exited ${code}: ${err}`)));
  });
}

/** The answer of the server reached at host:port from namespace `from`, or "ERR …". */
async function probe(from: NsName, proto: 'tcp' | 'udp', host: string, port: number, ms = 1500): Promise<string> {
  const r = await run('nsenter', [`--net=${nsPath(from)}`, process.execPath, '-e', CLIENT, proto, host, String(port), String(ms)], {
    timeoutMs: ms + 5000,
  });
  return r.stdout.trim() || `ERR exit ${r.code} ${r.stderr.trim()}`;
}

async function reaches(from: NsName, proto: 'tcp' | 'udp', host: string, port: number, server: string, seenAs?: string): Promise<void> {
  const got = await probe(from, proto, host, port);
  const what = `${from} → ${proto} ${host}:${port}`;
  if (seenAs === undefined) assert.ok(got.startsWith(`${server} `), `${what}: got ${got}`);
  else assert.equal(got, `${server} ${seenAs}`, what);
}

async function blocked(from: NsName, proto: 'tcp' | 'udp', host: string, port: number): Promise<void> {
  const got = await probe(from, proto, host, port, 1000);
  assert.match(got, /^ERR /, `${from} → ${proto} ${host}:${port} should fail, got ${got}`);
}

const NET_A: FwNetwork = {
  id: 'net-a',
  bridge: 'br-a',
  subnets4: ['10.88.1.0/24'],
  subnets6: ['fd88:1::/64'],
  internal: false,
  icc: true,
  masquerade: true,
};
const NET_B: FwNetwork = {
  id: 'net-b',
  bridge: 'br-b',
  subnets4: ['10.88.2.0/24'],
  subnets6: ['fd88:2::/64'],
  internal: false,
  icc: true,
  masquerade: true,
};
const NET_C: FwNetwork = {
  id: 'net-c',
  bridge: 'br-c',
  subnets4: ['10.88.3.0/24'],
  subnets6: [],
  internal: false,
  icc: false,
  masquerade: true,
};
const NET_I: FwNetwork = {
  id: 'net-i',
  bridge: 'br-i',
  subnets4: ['10.88.4.0/24'],
  subnets6: [],
  internal: true,
  icc: true,
  masquerade: true,
};

const port = (hostPort: number, containerPort: number, extra: Partial<FwPortMapping> = {}): FwPortMapping => ({
  networkId: 'net-a',
  protocol: 'tcp',
  hostPort,
  containerIp: '10.88.1.2',
  containerPort,
  ...extra,
});

async function addSandbox(n: NsName, bridge: string, v4: string, gw4: string, v6?: string, gw6?: string): Promise<void> {
  const hostIf = `v${n}`;
  await ipn('host', 'link', 'add', hostIf, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS[n]);
  await ipn('host', 'link', 'set', hostIf, 'master', bridge, 'up');
  await ipn(n, 'link', 'set', 'lo', 'up');
  await ipn(n, 'addr', 'add', v4, 'dev', 'eth0');
  if (v6) await ipn(n, '-6', 'addr', 'add', v6, 'dev', 'eth0', 'nodad');
  await ipn(n, 'link', 'set', 'eth0', 'up');
  await ipn(n, 'route', 'add', 'default', 'via', gw4);
  if (gw6) await ipn(n, '-6', 'route', 'add', 'default', 'via', gw6);
}

async function addBridge(name: string, v4: string, v6?: string): Promise<void> {
  await ipn('host', 'link', 'add', name, 'type', 'bridge');
  await ipn('host', 'addr', 'add', v4, 'dev', name);
  if (v6) await ipn('host', '-6', 'addr', 'add', v6, 'dev', name, 'nodad');
  await ipn('host', 'link', 'set', name, 'up');
}

const sysctl = (n: NsName, key: string, value: string): Promise<string> => inNs(n, 'sysctl', ['-qw', `${key}=${value}`]);

/** Run fn with bridged traffic kept out of the IP hooks (br_netfilter off) in the host. */
async function withoutBrNetfilter<T>(fn: () => Promise<T>): Promise<T> {
  await sysctl('host', 'net.bridge.bridge-nf-call-iptables', '0');
  await sysctl('host', 'net.bridge.bridge-nf-call-ip6tables', '0');
  try {
    return await fn();
  } finally {
    await sysctl('host', 'net.bridge.bridge-nf-call-iptables', '1');
    await sysctl('host', 'net.bridge.bridge-nf-call-ip6tables', '1');
  }
}

describe('nftables firewall in a fake host namespace', { timeout: 240_000 }, () => {
  const fw = new NftFirewall({ netnsPath: nsPath('host') });

  before(async () => {
    for (const n of Object.keys(NS) as NsName[]) await must('ip', ['netns', 'add', NS[n]]);
    await ipn('host', 'link', 'set', 'lo', 'up');
    await ipn('out', 'link', 'set', 'lo', 'up');
    // Uplink with two host addresses (for "bound to one host IP").
    await ipn('host', 'link', 'add', 'uplink', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.out);
    await ipn('host', 'addr', 'add', '198.18.0.1/24', 'dev', 'uplink');
    await ipn('host', 'addr', 'add', '198.18.0.11/24', 'dev', 'uplink');
    await ipn('host', '-6', 'addr', 'add', 'fd98::1/64', 'dev', 'uplink', 'nodad');
    await ipn('host', 'link', 'set', 'uplink', 'up');
    await ipn('out', 'addr', 'add', '198.18.0.2/24', 'dev', 'eth0');
    await ipn('out', '-6', 'addr', 'add', 'fd98::2/64', 'dev', 'eth0', 'nodad');
    await ipn('out', 'link', 'set', 'eth0', 'up');
    await addBridge('br-a', '10.88.1.1/24', 'fd88:1::1/64');
    await addBridge('br-b', '10.88.2.1/24', 'fd88:2::1/64');
    await addBridge('br-c', '10.88.3.1/24');
    await addBridge('br-i', '10.88.4.1/24');
    await addSandbox('s1', 'br-a', '10.88.1.2/24', '10.88.1.1', 'fd88:1::2/64', 'fd88:1::1');
    await addSandbox('s2', 'br-a', '10.88.1.3/24', '10.88.1.1', 'fd88:1::3/64', 'fd88:1::1');
    await addSandbox('s3', 'br-b', '10.88.2.2/24', '10.88.2.1', 'fd88:2::2/64', 'fd88:2::1');
    await addSandbox('s5', 'br-c', '10.88.3.2/24', '10.88.3.1');
    await addSandbox('s6', 'br-c', '10.88.3.3/24', '10.88.3.1');
    await addSandbox('s7', 'br-i', '10.88.4.2/24', '10.88.4.1');
    await addSandbox('s8', 'br-i', '10.88.4.3/24', '10.88.4.1');
    // What the daemon sets in its own namespace (see the report): forwarding, and
    // route_localnet on bridges so 127.0.0.1:PORT can be DNATed onto them.
    await sysctl('host', 'net.ipv4.ip_forward', '1');
    await sysctl('host', 'net.ipv6.conf.all.forwarding', '1');
    await sysctl('host', 'net.ipv4.conf.br-a.route_localnet', '1');
    // The user's own table exists before weft starts; init() must leave it alone.
    await nftIn(
      'host',
      ['-f', '-'],
      'table inet weft-user {\n chain weft-user { type filter hook forward priority -10; policy accept;\n  counter comment "mine"\n }\n}\n',
    );
    await startServer('s1', [80, 81, 53, 9000, 9001, 9002]);
    await startServer('s2', [80]);
    await startServer('s3', [80]);
    await startServer('s6', [80]);
    await startServer('s8', [80]);
    await startServer('out', [7000]);
  });

  after(async () => {
    for (const s of servers) s.kill('SIGKILL');
    for (const n of Object.values(NS)) await run('ip', ['netns', 'del', n]);
  });

  it('is the nftables backend and init() creates weft tables next to the user table', async () => {
    assert.equal(fw.name, 'nftables');
    await fw.init({ networks: [NET_A, NET_B, NET_C, NET_I], ports: [] });
    await fw.init({ networks: [NET_A, NET_B, NET_C, NET_I], ports: [] }); // replace, twice
    const tables = await nftIn('host', ['list', 'tables']);
    assert.match(tables, /table inet weft\n/);
    assert.match(tables, /table bridge weft\n/);
    const user = await nftIn('host', ['list', 'table', 'inet', 'weft-user']);
    assert.match(user, /comment "mine"/, 'user rule survived init()');
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
  });

  it('publishes TCP and UDP ports to outside clients, preserving their address', async () => {
    await fw.addPorts([port(8080, 80), port(5353, 53, { protocol: 'udp' })]);
    await reaches('out', 'tcp', '198.18.0.1', 8080, 's1', '198.18.0.2');
    await reaches('out', 'udp', '198.18.0.1', 5353, 's1', '198.18.0.2');
    // Any host address: the second uplink address and the gateway work too.
    await reaches('out', 'tcp', '198.18.0.11', 8080, 's1', '198.18.0.2');
    await fw.addPorts([port(8080, 80)]); // publishing twice is a no-op
    assert.equal(fw.state.ports.length, 2);
  });

  it('publishes a port range parsed from a -p spec', async () => {
    const maps = bindingsToMappings(parsePortSpec('9100-9102:9000-9002'), 'net-a', '10.88.1.2');
    assert.equal(maps.length, 3);
    await fw.addPorts(maps);
    for (let i = 0; i < 3; i++) await reaches('out', 'tcp', '198.18.0.1', 9100 + i, 's1', '198.18.0.2');
  });

  it('a port bound to one host address is not reachable on another', async () => {
    await fw.addPorts(bindingsToMappings(parsePortSpec('198.18.0.1:8081:81'), 'net-a', '10.88.1.2'));
    await reaches('out', 'tcp', '198.18.0.1', 8081, 's1', '198.18.0.2');
    await blocked('out', 'tcp', '198.18.0.11', 8081);
  });

  it('reaches published ports from the host itself, including 127.0.0.1', async () => {
    await reaches('host', 'tcp', '198.18.0.1', 8080, 's1');
    await reaches('host', 'tcp', '127.0.0.1', 8080, 's1', '10.88.1.1');
  });

  it('hairpin: a sandbox reaches a published port through the host address', async () => {
    await reaches('s2', 'tcp', '198.18.0.1', 8080, 's1', '10.88.1.1');
    // To itself: with br_netfilter on, the DNATed packet is bridged back out of the port it came
    // in on, which the bridge only does with hairpin mode on that port (the driver's job, as
    // Docker does without its userland proxy). Without br_netfilter it is simply routed.
    await withoutBrNetfilter(() => reaches('s1', 'tcp', '198.18.0.1', 8080, 's1', '10.88.1.1'));
    await ipn('host', 'link', 'set', 'vs1', 'type', 'bridge_slave', 'hairpin', 'on');
    await reaches('s1', 'tcp', '198.18.0.1', 8080, 's1', '10.88.1.1');
    await reaches('s2', 'udp', '198.18.0.1', 5353, 's1', '10.88.1.1');
    // From another network: published ports are public, the client keeps its address.
    await reaches('s3', 'tcp', '198.18.0.1', 8080, 's1', '10.88.2.2');
  });

  it('masquerades egress and lets nothing out of an internal network', async () => {
    await reaches('s1', 'tcp', '198.18.0.2', 7000, 'out', '198.18.0.1');
    await reaches('s5', 'tcp', '198.18.0.2', 7000, 'out', '198.18.0.1');
    await blocked('s7', 'tcp', '198.18.0.2', 7000);
    await reaches('s7', 'tcp', '10.88.4.3', 80, 's8', '10.88.4.2'); // within the internal bridge
    await ipn('out', 'route', 'add', '10.88.4.0/24', 'via', '198.18.0.1');
    await blocked('out', 'tcp', '10.88.4.2', 80); // routed towards it, still no way in
  });

  it('isolates bridges from each other (IPv4 and IPv6) and from unsolicited inbound traffic', async () => {
    await reaches('s2', 'tcp', '10.88.1.2', 80, 's1', '10.88.1.3'); // same bridge, icc on
    await blocked('s3', 'tcp', '10.88.1.2', 80);
    await blocked('s1', 'tcp', '10.88.2.2', 80);
    await blocked('s3', 'tcp', 'fd88:1::2', 80);
    await blocked('s1', 'tcp', 'fd88:2::2', 80);
    await ipn('out', 'route', 'add', '10.88.1.0/24', 'via', '198.18.0.1');
    await blocked('out', 'tcp', '10.88.1.2', 80); // not published: no direct route in
  });

  it('icc=false blocks traffic between sandboxes of one bridge, with and without br_netfilter', async () => {
    await blocked('s5', 'tcp', '10.88.3.3', 80);
    await withoutBrNetfilter(async () => {
      await blocked('s5', 'tcp', '10.88.3.3', 80);
      await reaches('s2', 'tcp', '10.88.1.2', 80, 's1', '10.88.1.3'); // icc on still works
      await reaches('s2', 'tcp', '198.18.0.1', 8080, 's1', '10.88.1.1'); // hairpin too
    });
  });

  it('publishes an IPv6 port', async () => {
    await fw.addPorts([port(8080, 80, { containerIp: 'fd88:1::2' })]);
    await reaches('out', 'tcp', 'fd98::1', 8080, 's1', 'fd98::2');
    await reaches('out', 'tcp', '198.18.0.1', 8080, 's1', '198.18.0.2'); // v4 twin untouched
    await reaches('s2', 'tcp', 'fd98::1', 8080, 's1', 'fd88:1::1'); // IPv6 hairpin
  });

  it('the user chain is evaluated first: published ports only from one source range', async () => {
    await nftIn('host', [
      'add',
      'rule',
      'inet',
      'weft-user',
      'weft-user',
      'ct',
      'status',
      'dnat',
      'ip',
      'saddr',
      '!=',
      '198.18.1.0/24',
      'drop',
      'comment',
      '"test-only"',
    ]);
    try {
      await blocked('out', 'tcp', '198.18.0.1', 8080);
    } finally {
      const listing = await nftIn('host', ['-a', 'list', 'chain', 'inet', 'weft-user', 'weft-user']);
      const handle = /comment "test-only" # handle (\d+)/.exec(listing)?.[1];
      assert.ok(handle, listing);
      await nftIn('host', ['delete', 'rule', 'inet', 'weft-user', 'weft-user', 'handle', handle]);
    }
    await reaches('out', 'tcp', '198.18.0.1', 8080, 's1', '198.18.0.2');
  });

  it('rejects bad input and conflicts without changing anything', async () => {
    const before = await nftIn('host', ['list', 'table', 'inet', 'weft']);
    await assert.rejects(fw.addPorts([port(8082, 80), port(8080, 81)]), ConflictError);
    await assert.rejects(fw.addPorts([port(8083, 80), port(70000, 80)]), /hostPort/);
    // nft itself refusing (an element weft did not put there): nothing of the batch lands.
    await nftIn('host', ['add', 'element', 'inet', 'weft', 'ports4_any', '{ tcp . 8090 : 10.88.1.3 . 80 }']);
    await assert.rejects(fw.addPorts([port(8084, 80), port(8090, 80)]), FirewallError);
    await nftIn('host', ['delete', 'element', 'inet', 'weft', 'ports4_any', '{ tcp . 8090 }']);
    assert.equal(await nftIn('host', ['list', 'table', 'inet', 'weft']), before);
    assert.ok(!fw.state.ports.some((p) => [8082, 8083, 8084, 8090].includes(p.hostPort)));
  });

  it('after `nft flush ruleset`, check() reports problems and restore() brings traffic back', async () => {
    await nftIn('host', ['flush', 'ruleset']);
    const c = await fw.check();
    assert.equal(c.ok, false);
    assert.ok(
      c.problems.some((p) => p.includes('table inet weft is missing')),
      c.problems.join('\n'),
    );
    await blocked('out', 'tcp', '198.18.0.1', 8080);
    await fw.restore();
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
    await reaches('out', 'tcp', '198.18.0.1', 8080, 's1', '198.18.0.2');
    await reaches('out', 'tcp', 'fd98::1', 8080, 's1', 'fd98::2');
    await blocked('s5', 'tcp', '10.88.3.3', 80);
  });

  it('check() notices a removed element and an edited rule', async () => {
    await nftIn('host', ['delete', 'element', 'inet', 'weft', 'ports4_any', '{ tcp . 8080 }']);
    const c = await fw.check();
    assert.ok(
      c.problems.some((p) => p.includes('tcp . 8080 : 10.88.1.2 . 80 is missing')),
      c.problems.join('\n'),
    );
    // Same tag, different meaning: caught by the fingerprint taken after the last full apply.
    const listing = await nftIn('host', ['-a', 'list', 'chain', 'inet', 'weft', 'forward']);
    const handle = /comment "weft:fwd-inbound" # handle (\d+)/.exec(listing)?.[1];
    assert.ok(handle, listing);
    await nftIn('host', [
      'replace',
      'rule',
      'inet',
      'weft',
      'forward',
      'handle',
      handle,
      'oifname',
      '@bridges',
      'accept',
      'comment',
      '"weft:fwd-inbound"',
    ]);
    const edited = await fw.check();
    assert.ok(edited.problems.includes('chain inet weft forward: rule weft:fwd-inbound was modified'), edited.problems.join('\n'));
    await fw.restore();
    assert.equal((await fw.check()).ok, true);
  });

  it('publishing the 1000th port costs about what the 1st did', async () => {
    const t0 = performance.now();
    await fw.addPorts([port(20000, 80)]);
    const first = performance.now() - t0;
    const bulk: FwPortMapping[] = [];
    for (let p = 20001; p < 20999; p++) bulk.push(port(p, 80));
    await fw.addPorts(bulk);
    const t1 = performance.now();
    await fw.addPorts([port(20999, 80)]);
    const thousandth = performance.now() - t1;
    console.log(`publish 1st port: ${first.toFixed(1)} ms, 1000th port: ${thousandth.toFixed(1)} ms`);
    await reaches('out', 'tcp', '198.18.0.1', 20999, 's1', '198.18.0.2');
    assert.ok(thousandth < Math.max(first * 5, first + 250), `1000th ${thousandth} ms vs 1st ${first} ms`);
    assert.equal((await fw.check()).ok, true);
  });

  it('removes ports and networks, tolerating what is already gone', async () => {
    await fw.removePorts([port(8080, 80)]);
    await blocked('out', 'tcp', '198.18.0.1', 8080);
    await reaches('out', 'tcp', 'fd98::1', 8080, 's1', 'fd98::2');
    await fw.removePorts([port(8080, 80)]); // never mind: already gone
    await fw.removeNetwork('net-b');
    await fw.removeNetwork('net-b');
    assert.equal((await fw.check()).ok, true);
    await fw.removeNetwork('net-a');
    await blocked('out', 'tcp', 'fd98::1', 8080);
    assert.equal(fw.state.ports.length, 0);
    assert.deepEqual(await fw.check(), { ok: true, problems: [] });
    await fw.addNetwork(NET_A);
    await fw.addPorts([port(8080, 80)]);
    await reaches('out', 'tcp', '198.18.0.1', 8080, 's1', '198.18.0.2');
  });
});
