/**
 * hostsubnet across simulated hosts (hostsubnet-lab.ts: real namespaces, a real etcd on the
 * underlay, the real controller and kernel in each host's namespace):
 *   vxlan on l2 — 3 hosts, sandboxes exchange ICMP/TCP/UDP, each host's routes, neighbour and
 *     FDB entries are Flannel's scheme; a restarted host keeps its subnet (no "cni0 already has
 *     an IP"); a killed host's routes stay until its lease expires, then go everywhere; it comes
 *     back with its subnet; nothing is left after teardown.
 *   host-gw on l2 works (routes via underlay addresses); host-gw on l3 is refused clearly;
 *   vxlan on l3 works.
 *   udp on l2 — sandboxes talk through the userspace encapsulation; its counters move.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { HsError, HsLab } from './hostsubnet-lab.js';
import { NETTOOL, sleep, waitFor } from '../../src/lab/sim-host.js';
import { killAndWait } from '../../src/lab/etcd-process.js';
import type { LeaseRecord } from '../../src/ipam/subnet-leases.js';

interface Sandbox {
  netnsPath: string;
  ipv4: string;
  gateway4: string;
}

const servers: ChildProcess[] = [];
after(async () => {
  for (const s of servers) if (s.pid && s.exitCode === null) await killAndWait(s.pid);
});

const ip = (cidr: string) => cidr.split('/')[0]!;

async function routes(
  lab: HsLab,
  host: string,
): Promise<{ dst: string; gateway?: string; dev: string; flags: string[]; protocol?: string }[]> {
  const r = await lab.exec(`/run/netns/${lab.host(host).ns}`, ['ip', '-j', 'route', 'show']);
  return JSON.parse(r.stdout) as { dst: string; gateway?: string; dev: string; flags: string[]; protocol?: string }[];
}

async function ping(lab: HsLab, from: Sandbox, to: string): Promise<boolean> {
  const r = await lab.exec(from.netnsPath, ['busybox', 'ping', '-c', '1', '-W', '2', to]);
  return r.code === 0;
}

function tcpServer(lab: HsLab, sb: Sandbox, port: number): void {
  const p = spawn('nsenter', [`--net=${sb.netnsPath}`, process.execPath, NETTOOL, 'tcp-server', String(port)], { stdio: 'ignore' });
  servers.push(p);
  void lab;
}

function udpServer(sb: Sandbox, port: number): void {
  servers.push(spawn('nsenter', [`--net=${sb.netnsPath}`, process.execPath, NETTOOL, 'udp-server', String(port)], { stdio: 'ignore' }));
}

async function tcp(lab: HsLab, from: Sandbox, to: Sandbox, port: number): Promise<string> {
  // The server may still be starting: a few tries.
  for (let i = 0; ; i++) {
    const r = await lab.exec(from.netnsPath, [process.execPath, NETTOOL, 'tcp-client', ip(to.ipv4), String(port), 'hello']);
    if (r.code === 0 || i >= 10) return r.stdout.trim();
    await sleep(200);
  }
}

async function udp(lab: HsLab, from: Sandbox, to: Sandbox, port: number): Promise<string> {
  for (let i = 0; ; i++) {
    const r = await lab.exec(from.netnsPath, [process.execPath, NETTOOL, 'udp-client', ip(to.ipv4), String(port), 'hi']);
    if (r.code === 0 || i >= 10) return r.stdout.trim();
    await sleep(200);
  }
}

/** Create the network on every host and a sandbox on each; wait until every host routes to every other subnet. */
async function bringUp(lab: HsLab, backend: string): Promise<{ leases: LeaseRecord[]; sbs: Sandbox[]; netId: string[] }> {
  const leases: LeaseRecord[] = [];
  const netId: string[] = [];
  for (const h of lab.hosts) {
    const r = await lab.call<{ id: string; lease: LeaseRecord }>(h.name, 'create', {
      name: 'hsnet',
      subnet: '10.244.0.0/16',
      options: { backend },
    });
    leases.push(r.lease);
    netId.push(r.id);
  }
  const sbs: Sandbox[] = [];
  for (const h of lab.hosts) sbs.push(await lab.call<Sandbox>(h.name, 'sandbox', { name: `s-${h.name}`, network: 'hsnet' }));
  return { leases, sbs, netId };
}

