/**
 * The embedded DNS on real sockets: the server runs in a fake host namespace (on the gateways
 * of two bridges), clients in their own namespaces send real UDP/TCP DNS, and a toy
 * authoritative upstream lives in a third namespace behind a dead first upstream.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { deleteNetnsWithProcesses, mustRun, run } from '../../src/lab/sim-host.js';
import type { QueryResult } from '../../src/lab/dns-lab-tool.js';
import { reverseName } from '../../src/dns/records.js';

const TOOL = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/lab/dns-lab-tool.js');
const tag = randomBytes(3).toString('hex');
const NS = { host: `weft-dns-h-${tag}`, client: `weft-dns-c-${tag}`, client2: `weft-dns-d-${tag}`, upstream: `weft-dns-u-${tag}` };
const nsPath = (ns: string): string => `/run/netns/${ns}`;

type Result = QueryResult;
type Q = { name?: string; type?: string; raw?: string };

/** A long-running child in a namespace whose stdout lines we collect. */
class Child {
  readonly lines: string[] = [];
  private readonly proc: ChildProcess;
  stderr = '';
  constructor(ns: string, args: string[]) {
    this.proc = spawn('nsenter', ['--net=' + nsPath(ns), process.execPath, TOOL, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    readline.createInterface({ input: this.proc.stdout! }).on('line', (l) => this.lines.push(l));
    this.proc.stderr!.on('data', (c: Buffer) => (this.stderr += c.toString()));
  }
  async waitLine(pred: (l: string) => boolean, what: string, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.lines.find(pred);
      if (hit !== undefined) return hit;
      if (this.proc.exitCode !== null) throw new Error(`${what}: child exited ${this.proc.exitCode}: ${this.stderr}`);
      if (Date.now() > end) throw new Error(`${what}: timed out; stderr: ${this.stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  /** Send one command line and wait for its one-line JSON reply. */
  async command(obj: object): Promise<{ ok: boolean; error?: string }> {
    const before = this.lines.length;
    this.proc.stdin!.write(JSON.stringify(obj) + '\n');
    const end = Date.now() + 5000;
    while (this.lines.length === before) {
      if (Date.now() > end) throw new Error('no reply to command');
      await new Promise((r) => setTimeout(r, 10));
    }
    return JSON.parse(this.lines[before]!) as { ok: boolean; error?: string };
  }
  kill(): void {
    if (this.proc.pid !== undefined && this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

async function query(ns: string, server: string, queries: Q[], opts: { tcp?: boolean; edns?: boolean } = {}): Promise<Result[]> {
  const r = await run(
    'nsenter',
    ['--net=' + nsPath(ns), process.execPath, TOOL, 'query', JSON.stringify({ server, port: 53, queries, timeoutMs: 5000, ...opts })],
    {
      timeoutMs: 15_000,
    },
  );
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as Result[];
}
const data = (r: Result): unknown[] => (r.answers ?? []).map((a) => a.data);

const BIG = Array.from({ length: 40 }, (_, i) => `198.18.1.${i + 1}`);

describe('embedded DNS in network namespaces', () => {
  let server: Child | undefined;
  let upstream: Child | undefined;

  before(async () => {
    for (const ns of Object.values(NS)) {
      await mustRun('ip', ['netns', 'add', ns]);
      await mustRun('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const h = NS.host;
    // Network n1: bridge br0 (10.77.0.1, fd77::1) with the client on it.
    await mustRun('ip', ['-n', h, 'link', 'add', 'br0', 'type', 'bridge']);
    await mustRun('ip', ['-n', h, 'addr', 'add', '10.77.0.1/24', 'dev', 'br0']);
    await mustRun('ip', ['-n', h, 'addr', 'add', 'fd77::1/64', 'dev', 'br0', 'nodad']);
    await mustRun('ip', ['-n', h, 'link', 'add', 'vc0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.client]);
    await mustRun('ip', ['-n', h, 'link', 'set', 'vc0', 'master', 'br0', 'up']);
    await mustRun('ip', ['-n', h, 'link', 'set', 'br0', 'up']);
    await mustRun('ip', ['-n', NS.client, 'addr', 'add', '10.77.0.2/24', 'dev', 'eth0']);
    await mustRun('ip', ['-n', NS.client, 'addr', 'add', 'fd77::2/64', 'dev', 'eth0', 'nodad']);
    await mustRun('ip', ['-n', NS.client, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', NS.client, 'route', 'add', 'default', 'via', '10.77.0.1']);
    // Network n2: bridge br1 (10.78.0.1) with client2.
    await mustRun('ip', ['-n', h, 'link', 'add', 'br1', 'type', 'bridge']);
    await mustRun('ip', ['-n', h, 'addr', 'add', '10.78.0.1/24', 'dev', 'br1']);
    await mustRun('ip', ['-n', h, 'link', 'add', 'vd0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.client2]);
    await mustRun('ip', ['-n', h, 'link', 'set', 'vd0', 'master', 'br1', 'up']);
    await mustRun('ip', ['-n', h, 'link', 'set', 'br1', 'up']);
    await mustRun('ip', ['-n', NS.client2, 'addr', 'add', '10.78.0.2/24', 'dev', 'eth0']);
    await mustRun('ip', ['-n', NS.client2, 'link', 'set', 'eth0', 'up']);
    await mustRun('ip', ['-n', NS.client2, 'route', 'add', 'default', 'via', '10.78.0.1']);
    // The upstream resolver's own namespace, reachable from the host only.
    await mustRun('ip', ['-n', h, 'link', 'add', 'vu0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', NS.upstream]);
    await mustRun('ip', ['-n', h, 'addr', 'add', '10.77.1.1/24', 'dev', 'vu0']);
    await mustRun('ip', ['-n', h, 'link', 'set', 'vu0', 'up']);
    await mustRun('ip', ['-n', NS.upstream, 'addr', 'add', '10.77.1.2/24', 'dev', 'eth0']);
    await mustRun('ip', ['-n', NS.upstream, 'link', 'set', 'eth0', 'up']);

    upstream = new Child(NS.upstream, [
      'upstream',
      JSON.stringify({
        address: '10.77.1.2',
        port: 53,
        records: {
          'outside.example': { A: ['198.18.0.5'], AAAA: ['2001:db8::5'] },
          'big.example': { A: BIG },
          '2.1.77.10.in-addr.arpa': { PTR: 'upstream.example' },
        },
      }),
    ]);
    await upstream.waitLine((l) => l === 'ready', 'upstream ready');

    server = new Child(NS.host, [
      'serve',
      JSON.stringify({
        port: 53,
        listen: [
          { networkId: 'n1', address: '10.77.0.1' },
          { networkId: 'n1', address: 'fd77::1' },
          { networkId: 'n2', address: '10.78.0.1' },
        ],
        subnets: { n1: ['10.77.0.0/24', 'fd77::/64'], n2: ['10.78.0.0/24'] },
        records: [
          {
            networkId: 'n1',
            endpointId: 'e1',
            entry: { name: 'web', aliases: ['frontend', 'svc'], ipv4: '10.77.0.10/24', ipv6: 'fd77::10/64' },
          },
          { networkId: 'n1', endpointId: 'e2', entry: { name: 'api', aliases: ['svc'], ipv4: '10.77.0.11/24' } },
          { networkId: 'n2', endpointId: 'e3', entry: { name: 'db', aliases: [], ipv4: '10.78.0.10/24' } },
        ],
        // The first upstream does not exist: every query must still get through via the second.
        upstreams: ['10.77.1.99', '10.77.1.2'],
        forwardTimeoutMs: 1000,
      }),
    ]);
    await server.waitLine((l) => l === 'ready', 'dns server ready');
  });

  after(async () => {
    server?.kill();
    upstream?.kill();
    await new Promise((r) => setTimeout(r, 100));
    await deleteNetnsWithProcesses(Object.values(NS));
  });

  it('listens on the gateways inside the fake host, not in the root namespace', async () => {
    const udp = await run('nsenter', ['--net=' + nsPath(NS.host), 'ss', '-Hlun']);
    const tcp = await run('nsenter', ['--net=' + nsPath(NS.host), 'ss', '-Hltn']);
    for (const want of ['10.77.0.1:53', '[fd77::1]:53', '10.78.0.1:53']) {
      assert.ok(udp.stdout.includes(want), `udp ${want} in ${udp.stdout}`);
      assert.ok(tcp.stdout.includes(want), `tcp ${want} in ${tcp.stdout}`);
    }
    const root = await run('ss', ['-Hlun']);
    assert.ok(!root.stdout.includes('10.77.0.1:53'), 'nothing bound in the root namespace');
  });

  it('resolves sandbox names and aliases, A and AAAA, case-insensitively, over v4 and v6', async () => {
    const r = await query(NS.client, '10.77.0.1', [
      { name: 'web', type: 'A' },
      { name: 'FrontEnd.', type: 'A' },
      { name: 'web', type: 'AAAA' },
      { name: 'api', type: 'AAAA' },
    ]);
    assert.deepEqual(data(r[0]!), ['10.77.0.10']);
    assert.equal(r[0]!.aa, true);
    assert.equal(r[0]!.answers![0]!.ttl, 600);
    assert.deepEqual(data(r[1]!), ['10.77.0.10']);
    assert.deepEqual(data(r[2]!), ['fd77::10']);
    assert.equal(r[3]!.rcode, 'NOERROR', 'a known name without IPv6 is NODATA, not NXDOMAIN');
    assert.deepEqual(data(r[3]!), []);
    const v6 = await query(NS.client, 'fd77::1', [{ name: 'api', type: 'A' }]);
    assert.deepEqual(data(v6[0]!), ['10.77.0.11']);
  });

  it('rotates endpoints sharing an alias from one query to the next', async () => {
    const firsts = new Set<unknown>();
    for (let i = 0; i < 4; i++) {
      const [r] = await query(NS.client, '10.77.0.1', [{ name: 'svc', type: 'A' }]);
      assert.deepEqual(new Set(data(r!)), new Set(['10.77.0.10', '10.77.0.11']));
      firsts.add(data(r!)[0]);
    }
    assert.deepEqual(firsts, new Set(['10.77.0.10', '10.77.0.11']));
  });

  it('answers PTR for its subnets locally', async () => {
    const r = await query(NS.client, '10.77.0.1', [
      { name: '10.0.77.10.in-addr.arpa', type: 'PTR' },
      { name: reverseName('fd77::10'), type: 'PTR' },
      { name: '99.0.77.10.in-addr.arpa', type: 'PTR' },
    ]);
    assert.deepEqual(data(r[0]!), ['web']);
    assert.deepEqual(data(r[1]!), ['web']);
    assert.equal(r[2]!.rcode, 'NXDOMAIN');
    assert.equal(r[2]!.aa, true);
  });

  it('forwards outside names past a dead first upstream without stalling local answers', async () => {
    const [fwd, local] = await Promise.all([
      query(NS.client, '10.77.0.1', [{ name: 'outside.example', type: 'A' }]),
      (async () => {
        await new Promise((r) => setTimeout(r, 150));
        return query(NS.client, '10.77.0.1', [{ name: 'web', type: 'A' }]);
      })(),
    ]);
    assert.deepEqual(data(fwd[0]!), ['198.18.0.5']);
    assert.equal(fwd[0]!.answers![0]!.ttl, 60, "the upstream's own TTL, not ours");
    assert.ok(fwd[0]!.ms >= 900 && fwd[0]!.ms < 2500, `failover after the 1 s attempt timeout (took ${fwd[0]!.ms} ms)`);
    assert.deepEqual(data(local[0]!), ['10.77.0.10']);
    assert.ok(local[0]!.ms < 300, `local answer not held up by the dead upstream (${local[0]!.ms} ms)`);
    // The dead upstream is remembered: the next forwarded query goes straight to the live one.
    const [again] = await query(NS.client, '10.77.0.1', [{ name: 'outside.example', type: 'AAAA' }]);
    assert.deepEqual(data(again!), ['2001:db8::5']);
    assert.ok(again!.ms < 500, `dead upstream skipped (${again!.ms} ms)`);
    await upstream!.waitLine((l) => l.includes('"outside.example"') && l.includes('AAAA'), 'upstream saw the query', 2000);
  });

  it('forwards PTR queries outside its subnets', async () => {
    const [r] = await query(NS.client, '10.77.0.1', [{ name: '2.1.77.10.in-addr.arpa', type: 'PTR' }]);
    assert.deepEqual(data(r!), ['upstream.example']);
  });

  it('answers several queries on one TCP connection', async () => {
    const r = await query(
      NS.client,
      '10.77.0.1',
      [
        { name: 'web', type: 'A' },
        { name: 'svc', type: 'A' },
        { name: 'outside.example', type: 'A' },
        { name: 'frontend', type: 'AAAA' },
        { name: '10.0.77.10.in-addr.arpa', type: 'PTR' },
      ],
      { tcp: true },
    );
    assert.deepEqual(
      r.map((x) => x.error),
      [undefined, undefined, undefined, undefined, undefined],
    );
    assert.deepEqual(data(r[0]!), ['10.77.0.10']);
    assert.equal(r[1]!.answers!.length, 2);
    assert.deepEqual(data(r[2]!), ['198.18.0.5']);
    assert.deepEqual(data(r[3]!), ['fd77::10']);
    assert.deepEqual(data(r[4]!), ['web']);
  });

  it('answers garbage with FORMERR and keeps serving', async () => {
    // Header of a QUERY with one question, then a label that claims 63 bytes and has one.
    const [bad] = await query(NS.client, '10.77.0.1', [{ raw: '000001000001000000000000' + '3f61' }]);
    assert.equal(bad!.rcode, 'FORMERR');
    assert.equal(bad!.id, 0x1000);
    const [good] = await query(NS.client, '10.77.0.1', [{ name: 'web', type: 'A' }]);
    assert.deepEqual(data(good!), ['10.77.0.10']);
  });

  it('truncates over-large UDP answers and fetches them whole over TCP', async () => {
    const [plain] = await query(NS.client, '10.77.0.1', [{ name: 'big.example', type: 'A' }]);
    assert.equal(plain!.tc, true, '40 records do not fit in 512 bytes');
    assert.deepEqual(data(plain!), []);
    const [edns] = await query(NS.client, '10.77.0.1', [{ name: 'big.example', type: 'A' }], { edns: true });
    assert.equal(edns!.tc, false);
    assert.deepEqual(new Set(data(edns!)), new Set(BIG), 'the server re-asked the upstream over TCP');
    await upstream!.waitLine((l) => l.includes('"tcp"') && l.includes('big.example'), 'upstream TCP query', 2000);
    const [tcp] = await query(NS.client, '10.77.0.1', [{ name: 'big.example', type: 'A' }], { tcp: true });
    assert.equal(tcp!.answers!.length, 40);
  });

  it('scopes names to the network the query arrives on', async () => {
    const r = await query(NS.client2, '10.78.0.1', [
      { name: 'db', type: 'A' },
      { name: 'web', type: 'A' },
    ]);
    assert.deepEqual(data(r[0]!), ['10.78.0.10']);
    assert.equal(r[1]!.rcode, 'NXDOMAIN', 'web is on n1 only; forwarded, unknown upstream');
    const [cross] = await query(NS.client, '10.78.0.1', [{ name: 'db', type: 'A' }]);
    assert.equal(cross!.rcode, 'REFUSED', "n1's client may not read n2's names through n2's gateway");
  });

  it('follows record changes without re-creating its sockets', async () => {
    const inode = async (): Promise<string> => {
      const r = await run('nsenter', ['--net=' + nsPath(NS.host), 'ss', '-Hlune', 'src', '10.77.0.1']);
      const m = /ino:(\d+)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      return m[1]!;
    };
    const before = await inode();
    const [old] = await query(NS.client, '10.77.0.1', [{ name: 'web', type: 'A' }]);
    assert.deepEqual(data(old!), ['10.77.0.10']);
    assert.equal(
      (await server!.command({ op: 'set', networkId: 'n1', endpointId: 'e1', entry: { name: 'web', aliases: [], ipv4: '10.77.0.20' } })).ok,
      true,
    );
    assert.equal(
      (await server!.command({ op: 'set', networkId: 'n1', endpointId: 'e4', entry: { name: 'cache', aliases: [], ipv4: '10.77.0.30' } }))
        .ok,
      true,
    );
    assert.equal((await server!.command({ op: 'remove', networkId: 'n1', endpointId: 'e2' })).ok, true);
    const r = await query(NS.client, '10.77.0.1', [
      { name: 'web', type: 'A' },
      { name: 'cache', type: 'A' },
      { name: 'api', type: 'A' },
      { name: 'frontend', type: 'A' },
    ]);
    assert.deepEqual(data(r[0]!), ['10.77.0.20'], 'cached answer replaced');
    assert.deepEqual(data(r[1]!), ['10.77.0.30']);
    assert.equal(r[2]!.rcode, 'NXDOMAIN', 'removed endpoint no longer answers');
    assert.equal(r[3]!.rcode, 'NXDOMAIN', 'dropped alias no longer answers');
    assert.equal(await inode(), before, 'same UDP socket before and after');
  });
});
