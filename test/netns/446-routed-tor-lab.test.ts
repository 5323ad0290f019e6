/**
 * Pure L3 across two L2 segments through the product (issue 15): `weft lab up --underlay l3
 * --bgp` makes the lab's host-segment routers run BIRD as top-of-rack routers (eBGP with their
 * hosts, one AS per host, and with each other over the spine); every host runs weftd --bgp.
 * A routed network with /30 blocks in a /29 pool: h1 and h2 take the two blocks, h3 must borrow
 * one address (/32). Checked: each router's kernel table holds each host's block (and the
 * borrowed /32) with the right next hop; sandboxes on hosts in different segments talk (TCP,
 * UDP, ICMP); a host that dies has its routes withdrawn from the routers and the other hosts;
 * IP-in-IP is refused with a typed error when the kernel has no ipip.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { checkEncapsulation } from '../../src/bgp/bgp-speaker.js';
import { ipipState } from '../../src/kernel/tunnel-support.js';
import { WeftError } from '../../src/errors.js';
import { cidrContains, parseCidr } from '../../src/ipam/cidr.js';
import { parseAddress } from '../../src/ipam/address.js';

const node = process.execPath;
const POOL = '10.73.0.0/29';

interface Route {
  dst: string;
  gateway?: string;
  protocol?: string;
  type?: string;
}
interface Workload {
  host: string;
  nsPath: string;
  v4: string;
}

/** Whether a kernel route's destination (`ip -j` prints a /32 as a bare address) covers an IPv4 address. */
const inPrefix = (addr: string, dst: string): boolean =>
  dst !== 'default' &&
  !dst.includes(':') &&
  cidrContains(parseCidr(dst.includes('/') ? dst : `${dst}/32`, 'route'), parseAddress(addr, 'address'));
const prefixLen = (dst: string): number => (dst.includes('/') ? Number(dst.split('/')[1]) : 32);

