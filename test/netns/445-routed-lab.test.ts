/**
 * The routed driver through the product (issue 15): `weft lab up --bgp` (weftd --bgp --policy
 * per host on a real etcd, each supervising a real BIRD), `weft network create -d routed` on
 * h1, `weft run` on every host. Endpoints are global records in etcd; each host's BIRD
 * announces its blocks, and sandboxes on different hosts talk over TCP, UDP and ICMP (IPv4),
 * with no NAT and no route but BIRD's between hosts. IPv6 too: each lab host has an IPv6
 * underlay address beside its IPv4 one, its host record carries both, and BIRD runs an IPv6
 * session to every other host, so the hosts' IPv6 blocks cross hosts with IPv6 next hops (and
 * two sandboxes on h1 talk through the host). The host ends carry weft's ownership mark; a
 * policy selecting by `weft run --label` is enforced across hosts.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { etcdValues } from '../../src/lab/lab-tools.js';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { WEFT_LINK_GROUP } from '../../src/drivers/link-ownership.js';
import { cidrContains, parseCidr } from '../../src/ipam/cidr.js';
import { parseAddress } from '../../src/ipam/address.js';
import { DB_INGRESS_POLICY } from './routed-policies.js';

const node = process.execPath;
const HOSTS = ['h1', 'h2', 'h3'] as const;
const POOL4 = '10.72.0.0/16';
const POOL6 = 'fd00:72::/64';

interface Workload {
  host: string;
  name: string;
  nsPath: string;
  id: string;
  hostIfname: string;
  v4: string;
  v6: string;
}

interface SandboxInfo {
  netnsPath: string;
  endpoints: { id: string; hostIfname?: string; ipv4?: string; ipv6?: string }[];
}

const bare = (cidr: string): string => cidr.split('/')[0]!;

describe('routed through weftd, etcd and BIRD (lab --bgp, 3 hosts)', { timeout: 420_000 }, () => {
  let lab: ClusterLab;
  let dir: string;
  const w: Record<string, Workload> = {};
  let netId = '';
  const ok = async (h: string, args: string[]): Promise<string> => {
    const r = await lab.weft(h, args, 60_000);
    assert.equal(r.code, 0, `weft ${args.join(' ')} on ${h}: ${r.stderr}`);
    return r.stdout;
  };
  const inNs = (nsPath: string, argv: string[], timeoutMs = 10_000) => run('nsenter', [`--net=${nsPath}`, ...argv], { timeoutMs });
  const tcp = async (from: string, to: string, fam: 4 | 6, port = 7500): Promise<string | undefined> => {
    const r = await inNs(w[from]!.nsPath, [node, NETTOOL, 'tcp-client', fam === 4 ? w[to]!.v4 : w[to]!.v6, String(port), 'x', '1500']);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const udp = async (from: string, to: string, fam: 4 | 6): Promise<string | undefined> => {
    const r = await inNs(w[from]!.nsPath, [node, NETTOOL, 'udp-client', fam === 4 ? w[to]!.v4 : w[to]!.v6, '7500', 'x', '1500']);
    return r.code === 0 ? r.stdout.trim() : undefined;
  };
  const icmp = async (from: string, to: string, fam: 4 | 6): Promise<boolean> =>
    (await inNs(w[from]!.nsPath, ['busybox', 'ping', `-${fam}`, '-c', '1', '-W', '1', fam === 4 ? w[to]!.v4 : w[to]!.v6])).code === 0;
  const kernelRoutes = async (h: string, fam: 4 | 6): Promise<{ dst: string; gateway?: string; protocol?: string; type?: string }[]> =>
    JSON.parse((await run('ip', ['-j', `-${fam}`, '-n', lab.host(h).ns, 'route', 'show'])).stdout || '[]') as {
      dst: string;
      gateway?: string;
      protocol?: string;
      type?: string;
    }[];
  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'rt-routed-lab-'));
    lab = await ClusterLab.up({ hosts: 3, underlay: 'l2', routing: 'bgp', name: `ss${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await lab?.down();
    rmSync(dir, { recursive: true, force: true });
  });

  it('every weftd runs BGP: BIRD sessions to both other hosts, over IPv4 and IPv6, are Established', async () => {
    for (const h of HOSTS) {
      const others = HOSTS.filter((x) => x !== h).map((x) => lab.host(x).address);
      const peers = await waitFor(
        `BGP sessions on ${h}`,
        async () => {
          const r = await lab.weft(h, ['bgp', 'peers', '--format', 'json']);
          if (r.code !== 0) return undefined;
          const p = r.stdout
            .split('\n')
            .filter(Boolean)
            .map((l) => JSON.parse(l) as { state: string; neighborAddress: string });
          return p.length === 4 && p.every((x) => /Established/i.test(x.state)) ? p : undefined;
        },
        60_000,
        500,
      );
      const addrs = peers.map((p) => p.neighborAddress).sort();
      assert.deepEqual(
        addrs.filter((a) => !a.includes(':')),
        [...others].sort(),
        'one IPv4 session per other host',
      );
      assert.equal(
        addrs.filter((a) => a.startsWith('2001:2::')).length,
        2,
        'one IPv6 session per other host, on its IPv6 underlay address',
      );
    }
  });

  it('a routed network created on h1 and sandboxes run on each host: /32 endpoints, global records in etcd', async () => {
    netId = (await ok('h1', ['network', 'create', '-d', 'routed', '--ipv6', '--subnet', POOL4, '--subnet', POOL6, 'rtnet'])).trim();
    for (const [i, h] of HOSTS.entries()) {
      await waitFor(`the network on ${h}`, async () => (await lab.weft(h, ['network', 'inspect', 'rtnet'])).code === 0, 15_000);
      const name = `w${i + 1}`;
      const role = i === 0 ? 'web' : i === 1 ? 'db' : 'other';
      await ok(h, [
        'run',
        '-d',
        '--name',
        name,
        '--network',
        'rtnet',
        '--label',
        `role=${role}`,
        '--',
        node,
        NETTOOL,
        'echo-server',
        '7500,5432',
      ]);
      const sb = (JSON.parse(await ok(h, ['sandbox', 'inspect', name])) as SandboxInfo[])[0]!;
      const ep = sb.endpoints[0]!;
      assert.ok(ep.ipv4 && ep.ipv6 && ep.hostIfname, `${name}: ${JSON.stringify(ep)}`);
      w[name] = { host: h, name, nsPath: sb.netnsPath, id: ep.id, hostIfname: ep.hostIfname, v4: bare(ep.ipv4), v6: bare(ep.ipv6) };
    }
    await ok('h1', ['run', '-d', '--name', 'w1b', '--network', 'rtnet', '--', node, NETTOOL, 'echo-server', '7500']);
    const sb = (JSON.parse(await ok('h1', ['sandbox', 'inspect', 'w1b'])) as SandboxInfo[])[0]!;
    const ep = sb.endpoints[0]!;
    w.w1b = {
      host: 'h1',
      name: 'w1b',
      nsPath: sb.netnsPath,
      id: ep.id,
      hostIfname: ep.hostIfname!,
      v4: bare(ep.ipv4!),
      v6: bare(ep.ipv6!),
    };
    const recs = await etcdValues<{ id: string; host: string; networkName: string; driver: string; labels: Record<string, string> }>(
      lab,
      'h1',
      `/weft/v1/endpoints/${netId}/`,
    );
    assert.equal(recs.length, 4, 'one global record per endpoint');
    for (const x of Object.values(w)) {
      const r = recs.find((e) => e.id === x.id);
      assert.ok(r, `record of ${x.name}`);
      assert.equal(r.networkName, 'rtnet');
      assert.equal(r.driver, 'routed');
      if (x.name !== 'w1b') assert.ok(r.labels.role, 'the sandbox labels travel with the record (policy selects by them)');
    }
    assert.equal(new Set(Object.values(w).map((x) => x.host)).size, 3);
  });

  it("host ends are wrv… veths carrying weft's mark; the workload has its /32 and /128 behind 169.254.1.1", async () => {
    for (const x of Object.values(w)) {
      assert.match(x.hostIfname, /^wrv[0-9a-f]{12}$/);
      const l = (
        JSON.parse((await run('ip', ['-j', '-d', '-n', lab.host(x.host).ns, 'link', 'show', 'dev', x.hostIfname])).stdout) as {
          group: string | number;
          ifalias?: string;
          address: string;
        }[]
      )[0]!;
      // `ip -j` prints a group without a name in /etc/iproute2/group as its number.
      assert.equal(String(l.group), String(WEFT_LINK_GROUP), `${x.hostIfname} group`);
      assert.equal(l.ifalias, `weft:endpoint:${x.id}`);
      assert.equal(l.address, 'ee:ee:ee:ee:ee:ee');
      const addrs = (await inNs(x.nsPath, ['ip', '-br', 'addr', 'show', 'dev', 'eth0'])).stdout;
      assert.ok(addrs.includes(`${x.v4}/32`) && addrs.includes(`${x.v6}/128`), addrs);
      assert.match((await inNs(x.nsPath, ['ip', 'route', 'show', 'default'])).stdout, /via 169\.254\.1\.1 dev eth0/);
    }
  });

  it("every host's kernel holds the other hosts' blocks from BIRD with the right next hop, its own as a blackhole", async () => {
    const blockOf = (a: string, fam: 4 | 6) => (r: { dst: string }) => r.dst.includes('/') && inBlock(a, r.dst, fam);
    for (const h of HOSTS) {
      await waitFor(
        `${h}: IPv4 blocks of the others`,
        async () => {
          const routes = await kernelRoutes(h, 4);
          return Object.values(w).every((x) => {
            const r = routes.find(blockOf(x.v4, 4));
            if (!r || r.protocol !== 'bird') return false;
            return x.host === h ? r.type === 'blackhole' : r.gateway === lab.host(x.host).address;
          });
        },
        30_000,
        200,
      );
      const defaults = (await kernelRoutes(h, 4)).filter((r) => r.dst.startsWith('10.72.') && r.protocol !== 'bird' && r.dst.includes('/'));
      assert.deepEqual(defaults, [], 'no route to a workload block but BIRD’s');
    }
  });

  it('sandboxes on different hosts talk: TCP, UDP and ICMP over IPv4, sources unchanged (no NAT)', async () => {
    const names = ['w1', 'w2', 'w3'];
    const t0 = Date.now();
    let probes = 0;
    for (const from of names)
      for (const to of names) {
        if (from === to) continue;
        const src = w[from]!.v4;
        assert.equal(await waitFor(`tcp ${from} → ${to}`, () => tcp(from, to, 4), 15_000, 100), `${src} x`);
        assert.equal(await waitFor(`udp ${from} → ${to}`, () => udp(from, to, 4), 10_000, 100), `${src} x`);
        assert.ok(await waitFor(`icmp ${from} → ${to}`, () => icmp(from, to, 4), 10_000, 100));
        probes += 3;
      }
    console.log(`routed lab: ${probes} cross-host IPv4 probes passed in ${Date.now() - t0} ms`);
    assert.equal(probes, 18);
  });

  it("IPv6 across hosts: every kernel holds the others' IPv6 blocks from BIRD via their IPv6 underlay addresses; TCP, UDP, ICMPv6", async () => {
    const underlay6 = async (h: string): Promise<string> => {
      const a = JSON.parse(
        (await run('ip', ['-j', '-6', '-n', lab.host(h).ns, 'addr', 'show', 'dev', 'eth0', 'scope', 'global'])).stdout,
      ) as {
        addr_info: { local: string }[];
      }[];
      return a[0]!.addr_info[0]!.local;
    };
    for (const h of HOSTS) {
      const six = await Promise.all(HOSTS.map(underlay6));
      await waitFor(
        `${h}: IPv6 blocks of the others`,
        async () => {
          const routes = await kernelRoutes(h, 6);
          return ['w1', 'w2', 'w3'].every((n) => {
            const x = w[n]!;
            const r = routes.find((rt) => rt.dst.includes('/') && inBlock(x.v6, rt.dst, 6));
            if (!r || r.protocol !== 'bird') return false;
            return x.host === h ? r.type === 'blackhole' : r.gateway === six[HOSTS.indexOf(x.host as (typeof HOSTS)[number])];
          });
        },
        30_000,
        200,
      );
    }
    let probes = 0;
    for (const from of ['w1', 'w2', 'w3'])
      for (const to of ['w1', 'w2', 'w3']) {
        if (from === to) continue;
        const src = w[from]!.v6;
        assert.equal(await waitFor(`tcp6 ${from} → ${to}`, () => tcp(from, to, 6), 15_000, 100), `${src} x`);
        assert.equal(await waitFor(`udp6 ${from} → ${to}`, () => udp(from, to, 6), 10_000, 100), `${src} x`);
        assert.ok(await waitFor(`icmp6 ${from} → ${to}`, () => icmp(from, to, 6), 10_000, 100));
        probes += 3;
      }
    assert.equal(probes, 18);
  });

  it('two sandboxes on one host talk over IPv6 (/128 routes, the host end as link-local gateway) and IPv4', async () => {
    for (const [from, to] of [
      ['w1', 'w1b'],
      ['w1b', 'w1'],
    ] as const) {
      assert.equal(await waitFor(`tcp6 ${from} → ${to}`, () => tcp(from, to, 6), 10_000, 100), `${w[from]!.v6} x`);
      assert.equal(await waitFor(`udp6 ${from} → ${to}`, () => udp(from, to, 6), 10_000, 100), `${w[from]!.v6} x`);
      assert.ok(await waitFor(`icmp6 ${from} → ${to}`, () => icmp(from, to, 6), 10_000, 100));
      assert.equal(await tcp(from, to, 4), `${w[from]!.v4} x`);
    }
  });

  it("links without weft's mark are never changed or deleted: a look-alike wrv… name, a foreign link in an endpoint's place", async () => {
    const ns = lab.host('h1').ns;
    const ip = (...a: string[]) => run('ip', ['-n', ns, ...a]);
    // A veth weft did not make, named like a routed host end no endpoint wants: doctor --repair must leave it.
    assert.equal((await ip('link', 'add', 'wrv0123456789ab', 'type', 'veth', 'peer', 'name', 'rtforeign0')).code, 0);
    const first = await lab.weft('h1', ['doctor', '--repair']);
    assert.doesNotMatch(first.stdout + first.stderr, /wrv0123456789ab/, "not weft's, so not a leftover either");
    assert.equal((await ip('link', 'show', 'dev', 'wrv0123456789ab')).code, 0, 'the look-alike survives a repair');
    // w1b's host end replaced by a foreign link of the same name: reported, not repaired, not deleted by rm.
    const x = w.w1b!;
    // In one batch: weftd's drift watcher would otherwise re-make its veth between the two commands.
    const swap = await run('ip', ['-n', ns, '-batch', '-'], {
      input: `link del ${x.hostIfname}\nlink add ${x.hostIfname} type veth peer name rtforeign1\n`,
    });
    assert.equal(swap.code, 0, swap.stderr);
    const doctor = await lab.weft('h1', ['doctor', '--repair']);
    assert.match(doctor.stdout + doctor.stderr, new RegExp(`${x.hostIfname} exists but is not weft's`));
    assert.equal((await ip('link', 'show', 'dev', x.hostIfname)).code, 0);
    await ok('h1', ['sandbox', 'rm', '-f', 'w1b']);
    const l = (JSON.parse((await ip('-j', '-d', 'link', 'show', 'dev', x.hostIfname)).stdout) as { ifalias?: string }[])[0];
    assert.ok(l && l.ifalias === undefined, 'the foreign link is still there, unmarked');
    delete w.w1b;
    for (const n of ['wrv0123456789ab', x.hostIfname]) assert.equal((await ip('link', 'del', n)).code, 0);
  });

  it('a policy created on h3 with `weft policy create` selects by run labels and is enforced on the other hosts', async () => {
    const file = path.join(dir, 'db.yaml');
    writeFileSync(file, DB_INGRESS_POLICY);
    await ok('h3', ['policy', 'create', '-f', file]);
    // w2 (db, on h2): TCP 5432 from w1 (web) allowed, 7500 denied, everything from w3 (other) denied.
    await waitFor('db-ingress enforced on h2', async () => ((await tcp('w1', 'w2', 4, 7500)) ? undefined : true), 10_000, 50);
    assert.equal(await tcp('w1', 'w2', 4, 5432), `${w.w1!.v4} x`);
    assert.equal(await tcp('w3', 'w2', 4, 5432), undefined);
    assert.equal(await icmp('w3', 'w2', 4), false);
    assert.equal(await tcp('w2', 'w3', 4), `${w.w2!.v4} x`, 'egress of db is not selected: still open');
    await ok('h1', ['policy', 'rm', 'db-ingress']);
    await waitFor('db-ingress lifted', () => tcp('w3', 'w2', 4, 7500), 10_000, 50);
  });

  it('bad input is refused with typed errors naming every problem, and nothing changes', async () => {
    const bad = path.join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      `name: bad
selector: role = 'db'
ingress:
  - action: Allow
    protocol: TPC
  - action: Allow
    protocol: TCP
    destination:
      ports: ["2000:1000"]
`,
    );
    const p = await lab.weft('h2', ['policy', 'create', '-f', bad]);
    assert.notEqual(p.code, 0);
    assert.match(p.stderr, /malformed selector/);
    assert.match(p.stderr, /unknown protocol "TPC"/);
    assert.match(p.stderr, /port range "2000:1000" is reversed/);
    assert.equal((await ok('h1', ['policy', 'ls', '-q'])).trim(), '', 'no policy stored');
    const before = await ok('h2', ['network', 'ls', '-q']);
    for (const [args, why] of [
      [['--subnet', '10.72.128.0/17'], /overlap/i],
      [['--subnet', '10.74.0.0/16', '--ipam-opt', 'weft.ipam.block-size=8'], /block-size.*do not fit/],
      [['--subnet', '10.74.0.0/16', '--ipam-opt', 'weft.ipam.block-size=33'], /block-size.*do not fit/],
      [['--subnet', '10.74.0.0/16', '--ipam-opt', 'weft.ipam.blocksize=30'], /unknown IPAM option "weft\.ipam\.blocksize"/],
      // The lab's underlay: its blocks would take the hosts' traffic to each other and to etcd.
      [['--subnet', '198.18.0.0/16'], /underlay/],
    ] as const) {
      const r = await lab.weft('h2', ['network', 'create', '-d', 'routed', ...args, 'rtbad']);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, why);
      assert.match(r.stderr, /\[WEFT_[A-Z_]+\]/, 'a typed error code');
    }
    assert.equal(await ok('h2', ['network', 'ls', '-q']), before, 'no network created');
  });

  it("removing the sandbox on h3 takes its veth and /32 away, and its emptied block from the other hosts' kernels", async () => {
    const x = w.w3!;
    await ok('h3', ['sandbox', 'rm', '-f', 'w3']);
    const link = await run('ip', ['-n', lab.host('h3').ns, 'link', 'show', 'dev', x.hostIfname]);
    assert.notEqual(link.code, 0, 'host end deleted');
    assert.ok(!(await kernelRoutes('h3', 4)).some((r) => r.dst === x.v4), '/32 route gone');
    const t0 = Date.now();
    await waitFor(
      "h1 and h2 drop h3's block",
      async () => {
        for (const h of ['h1', 'h2'])
          if ((await kernelRoutes(h, 4)).some((r) => r.dst.includes('/') && inBlock(x.v4, r.dst, 4))) return false;
        return true;
      },
      15_000,
      50,
    );
    console.log(`routed lab: h3's block withdrawn from h1 and h2 ${Date.now() - t0} ms after sandbox rm returned`);
    assert.ok(!existsSync(x.nsPath), "the sandbox's namespace is gone");
  });
});

/** Whether an address lies in a prefix of the given family. */
function inBlock(addr: string, cidr: string, fam: 4 | 6): boolean {
  const c = parseCidr(cidr, 'route');
  return c.family === fam && cidrContains(c, parseAddress(addr, 'address'));
}
