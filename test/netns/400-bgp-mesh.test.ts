/**
 * BGP through real BIRD: two hosts on one L2 underlay in a full iBGP mesh, plus GoBGP as an
 * independent external speaker (eBGP) on the same segment. Checks what lands in each kernel
 * (aggregates with the right next hop, blackholes, a borrowed /32 inside the other host's
 * block), real TCP between workloads, what GoBGP learns, the import filters (no default, no
 * foreign prefix), reconfiguration without restart, a bad model never reaching BIRD, and
 * withdrawal when a host's BIRD dies or stops. Figures are printed as "# figure …".
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { InvalidArgumentError } from '../../src/errors.js';
import type { BgpModel } from '../../src/bgp/model.js';
import type { BgpPeerStatus, BgpSpeaker } from '../../src/bgp/bgp-speaker.js';
import type { Rtnl } from '../../src/kernel/netlink/rtnl.js';
import { isAlive } from '../../src/kernel/proc.js';
import { readCmdline } from '../../src/kernel/process-identity.js';
import { run, waitFor } from '../../src/lab/sim-host.js';
import { BgpTopology, birdRoutes, gobgpConf, waitBirdRoute, waitEstablished, waitNoBirdRoute, type LabNode } from './bgp-topology.js';

const A4 = '198.18.40.1';
const B4 = '198.18.40.2';
const G4 = '198.18.40.9';
const A6 = '2001:db8:40::1';
const B6 = '2001:db8:40::2';
const POOLS = ['10.40.0.0/16', 'fd00:40::/48'];
const figure = (name: string, value: string): void => void process.stdout.write(`# figure ${name}: ${value}\n`);

/** BIRD's "since" (HH:MM:SS.mmm) in ms of the day. */
const sinceMs = (since: string): number => {
  const m = /(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?$/.exec(since);
  assert.ok(m, `a time in "${since}"`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number((m[4] ?? '0').padEnd(3, '0'));
};

/**
 * The same sessions, established since the same moment: none went down and came back. BIRD
 * prints "since" by converting its monotonic timestamp to wall time at each `show`, so the last
 * millisecond digit may move by one between two reads; a restarted session's would be seconds on.
 */
function sameSessions(now: BgpPeerStatus[], earlier: BgpPeerStatus[]): void {
  const what = `sessions stayed up (same "since"): ${JSON.stringify(earlier)} → ${JSON.stringify(now)}`;
  assert.deepEqual(
    now.map((p) => [p.protocol, p.state]),
    earlier.map((p) => [p.protocol, p.state]),
    what,
  );
  for (const [i, p] of now.entries()) assert.ok(Math.abs(sinceMs(p.since) - sinceMs(earlier[i]!.since)) <= 5, what);
}

const hosts = [
  { name: 'a', asNumber: 64512, address4: A4, address6: A6 },
  { name: 'b', asNumber: 64512, address4: B4, address6: B6 },
];
const gobgpPeer = { name: 'gobgp', asNumber: 65009, address: G4 };
const timers = { holdSeconds: 9, keepaliveSeconds: 3 };

const modelA = (over: Partial<BgpModel> = {}): BgpModel => ({
  hostName: 'a',
  routerId: A4,
  asNumber: 64512,
  address4: A4,
  address6: A6,
  pools: POOLS,
  blocks: ['10.40.1.0/26', 'fd00:40:0:1::/122'],
  hosts,
  externalPeers: [gobgpPeer],
  timers,
  ...over,
});
const modelB = (over: Partial<BgpModel> = {}): BgpModel => ({
  hostName: 'b',
  routerId: B4,
  asNumber: 64512,
  address4: B4,
  address6: B6,
  pools: POOLS,
  blocks: ['10.40.2.0/26', 'fd00:40:0:2::/122'],
  borrowed: ['10.40.1.50'], // from a's block: Calico #3246's case
  hosts,
  externalPeers: [gobgpPeer],
  timers,
  ...over,
});

interface GobgpPath {
  nexthop?: string;
  neighbor?: string;
}

describe('bgp: two hosts in a full mesh with real BIRD, GoBGP as an external peer', () => {
  const lab = new BgpTopology();
  let a: LabNode, b: LabNode, g: LabNode;
  let wa1: LabNode, wb1: LabNode, wb2: LabNode;
  let sa: BgpSpeaker, sb: BgpSpeaker;
  let ra: Rtnl, rb: Rtnl;

  const gobgp = async (args: string[]): Promise<string> => {
    const r = await run('nsenter', [`--net=${g.nsPath}`, 'gobgp', '-u', '127.0.0.1', '-p', '50051', ...args], { timeoutMs: 10_000 });
    if (r.code !== 0) throw new Error(`gobgp ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const gobgpRib = async (): Promise<Record<string, GobgpPath[]>> => {
    const raw = JSON.parse(await gobgp(['global', 'rib', '-a', 'ipv4', '-j'])) as Record<
      string,
      { attrs?: { type: number; nexthop?: string }[]; 'neighbor-ip'?: string }[]
    >;
    const out: Record<string, GobgpPath[]> = {};
    for (const [prefix, paths] of Object.entries(raw)) {
      out[prefix] = paths.map((p) => {
        const nh = p.attrs?.find((x) => x.type === 3)?.nexthop;
        return { ...(nh === undefined ? {} : { nexthop: nh }), ...(p['neighbor-ip'] === undefined ? {} : { neighbor: p['neighbor-ip'] }) };
      });
    }
    return out;
  };

  before(async () => {
    await lab.segment('l2');
    a = await lab.router('a');
    b = await lab.router('b');
    g = await lab.node('gobgp');
    await lab.attach(a, 'l2', 'eth0', [`${A4}/24`, `${A6}/64`]);
    await lab.attach(b, 'l2', 'eth0', [`${B4}/24`, `${B6}/64`]);
    await lab.attach(g, 'l2', 'eth0', [`${G4}/24`]);
    wa1 = await lab.workload(a, 'wa1', '10.40.1.10');
    wb1 = await lab.workload(b, 'wb1', '10.40.2.10');
    wb2 = await lab.workload(b, 'wb2', '10.40.1.50');
    ra = await lab.rtnl(a);
    rb = await lab.rtnl(b);
    await lab.gobgpd(
      g,
      gobgpConf(65009, G4, [
        { address: A4, as: 64512 },
        { address: B4, as: 64512 },
      ]),
    );
  });

  after(async () => {
    await lab.cleanup();
  });

  it('brings every session to Established within a bound', async () => {
    const t0 = Date.now();
    [sa, sb] = await Promise.all([lab.speaker(a, modelA()), lab.speaker(b, modelB())]);
    const started = Date.now() - t0;
    // The first assertion: the speaker under test is a real BIRD in the host's namespace.
    const argv = readCmdline(sa.pid!);
    assert.equal(argv?.[0], '/usr/sbin/bird');
    assert.equal(readFileSync(`/proc/${sa.pid}/cmdline`, 'utf8').includes(sa.configFile), true);
    await Promise.all([waitEstablished(sa), waitEstablished(sb)]);
    const up = Date.now() - t0;
    figure('bird start (2 hosts, parallel) until ready', `${started} ms`);
    figure('bird start until all sessions Established (v4+v6 mesh + GoBGP)', `${up} ms`);
    assert.ok(up < 15_000, `sessions took ${up} ms`);
    const peers = await sa.peers();
    assert.deepEqual(
      peers.map((p) => [p.peer, p.kind, p.family, p.neighborAddress, p.neighborAs, p.state]),
      [
        ['b', 'host', 4, B4, 64512, 'Established'],
        ['b', 'host', 6, B6, 64512, 'Established'],
        ['gobgp', 'external', 4, G4, 65009, 'Established'],
      ],
    );
  });

  it('puts each host block aggregate into the other kernel with the right next hop, proto bird', async () => {
    await waitBirdRoute(ra, 4, '10.40.2.0/26', B4);
    await waitBirdRoute(rb, 4, '10.40.1.0/26', A4);
    await waitBirdRoute(ra, 6, 'fd00:40:0:2::/122', B6);
    await waitBirdRoute(rb, 6, 'fd00:40:0:1::/122', A6);
    // The unused part of the own block is blackholed locally.
    await waitBirdRoute(ra, 4, '10.40.1.0/26', 'blackhole');
    await waitBirdRoute(rb, 4, '10.40.2.0/26', 'blackhole');
    await waitBirdRoute(ra, 6, 'fd00:40:0:1::/122', 'blackhole');
  });

  it('routes a borrowed /32 to the borrower, even on the host whose block blackholes the rest (#3246)', async () => {
    const r = await waitBirdRoute(ra, 4, '10.40.1.50/32', B4);
    assert.equal(r.protocol, 12);
    // b does not get its own borrowed address back from BIRD: its route to wb2 is the "driver's".
    assert.deepEqual(birdRoutes(rb, 4, '10.40.1.50/32'), []);
    const driver = rb.routes(4, 254).find((x) => x.dst === '10.40.1.50/32');
    assert.ok(driver && driver.protocol !== 12 && driver.gateway === undefined);
  });

  it('never announces the per-workload routes beneath a block', async () => {
    await waitFor('GoBGP has the blocks', async () => (await gobgpRib())['10.40.2.0/26']?.length, 10_000);
    assert.deepEqual(birdRoutes(rb, 4, '10.40.1.10/32'), [], "a's workload /32 is not exported");
    assert.deepEqual(birdRoutes(ra, 4, '10.40.2.10/32'), []);
    const rib = await gobgpRib();
    assert.equal(rib['10.40.1.10/32'], undefined);
    assert.equal(rib['10.40.2.10/32'], undefined);
  });

  it('GoBGP learns each block from its owner only (hosts are not transit) and the borrowed /32 from the borrower', async () => {
    const rib = await gobgpRib();
    assert.deepEqual(rib['10.40.1.0/26'], [{ nexthop: A4, neighbor: A4 }]);
    assert.deepEqual(rib['10.40.2.0/26'], [{ nexthop: B4, neighbor: B4 }]);
    assert.deepEqual(rib['10.40.1.50/32'], [{ nexthop: B4, neighbor: B4 }]);
    assert.deepEqual(Object.keys(rib).sort(), ['10.40.1.0/26', '10.40.1.50/32', '10.40.2.0/26']);
  });

  it("installs GoBGP's pool route, and refuses its default route and a prefix outside the pools", async () => {
    await gobgp(['global', 'rib', 'add', '-a', 'ipv4', '10.40.77.0/24']);
    await gobgp(['global', 'rib', 'add', '-a', 'ipv4', '0.0.0.0/0']);
    await gobgp(['global', 'rib', 'add', '-a', 'ipv4', '192.0.2.0/24']);
    await waitBirdRoute(ra, 4, '10.40.77.0/24', G4);
    await waitBirdRoute(rb, 4, '10.40.77.0/24', G4);
    // The others were offered in the same UPDATE round; give BIRD a moment and look in its table too.
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(birdRoutes(ra, 4, '0.0.0.0/0'), []);
    assert.deepEqual(birdRoutes(ra, 4, '192.0.2.0/24'), []);
    const inBird = (await sa.routes({ table: 'master4' })).map((r) => r.net);
    assert.ok(inBird.includes('10.40.77.0/24'));
    assert.ok(!inBird.includes('0.0.0.0/0') && !inBird.includes('192.0.2.0/24'), 'filtered on import, not just on kernel export');
    // And a host never passes a peer's route on: GoBGP hears 10.40.77.0/24 from nobody.
    assert.equal((await gobgpRib())['10.40.77.0/24']?.filter((p) => p.neighbor !== undefined && p.neighbor !== '<nil>').length ?? 0, 0);
    const t0 = Date.now();
    await gobgp(['global', 'rib', 'del', '-a', 'ipv4', '10.40.77.0/24']);
    const cli = Date.now() - t0;
    await waitNoBirdRoute(rb, 4, '10.40.77.0/24');
    figure('GoBGP `rib del` until gone from a BIRD kernel table', `${Date.now() - t0} ms (the gobgp CLI call itself ${cli} ms)`);
  });

  it('carries real TCP between workloads, to the borrowed address, and drops the unused part of a block', async () => {
    await lab.tcpServer(wb1, 7000);
    await lab.tcpServer(wb2, 7000);
    await lab.tcpServer(wa1, 7000);
    assert.equal(await waitFor('wa1 → wb1', () => lab.tcpProbe(wa1, '10.40.2.10', 7000), 10_000), '10.40.1.10 hi');
    assert.equal(await waitFor('wa1 → wb2 (borrowed)', () => lab.tcpProbe(wa1, '10.40.1.50', 7000), 10_000), '10.40.1.10 hi');
    assert.equal(await waitFor('wb2 → wa1', () => lab.tcpProbe(wb2, '10.40.1.10', 7000), 10_000), '10.40.1.50 hi');
    // 10.40.1.33 is in a's block but no workload has it: a's blackhole drops it.
    assert.equal(await lab.tcpProbe(wb1, '10.40.1.33', 7000, 800), undefined);
  });

  it('applies a model change with configure, without restarting BIRD or its sessions', async () => {
    const pid = sa.pid;
    const before = await sa.peers();
    const t0 = Date.now();
    assert.equal(await sa.apply(modelA({ blocks: ['10.40.1.0/26', '10.40.3.0/26', 'fd00:40:0:1::/122'] })), 'reconfigured');
    await waitBirdRoute(rb, 4, '10.40.3.0/26', A4);
    figure('new block applied on a until in b kernel', `${Date.now() - t0} ms`);
    assert.equal(sa.pid, pid);
    assert.ok(isAlive(pid!));
    sameSessions(await sa.peers(), before);
    // Same model again: nothing to do.
    assert.equal(await sa.apply(modelA({ blocks: ['10.40.3.0/26', '10.40.1.0/26', 'fd00:40:0:1::/122'] })), 'unchanged');
    // b gives its borrowed address back: a's /32 for it is withdrawn (a's blackhole covers it again).
    assert.equal(await sb.apply(modelB({ borrowed: [] })), 'reconfigured');
    await waitNoBirdRoute(ra, 4, '10.40.1.50/32');
    assert.equal(await sb.apply(modelB()), 'reconfigured');
    await waitBirdRoute(ra, 4, '10.40.1.50/32', B4);
  });

  it('never lets a bad model reach BIRD: typed error, same file, same pid, same sessions', async () => {
    const pid = sa.pid;
    const file = readFileSync(sa.configFile, 'utf8');
    const before = await sa.peers();
    const bad: [BgpModel, string][] = [
      [modelA({ asNumber: 0 }), 'asNumber'],
      [modelA({ externalPeers: [{ ...gobgpPeer, address: 'not-an-address' }] }), 'externalPeers[0].address'],
      [modelA({ blocks: ['10.99.0.0/26'] }), 'blocks[0]'],
      [modelA({ hosts: [...hosts, { name: 'c', asNumber: 64512, address4: B4 }] }), 'hosts[2].address4'],
    ];
    for (const [m, field] of bad) {
      await assert.rejects(sa.apply(m), (e: unknown) => e instanceof InvalidArgumentError && e.field === field);
    }
    assert.equal(readFileSync(sa.configFile, 'utf8'), file);
    assert.equal(existsSync(`${sa.configFile}.new`), false);
    assert.equal(sa.pid, pid);
    sameSessions(await sa.peers(), before);
  });

  it('a restarted weftd adopts the running BIRD (same pid, sessions untouched) and applies its model', async () => {
    const pid = sa.pid!;
    const before = await sa.peers();
    sa.detach(); // weftd exits; BIRD and the dataplane stay
    const t0 = Date.now();
    const next = await lab.speaker(a, modelA({ blocks: ['10.40.1.0/26', '10.40.4.0/26', 'fd00:40:0:1::/122'] }));
    assert.equal(next.pid, pid, 'adopted, not restarted');
    await waitBirdRoute(rb, 4, '10.40.4.0/26', A4);
    figure('weftd restart: adopt BIRD + apply a changed model until in the other kernel', `${Date.now() - t0} ms`);
    sameSessions(await next.peers(), before);
    sa = next;
  });

  it("withdraws a host's routes everywhere when its BIRD is killed, and the supervisor brings it back", async () => {
    const pid = sb.pid!;
    let restartedPid: number | undefined;
    sb.process.once('ready', (e) => (restartedPid = e.pid));
    const t0 = Date.now();
    process.kill(pid, 'SIGKILL'); // our own child, by pid
    await waitNoBirdRoute(ra, 4, '10.40.2.0/26', 10_000);
    const atA = Date.now() - t0;
    await waitFor('GoBGP withdrew b', async () => (await gobgpRib())['10.40.2.0/26'] === undefined, 10_000, 10);
    const atG = Date.now() - t0;
    figure('BIRD killed → block withdrawn from the other host kernel', `${atA} ms`);
    figure('BIRD killed → block withdrawn from GoBGP RIB', `${atG} ms`);
    assert.ok(atA < 3000, `withdrawal took ${atA} ms`);
    // Polled, not awaited on the event: the supervisor's timers are unref'd and would not keep the test alive.
    const newPid = await waitFor('supervisor restart', () => restartedPid, 10_000);
    assert.notEqual(newPid, pid);
    await waitEstablished(sb);
    await waitBirdRoute(ra, 4, '10.40.2.0/26', B4);
    figure('BIRD killed → restarted, re-established and re-announced', `${Date.now() - t0} ms`);
  });

  it('withdraws routes at once when a BIRD is stopped (SIGTERM), and removes its kernel routes', async () => {
    const t0 = Date.now();
    await sb.stop();
    const stopped = Date.now() - t0;
    const ms = await waitNoBirdRoute(ra, 4, '10.40.2.0/26', 10_000);
    figure('BIRD stopped → block withdrawn from the other host', `${Date.now() - t0} ms (stop itself ${stopped} ms)`);
    assert.ok(ms < 3000);
    assert.deepEqual(birdRoutes(rb, 4), [], "b's kernel has no BIRD routes left");
  });
});