describe('hostsubnet vxlan on an l2 underlay, 3 hosts', async () => {
  const lab = await HsLab.up({ hosts: 3, underlay: 'l2', leaseTtlMs: 4000 });
  after(() => lab.down());
  let leases: LeaseRecord[] = [];
  let sbs: Sandbox[] = [];

  it('leases three distinct /24s, one VXLAN VTEP per host (learning off), sandboxes addressed from their host’s subnet', async () => {
    ({ leases, sbs } = await bringUp(lab, 'vxlan'));
    const dev = await lab.exec(`/run/netns/${lab.host('h1').ns}`, ['ip', '-d', '-j', 'link', 'show', 'type', 'vxlan']);
    const vteps = JSON.parse(dev.stdout) as {
      ifname: string;
      linkinfo: { info_kind: string; info_data: { id: number; port: number; learning: boolean } };
    }[];
    assert.equal(vteps.length, 1, 'the backend in use is a kernel VXLAN device');
    assert.match(vteps[0]!.ifname, /^whv[0-9a-f]{12}$/);
    assert.deepEqual(
      [vteps[0]!.linkinfo.info_data.id, vteps[0]!.linkinfo.info_data.port, vteps[0]!.linkinfo.info_data.learning],
      [1, 8472, false],
    );
    assert.equal(new Set(leases.map((l) => l.subnet)).size, 3);
    for (const [i, l] of leases.entries()) {
      assert.match(l.subnet, /^10\.244\.\d+\.0\/24$/);
      assert.equal(l.publicIp, lab.hosts[i]!.address);
      const sub = l.subnet.split('.').slice(0, 3).join('.');
      assert.ok(sbs[i]!.ipv4.startsWith(`${sub}.`) && sbs[i]!.ipv4.endsWith('/24'), `${sbs[i]!.ipv4} in ${l.subnet}`);
      assert.equal(sbs[i]!.gateway4, `${sub}.1`);
    }
  });

  it('each host has, per other host, an onlink route via its VTEP address, a permanent neighbour and a permanent FDB entry', async () => {
    for (const [i, h] of lab.hosts.entries()) {
      await waitFor(
        `${h.name} routes to both other subnets`,
        async () => {
          const rs = await routes(lab, h.name);
          return leases.every(
            (l, j) => j === i || rs.some((r) => r.dst === l.subnet && r.gateway === ip(l.subnet) && r.flags.includes('onlink')),
          );
        },
        15_000,
      );
      const ns = `/run/netns/${h.ns}`;
      const neigh = JSON.parse((await lab.exec(ns, ['ip', '-j', 'neigh', 'show', 'nud', 'permanent'])).stdout) as {
        dst: string;
        lladdr: string;
        dev: string;
      }[];
      const fdb = JSON.parse((await lab.exec(ns, ['bridge', '-j', 'fdb', 'show'])).stdout) as {
        mac: string;
        dst?: string;
        ifname: string;
        state?: string;
      }[];
      for (const [j, l] of leases.entries()) {
        if (j === i) continue;
        const n = neigh.find((x) => x.dst === ip(l.subnet));
        assert.equal(n?.lladdr, l.data.vtepMac, `${h.name}: neighbour for ${l.subnet}`);
        const f = fdb.find((x) => x.mac === l.data.vtepMac);
        assert.equal(f?.dst, l.publicIp, `${h.name}: fdb for ${l.data.vtepMac}`);
        assert.equal(f?.state, 'permanent');
      }
    }
  });

  it('sandboxes on different hosts exchange ICMP, TCP and UDP', async () => {
    for (const [i, a] of sbs.entries())
      for (const [j, b] of sbs.entries()) if (i !== j) assert.ok(await ping(lab, a, ip(b.ipv4)), `ping ${i}→${j}`);
    tcpServer(lab, sbs[1]!, 7001);
    udpServer(sbs[2]!, 7002);
    assert.equal(await tcp(lab, sbs[0]!, sbs[1]!, 7001), `${ip(sbs[0]!.ipv4)} hello`, 'TCP h1→h2, no NAT inside the cluster network');
    assert.equal(await udp(lab, sbs[0]!, sbs[2]!, 7002), `${ip(sbs[0]!.ipv4)} hi`, 'UDP h1→h3');
    const doc = await lab.call<{ violations: string[] }>('h1', 'doctor');
    assert.deepEqual(
      doc.violations.filter((p) => /hostsubnet|whb|whv/.test(p)),
      [],
    );
  });

  it('a restarted host keeps its subnet: same lease, same bridge address, traffic resumes', async () => {
    await lab.kill('h2');
    await lab.start('h2');
    const rep = await lab.call<{ errors: string[] }>('h2', 'start');
    assert.deepEqual(rep.errors, []);
    const again = await lab.call<LeaseRecord>('h2', 'lease', { name: 'hsnet' });
    assert.equal(again.subnet, leases[1]!.subnet);
    const addrs = JSON.parse((await lab.exec(`/run/netns/${lab.host('h2').ns}`, ['ip', '-j', '-4', 'addr', 'show'])).stdout) as {
      ifname: string;
      addr_info: { local: string; prefixlen: number }[];
    }[];
    const br = addrs.filter((a) => /^whb/.test(a.ifname));
    assert.equal(br.length, 1);
    assert.deepEqual(
      br[0]!.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
      [sbs[1]!.gateway4 + '/24'],
      'exactly one gateway address (no stale one)',
    );
    await waitFor('h1 reaches h2 again', () => ping(lab, sbs[0]!, ip(sbs[1]!.ipv4)), 10_000);
  });

  it('a killed host’s routes stay until its lease expires, then every other host removes them; it comes back with its subnet', async () => {
    const dead = leases[2]!.subnet;
    await lab.kill('h3');
    const t0 = Date.now();
    await sleep(1000);
    assert.ok(
      (await routes(lab, 'h1')).some((r) => r.dst === dead),
      'not removed before the lease ran out',
    );
    for (const h of ['h1', 'h2'])
      await waitFor(`${h} drops the route to ${dead}`, async () => !(await routes(lab, h)).some((r) => r.dst === dead), 15_000);
    const gone = Date.now() - t0;
    assert.ok(gone >= 3000, `removed after ${gone} ms; lease TTL is 4 s`);
    const neigh = JSON.parse(
      (await lab.exec(`/run/netns/${lab.host('h1').ns}`, ['ip', '-j', 'neigh', 'show', 'nud', 'permanent'])).stdout,
    ) as { dst: string }[];
    assert.ok(!neigh.some((n) => n.dst === ip(dead)), 'neighbour entry removed too');
    await lab.start('h3');
    await lab.call('h3', 'start');
    assert.equal((await lab.call<LeaseRecord>('h3', 'lease', { name: 'hsnet' })).subnet, dead, 're-claimed from its journal after expiry');
    await waitFor('h1 reaches h3 again', () => ping(lab, sbs[0]!, ip(sbs[2]!.ipv4)), 15_000);
  });

  it('teardown leaves no hostsubnet device, route or lease behind', async () => {
    for (const h of lab.hosts) await lab.call(h.name, 'teardown');
    for (const h of lab.hosts) {
      const links = JSON.parse((await lab.exec(`/run/netns/${h.ns}`, ['ip', '-j', 'link', 'show'])).stdout) as { ifname: string }[];
      assert.deepEqual(
        links.map((l) => l.ifname).filter((n) => /^wh[bvt]|^wfv/.test(n)),
        [],
        `${h.name} links`,
      );
      assert.deepEqual(
        (await routes(lab, h.name)).filter((r) => r.dst.startsWith('10.244.')),
        [],
        `${h.name} routes`,
      );
    }
    assert.deepEqual(await lab.call('h1', 'leases', { name: 'hsnet' }), [], 'every lease released in etcd');
  });
});