describe('routed across L2 segments behind BIRD top-of-rack routers (lab --underlay l3 --bgp)', { timeout: 420_000 }, () => {
  let lab: ClusterLab;
  const w: Record<string, Workload> = {};
  const ok = async (h: string, args: string[]): Promise<string> => {
    const r = await lab.weft(h, args, 60_000);
    assert.equal(r.code, 0, `weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  const routesOf = async (ns: string): Promise<Route[]> =>
    JSON.parse((await run('ip', ['-j', '-4', '-n', ns, 'route', 'show'])).stdout || '[]') as Route[];
  const router = (name: string) => lab.state.routers!.find((r) => r.name === name)!;
  const tcp = async (from: string, to: string): Promise<string | undefined> => {
    const r = await run('nsenter', [`--net=${w[from]!.nsPath}`, node, NETTOOL, 'tcp-client', w[to]!.v4, '7500', 'x', '1500']);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const udp = async (from: string, to: string): Promise<string | undefined> => {
    const r = await run('nsenter', [`--net=${w[from]!.nsPath}`, node, NETTOOL, 'udp-client', w[to]!.v4, '7500', 'x', '1500']);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const icmp = async (from: string, to: string): Promise<boolean> =>
    (await run('nsenter', [`--net=${w[from]!.nsPath}`, 'busybox', 'ping', '-c', '1', '-W', '1', w[to]!.v4])).code === 0;

  before(async () => {
    lab = await ClusterLab.up({ hosts: 3, underlay: 'l3', routing: 'bgp', name: `rt${randomBytes(3).toString('hex')}` });
  });
  after(async () => lab?.down());

  it('the ToRs r1 and r2 run BIRD with sessions to each of their hosts and to each other', async () => {
    assert.deepEqual(
      lab.state.routers?.map((r) => r.name),
      ['r1', 'r2'],
    );
    for (const [r, want] of [
      ['r1', 3], // h1, h3, r2
      ['r2', 2], // h2, r1
    ] as const) {
      await waitFor(
        `${r}: ${want} sessions Established`,
        async () => {
          const out = await run('birdc', ['-s', `${router(r).runDir}/bird.ctl`, 'show', 'protocols']);
          return (out.stdout.match(/Established/g) ?? []).length === want;
        },
        60_000,
        500,
      );
    }
  });

  it('a /29 of /30 blocks: h1 and h2 take a block each, h3 borrows a single address', async () => {
    await ok('h1', ['network', 'create', '-d', 'routed', '--subnet', POOL, '--ipam-opt', 'weft.ipam.block-size=30', 'rtor']);
    for (const [i, h] of ['h1', 'h2', 'h3'].entries()) {
      await waitFor(`the network on ${h}`, async () => (await lab.weft(h, ['network', 'inspect', 'rtor'])).code === 0, 15_000);
      const name = `w${i + 1}`;
      await ok(h, ['run', '-d', '--name', name, '--network', 'rtor', '--', node, NETTOOL, 'echo-server', '7500']);
      const sb = (JSON.parse(await ok(h, ['sandbox', 'inspect', name])) as { netnsPath: string; endpoints: { ipv4: string }[] }[])[0]!;
      w[name] = { host: h, nsPath: sb.netnsPath, v4: sb.endpoints[0]!.ipv4.split('/')[0]! };
    }
    const blocks = ['10.73.0.0/30', '10.73.0.4/30'];
    const b1 = blocks.find((b) => inPrefix(w.w1!.v4, b))!;
    const b2 = blocks.find((b) => inPrefix(w.w2!.v4, b))!;
    assert.notEqual(b1, b2, 'h1 and h2 own one block each');
    assert.ok(
      blocks.some((b) => inPrefix(w.w3!.v4, b)),
      'h3 borrowed from one of them',
    );
  });

  it("each router's kernel holds every host's block and h3's borrowed /32 with the right next hop", async () => {
    const addr = (h: string) => lab.host(h).address;
    const spine = { r1: '198.19.255.2', r2: '198.19.255.3' };
    const want: Record<'r1' | 'r2', [string, string][]> = {
      // [address inside the route, next hop]
      r1: [
        [w.w1!.v4, addr('h1')],
        [w.w2!.v4, spine.r2],
        [w.w3!.v4, addr('h3')],
      ],
      r2: [
        [w.w1!.v4, spine.r1],
        [w.w2!.v4, addr('h2')],
        [w.w3!.v4, spine.r1],
      ],
    };
    for (const r of ['r1', 'r2'] as const) {
      const routes = await waitFor(
        `${r}: blocks and the borrowed /32`,
        async () => {
          const rs = (await routesOf(router(r).ns)).filter((x) => x.protocol === 'bird');
          // The most specific route for each address decides where it goes.
          const best = (a: string) => rs.filter((x) => inPrefix(a, x.dst)).sort((x, y) => prefixLen(y.dst) - prefixLen(x.dst))[0];
          return want[r].every(([a, gw]) => best(a)?.gateway === gw) ? rs : undefined;
        },
        30_000,
        200,
      );
      assert.ok(
        routes.some((x) => x.dst === `${w.w3!.v4}/32` || x.dst === w.w3!.v4),
        `${r} has h3's borrowed address as a /32: ${JSON.stringify(routes)}`,
      );
    }
  });

  it('sandboxes on hosts in different segments talk (TCP, UDP, ICMP), including to and from the borrowed address', async () => {
    let probes = 0;
    for (const from of ['w1', 'w2', 'w3'])
      for (const to of ['w1', 'w2', 'w3']) {
        if (from === to) continue;
        assert.equal(await waitFor(`tcp ${from} → ${to}`, () => tcp(from, to), 20_000, 100), `${w[from]!.v4} x`);
        assert.equal(await waitFor(`udp ${from} → ${to}`, () => udp(from, to), 10_000, 100), `${w[from]!.v4} x`);
        assert.ok(await waitFor(`icmp ${from} → ${to}`, () => icmp(from, to), 10_000, 100));
        probes += 3;
      }
    assert.equal(probes, 18);
  });

  it('a host that dies (weft lab kill --host h2) has its block withdrawn from both routers and the other hosts', async () => {
    const gone = w.w2!.v4;
    const holds = async (ns: string): Promise<boolean> =>
      (await routesOf(ns)).some((x) => x.protocol === 'bird' && x.type !== 'blackhole' && inPrefix(gone, x.dst));
    const where = [router('r1').ns, router('r2').ns, lab.host('h1').ns, lab.host('h3').ns];
    for (const ns of where) assert.ok(await holds(ns), `${ns} routes ${gone} before`);
    await lab.kill('h2', { wholeHost: true });
    const t0 = Date.now();
    await waitFor(
      "h2's block withdrawn everywhere",
      async () => {
        for (const ns of where) if (await holds(ns)) return false;
        return true;
      },
      20_000,
      50,
    );
    console.log(`routed tor lab: h2's block gone from r1, r2, h1, h3 ${Date.now() - t0} ms after its host died`);
    assert.equal(await tcp('w1', 'w2'), undefined, 'h2 unreachable');
    assert.equal(await tcp('w1', 'w3'), `${w.w1!.v4} x`, 'the others still talk');
  });

  it('IP-in-IP: a kernel without ipip is detected and said, with a typed error', () => {
    const state = ipipState();
    if (state === 'loaded') {
      assert.throws(
        () => checkEncapsulation('ipip'),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT',
      );
      return;
    }
    assert.throws(
      () => checkEncapsulation('ipip'),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_KERNEL_UNSUPPORTED' && /ipip/.test(e.message),
    );
    console.log(`routed tor lab: ipip on this kernel: ${state}`);
  });
});