describe('hostsubnet host-gw on l2, vxlan and host-gw on l3', async () => {
  it('host-gw on l2: routes via the peers’ underlay addresses; sandboxes talk', async () => {
    const lab = await HsLab.up({ hosts: 3, underlay: 'l2' });
    try {
      const { leases, sbs } = await bringUp(lab, 'host-gw');
      const vx = await lab.exec(`/run/netns/${lab.host('h1').ns}`, ['ip', '-j', 'link', 'show', 'type', 'vxlan']);
      assert.deepEqual(JSON.parse(vx.stdout), [], 'host-gw makes no tunnel device');
      for (const [i, h] of lab.hosts.entries()) {
        await waitFor(
          `${h.name} routes via underlay`,
          async () => {
            const rs = await routes(lab, h.name);
            return leases.every((l, j) => j === i || rs.some((r) => r.dst === l.subnet && r.gateway === l.publicIp && r.dev === 'eth0'));
          },
          15_000,
        );
      }
      for (const [i, a] of sbs.entries())
        for (const [j, b] of sbs.entries()) if (i !== j) assert.ok(await ping(lab, a, ip(b.ipv4)), `ping ${i}→${j}`);
      for (const h of lab.hosts) await lab.call(h.name, 'teardown');
    } finally {
      await lab.down();
    }
  });

  it('on l3, host-gw is refused for a host whose peers are routed, and vxlan works across the routers', async () => {
    const lab = await HsLab.up({ hosts: 3, underlay: 'l3' });
    try {
      // h1 and h3 share segment 1; h2 is on segment 2 behind two routers.
      await lab.call('h1', 'create', { name: 'gw', subnet: '10.245.0.0/16', options: { backend: 'host-gw' } });
      await assert.rejects(
        lab.call('h2', 'create', { name: 'gw', subnet: '10.245.0.0/16', options: { backend: 'host-gw' } }),
        (err: unknown) => {
          assert.ok(err instanceof HsError, String(err));
          assert.equal(err.code, 'WEFT_INVALID_ARGUMENT');
          assert.match(err.message, /host-gw cannot reach host .* not on this host's L2 segment \(routed via 198\.18\.2\.1\)/);
          return true;
        },
      );
      const links = JSON.parse((await lab.exec(`/run/netns/${lab.host('h2').ns}`, ['ip', '-j', 'link', 'show'])).stdout) as {
        ifname: string;
      }[];
      assert.deepEqual(
        links.map((l) => l.ifname).filter((n) => /^wh/.test(n)),
        [],
        'the refused create left nothing on h2',
      );
      await lab.call('h1', 'teardown');

      const { sbs } = await bringUp(lab, 'vxlan');
      for (const [i, a] of sbs.entries())
        for (const [j, b] of sbs.entries()) if (i !== j) await waitFor(`ping ${i}→${j} across l3`, () => ping(lab, a, ip(b.ipv4)), 15_000);
      for (const h of lab.hosts) await lab.call(h.name, 'teardown');
    } finally {
      await lab.down();
    }
  });
});

describe('hostsubnet udp on l2', async () => {
  it('sandboxes talk through the userspace encapsulation over TUN', async () => {
    const lab = await HsLab.up({ hosts: 3, underlay: 'l2' });
    try {
      const { sbs, netId } = await bringUp(lab, 'udp');
      const tun = `wht${netId[0]!.slice(0, 12)}`;
      const links = JSON.parse((await lab.exec(`/run/netns/${lab.host('h1').ns}`, ['ip', '-d', '-j', 'link', 'show', tun])).stdout) as {
        linkinfo?: { info_kind: string };
      }[];
      assert.equal(links[0]?.linkinfo?.info_kind, 'tun', 'the backend in use is a TUN device');
      for (const [i, a] of sbs.entries())
        for (const [j, b] of sbs.entries()) if (i !== j) await waitFor(`ping ${i}→${j} over udp`, () => ping(lab, a, ip(b.ipv4)), 15_000);
      tcpServer(lab, sbs[1]!, 7101);
      assert.equal(await tcp(lab, sbs[0]!, sbs[1]!, 7101), `${ip(sbs[0]!.ipv4)} hello`);
      const st = await lab.call<{ encapsulated: number; decapsulated: number }>('h1', 'udp-stats', { tun });
      assert.ok(st.encapsulated >= 4 && st.decapsulated >= 4, JSON.stringify(st));
      for (const h of lab.hosts) await lab.call(h.name, 'teardown');
      const after1 = JSON.parse((await lab.exec(`/run/netns/${lab.host('h1').ns}`, ['ip', '-j', 'link', 'show'])).stdout) as {
        ifname: string;
      }[];
      assert.deepEqual(
        after1.map((l) => l.ifname).filter((n) => /^wh/.test(n)),
        [],
      );
    } finally {
      await lab.down();
    }
  });
});
