/**
 * macvlan on a simulated LAN: a switch (bridge) in its own namespace, the LAN's router (the
 * gateway), and two simulated hosts running weftd whose NICs (veths) are switch ports. Sandboxes
 * appear on the LAN directly with their own MACs; each macvlan mode keeps its forwarding
 * property; the host shim lets a host reach its own children; the ARP probe skips an address a
 * LAN device holds; ipvlan and 802.1q fail with the kernel's missing feature named; bad input
 * changes nothing; and weft never changes or deletes the NICs it was given.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { LanLab } from '../../src/lab/lan-lab.js';
import { NETTOOL, SimHost, mustRun, run, sleep, waitFor } from '../../src/lab/sim-host.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';
import { IFNAMES, schemeOf } from '../../src/drivers/ifnames.js';

const node = process.execPath;
const ipOf = (sb: SandboxView): string => sb.endpoints[0]!.ipv4!.split('/')[0]!;
const macOf = (sb: SandboxView): string => sb.endpoints[0]!.macAddress!;

/** A TCP exchange from namespace `from` to ip:7000; the server's reply, or undefined. */
async function tcp(from: string, ip: string, ms = 2000): Promise<string | undefined> {
  const r = await SimHost.inNetns(from, node, [NETTOOL, 'tcp-client', ip, '7000', 'hi', String(ms)], ms + 5000);
  return r.code === 0 ? r.stdout.trim() : undefined;
}
const reaches = (from: string, ip: string): Promise<string> => waitFor(`${from} → ${ip}`, () => tcp(from, ip), 10_000, 100);
/** Several attempts, none may succeed (after the path had time to settle). */
async function neverReaches(from: string, ip: string): Promise<void> {
  for (let i = 0; i < 2; i++) assert.equal(await tcp(from, ip, 1000), undefined, `${from} must not reach ${ip}`);
}

/** A sandbox on `net` (a network reference with options, as `--network` takes it) serving TCP on port 7000. */
const tcpServer = (h: SimHost, name: string, net: string): Promise<SandboxView> =>
  h.runDetached(['--name', name, '--network', net, '--', node, NETTOOL, 'tcp-server', '7000']);

/** The sandbox's eth0 in detail (`ip -d -o link`): its macvlan mode and MAC. */
async function sandboxLink(sb: SandboxView): Promise<string> {
  return (await SimHost.inNetns(sb.netnsPath, 'ip', ['-d', '-o', 'link', 'show', 'eth0'])).stdout;
}

/** The names of the networks a host's weftd knows, sorted. */
async function networkNames(h: SimHost): Promise<string[]> {
  return (await h.client.request<NetworkInspect[]>('GET', '/v1/networks')).map((n) => n.Name).sort();
}

/** A macvlan network in `mode` on `parent`, on 198.18.<octet>.0/24 with the LAN router (.1) as its gateway. */
async function modeNetwork(h: SimHost, name: string, octet: number, parent: string, mode: string): Promise<void> {
  const subnet = ['--subnet', `198.18.${octet}.0/24`, '--gateway', `198.18.${octet}.1`];
  await h.cliOk(['network', 'create', '-d', 'macvlan', ...subnet, '-o', `parent=${parent}`, '-o', `macvlan_mode=${mode}`, name]);
}

/** The host's links without volatile state, for before/after comparisons. */
async function links(h: SimHost): Promise<string> {
  const r = await h.inHost('ip', ['-o', 'link', 'show']);
  return r.stdout
    .split('\n')
    .map((l) => l.replace(/ state \S+/, '').replace(/promiscuity \d+/, ''))
    .sort()
    .join('\n');
}

/** Links of the host whose names are one of weft's schemes (drivers/ifnames.ts). */
async function weftLinks(h: SimHost): Promise<string[]> {
  const r = await h.inHost('ip', ['-o', 'link', 'show']);
  return [...r.stdout.matchAll(/^\d+: ([^:@\s]+)[@:]/gm)].map((m) => m[1]!).filter((name) => schemeOf(name) !== undefined);
}

/** What weft must never change about a NIC it was given. */
async function nic(h: SimHost, ifname: string): Promise<{ mac: string; mtu: number; up: boolean; addrs: string[]; master?: string }> {
  const l = JSON.parse((await h.inHost('ip', ['-j', 'addr', 'show', 'dev', ifname])).stdout) as {
    address: string;
    mtu: number;
    flags: string[];
    master?: string;
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const x = l[0]!;
  return {
    mac: x.address,
    mtu: x.mtu,
    up: x.flags.includes('UP'),
    addrs: x.addr_info.map((a) => `${a.local}/${a.prefixlen}`),
    ...(x.master ? { master: x.master } : {}),
  };
}

describe('macvlan on a simulated LAN (two hosts, a router, a switch)', () => {
  let lab: LanLab;
  let A: SimHost;
  let B: SimHost;
  const port: Record<string, string> = {};
  const nicsBefore = new Map<string, unknown>();

  before(async () => {
    lab = await LanLab.create('mv', {
      hosts: 2,
      routerCidrs: ['198.18.40.1/24', '198.18.41.1/24', '198.18.42.1/24', '198.18.43.1/24', '198.18.44.1/24', 'fd00:18:40::1/64'],
    });
    [A, B] = lab.hosts as [SimHost, SimHost];
    port.a1 = await lab.plug(A, 'eth1', '198.18.40.11/24');
    port.a2 = await lab.plug(A, 'eth2');
    port.a3 = await lab.plug(A, 'eth3');
    port.a4 = await lab.plug(A, 'eth4');
    port.b1 = await lab.plug(B, 'eth1', '198.18.40.12/24');
    for (const [h, n] of [
      [A, 'eth1'],
      [A, 'eth2'],
      [A, 'eth3'],
      [A, 'eth4'],
      [B, 'eth1'],
    ] as const)
      nicsBefore.set(`${h.ns}/${n}`, await nic(h, n));
    lab.spawnInRouter(node, [NETTOOL, 'tcp-server', '7000']);
  });
  after(async () => {
    await lab?.cleanup();
  });

  it('creates a macvlan network: no bridge, no address on the host, the parent untouched', async () => {
    const before = await links(A);
    await A.cliOk([
      'network',
      'create',
      '-d',
      'macvlan',
      '--subnet',
      '198.18.40.0/24',
      '--gateway',
      '198.18.40.1',
      '--ip-range',
      '198.18.40.64/27',
      '--aux-address',
      'printer=198.18.40.65',
      '-o',
      'parent=eth1',
      'lan',
    ]);
    const n = await A.client.request<NetworkInspect>('GET', '/v1/networks/lan');
    assert.equal(n.Driver, 'macvlan', 'the network is backed by the macvlan driver');
    assert.equal(n.Options.parent, 'eth1');
    assert.equal(await links(A), before, 'no link was created in the host');
    const addrs = (await A.inHost('ip', ['-o', '-4', 'addr'])).stdout;
    assert.doesNotMatch(addrs, /198\.18\.40\.1\//, 'the gateway is the LAN router, not an address on the host');
    assert.deepEqual(await nic(A, 'eth1'), nicsBefore.get(`${A.ns}/eth1`), 'parent unchanged');
  });

  let a1: SandboxView;
  let a2: SandboxView;
  let b1: SandboxView;

  it('sandboxes on both hosts and the router reach each other directly, with their own MACs', async () => {
    // Host B's network: dual stack, the host shim (its own host reaches its children) and the probe.
    await B.cliOk([
      'network',
      'create',
      '-d',
      'macvlan',
      '--subnet',
      '198.18.40.0/24',
      '--gateway',
      '198.18.40.1',
      '--ip-range',
      '198.18.40.96/27',
      '--ipv6',
      '--subnet',
      'fd00:18:40::/64',
      '--gateway',
      'fd00:18:40::1',
      '-o',
      'parent=eth1',
      '-o',
      'weft.macvlan.host_shim=true',
      '-o',
      'weft.macvlan.probe=true',
      'lan',
    ]);
    a1 = await tcpServer(A, 'a1', 'lan');
    a2 = await tcpServer(A, 'a2', 'lan');
    b1 = await tcpServer(B, 'b1', 'lan');
    assert.equal(ipOf(a1), '198.18.40.64', 'first address of the ip-range');
    assert.equal(ipOf(a2), '198.18.40.66', 'the aux address is skipped');
    assert.match(ipOf(b1), /^198\.18\.40\.(9[6-9]|1[01]\d|12[0-7])$/);
    const link = await sandboxLink(a1);
    assert.match(link, /macvlan mode bridge/, 'the sandbox interface is a macvlan child');
    assert.match(link, new RegExp(macOf(a1)), 'with the endpoint MAC');
    assert.match((await SimHost.inNetns(a1.netnsPath, 'ip', ['route'])).stdout, /default via 198\.18\.40\.1 dev eth0/);

    assert.equal(await reaches(lab.routerPath, ipOf(a1)), '198.18.40.1 hi', 'router → a1, seen from the router address');
    assert.equal(await reaches(lab.routerPath, ipOf(b1)), '198.18.40.1 hi', 'router → b1');
    const v6 = b1.endpoints[0]!.ipv6!.split('/')[0]!;
    assert.match(v6, /^fd00:18:40::/);
    assert.equal(await reaches(lab.routerPath, v6), 'fd00:18:40::1 hi', 'router → b1 over IPv6 (after DAD passed)');
    assert.equal(await reaches(a1.netnsPath, ipOf(b1)), `${ipOf(a1)} hi`, 'a1 → b1 across the LAN, no NAT');
    assert.equal(await reaches(b1.netnsPath, ipOf(a1)), `${ipOf(b1)} hi`, 'b1 → a1');
    assert.match(await reaches(a1.netnsPath, '198.18.40.1'), /^198\.18\.40\.64 hi$/, 'a1 → the router');
    const neigh = await lab.routerNeighbours();
    assert.equal(neigh.get(ipOf(a1)), macOf(a1), "the router's neighbour table has a1's own MAC");
    assert.equal(neigh.get(ipOf(b1)), macOf(b1), "and b1's own MAC");
    const learned = await lab.learnedOn(port.a1!);
    assert.ok(learned.includes(macOf(a1)), `the switch learned a1's MAC on host A's port (${learned.join(',')})`);
  });

  it('bridge mode: siblings on one host talk directly', async () => {
    assert.equal(await reaches(a1.netnsPath, ipOf(a2)), `${ipOf(a1)} hi`);
  });

  it('the host cannot reach its own children through the parent; the host shim lets it', async () => {
    await neverReaches(A.nsPath, ipOf(a1));
    const n = await B.client.request<NetworkInspect>('GET', '/v1/networks/lan');
    const shimAddr = n.IPAM.Config[0]!.AuxiliaryAddresses?.['weft-host-shim'];
    assert.equal(shimAddr, '198.18.40.127', 'the shim address is reserved in IPAM (top of the ip-range)');
    const shim = IFNAMES.macvlanShim.of(n.Id);
    assert.match((await B.inHost('ip', ['-d', '-o', 'link', 'show', shim])).stdout, /macvlan mode bridge/);
    assert.match((await B.inHost('ip', ['-o', '-4', 'addr', 'show', shim])).stdout, /198\.18\.40\.127\/32/);
    assert.match((await B.inHost('ip', ['route', 'show', `${ipOf(b1)}/32`])).stdout, new RegExp(`dev ${shim}`));
    assert.equal(await reaches(B.nsPath, ipOf(b1)), `${shimAddr} hi`, 'host B reaches b1 through its shim');
    const shim6 = n.IPAM.Config[1]!.AuxiliaryAddresses?.['weft-host-shim'];
    assert.equal(shim6, 'fd00:18:40:0:ffff:ffff:ffff:ffff', 'the top of the /64 (RFC 5952 text)');
    assert.equal(await reaches(B.nsPath, b1.endpoints[0]!.ipv6!.split('/')[0]!), `${shim6} hi`, 'and over IPv6');
    assert.equal(await reaches(B.nsPath, ipOf(a1)), '198.18.40.12 hi', "host B reaches A's child over the LAN as any LAN host does");
    assert.ok((await B.cliOk(['doctor'])).includes('ok'));
    assert.ok((await A.cliOk(['doctor'])).includes('ok'));
  });

  it('drift: doctor reports the shim and leftovers, --repair restores them; a deleted child comes back by itself', async () => {
    const n = await B.client.request<NetworkInspect>('GET', '/v1/networks/lan');
    const shim = IFNAMES.macvlanShim.of(n.Id);
    const stray = IFNAMES.lanProbe.of('0123456789ab');
    assert.equal((await B.inHost('ip', ['link', 'del', shim])).code, 0);
    assert.equal((await B.inHost('ip', ['link', 'add', stray, 'link', 'eth1', 'type', 'macvlan', 'mode', 'bridge'])).code, 0);
    const d = await B.cli(['doctor']);
    assert.equal(d.code, 3, d.stdout);
    assert.match(d.stdout, new RegExp(`violation: network lan: host shim ${shim} is missing`));
    assert.match(d.stdout, new RegExp(`violation: link ${stray} looks like weft's but has no record`));
    const r = await B.cliOk(['doctor', '--repair']);
    assert.match(r, /repaired: .*host shim/);
    assert.match(r, /\nok\n$/);
    assert.notEqual((await B.inHost('ip', ['link', 'show', stray])).code, 0, 'the stray probe link is gone');
    assert.match((await B.inHost('ip', ['route', 'show', `${ipOf(b1)}/32`])).stdout, new RegExp(`dev ${shim}`), 'the shim route is back');
    assert.equal(await reaches(B.nsPath, ipOf(b1)), '198.18.40.127 hi', 'host B reaches b1 through the re-made shim');
    // The child inside the sandbox: the drift watcher sees it go and re-joins at once.
    assert.equal((await SimHost.inNetns(b1.netnsPath, 'ip', ['link', 'del', 'eth0'])).code, 0);
    await waitFor(
      'b1 child re-made',
      async () => (await SimHost.inNetns(b1.netnsPath, 'ip', ['-o', '-4', 'addr', 'show', 'eth0'])).stdout.includes(`${ipOf(b1)}/24`),
      15_000,
      100,
    );
    assert.match(await sandboxLink(b1), new RegExp(macOf(b1)));
    assert.equal(await reaches(lab.routerPath, ipOf(b1)), '198.18.40.1 hi', 'the router reaches b1 again');
    assert.ok((await B.cliOk(['doctor'])).includes('ok'));
  });

  it('ARP probe: an address a LAN device holds is skipped, and refused when asked for', async () => {
    // A "printer" on the LAN takes the next address B would hand out.
    const n = await B.client.request<NetworkInspect>('GET', '/v1/networks/lan');
    const next = `198.18.40.${Number(ipOf(b1).split('.')[3]) + 1}`;
    await mustRun('ip', ['-n', lab.routerNs, 'addr', 'add', `${next}/24`, 'dev', 'eth0']);
    const routerMac = (
      JSON.parse((await run('ip', ['-n', lab.routerNs, '-j', 'link', 'show', 'eth0'])).stdout) as { address: string }[]
    )[0]!.address;
    try {
      const t0 = Date.now();
      const b2 = await B.runDetached(['--name', 'b2', '--network', 'lan', '--', 'sleep', '600']);
      assert.notEqual(ipOf(b2), next, `${next} is held on the LAN: not handed out`);
      assert.equal(ipOf(b2), `198.18.40.${Number(next.split('.')[3]) + 1}`, 'the next free one is');
      assert.ok(Date.now() - t0 < 15_000, 'probing is bounded (two ARP windows and one IPv6 DAD, on a loaded machine)');
      const r = await B.cli(['run', '-d', '--name', 'b3', '--network', `lan,ip=${next}`, '--', 'sleep', '600']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, new RegExp(`${next.replace(/\./g, '\\.')} \\(held on the LAN by ${routerMac}\\) is already in use`));
      assert.match(r.stderr, /WEFT_IPAM_ADDRESS_IN_USE/);
      assert.notEqual((await B.cli(['sandbox', 'inspect', 'b3'])).code, 0, 'nothing recorded');
      assert.equal(Object.keys((await B.client.request<NetworkInspect>('GET', `/v1/networks/${n.Id}`)).Containers).length, 2);
      assert.doesNotMatch((await B.inHost('ip', ['-o', 'link'])).stdout, /wfp[0-9a-f]{12}/, 'probe links are gone');
      // A LAN that fills the range (a DHCP server on it): allocation gives up after 16 held candidates.
      const base = Number(ipOf(b2).split('.')[3]) + 1;
      const taken = Array.from({ length: 16 }, (_, i) => `198.18.40.${base + i}/24`);
      for (const c of taken) await mustRun('ip', ['-n', lab.routerNs, 'addr', 'add', c, 'dev', 'eth0']);
      try {
        const full = await B.cli(['run', '-d', '--name', 'b5', '--network', 'lan', '--', 'sleep', '600']);
        assert.notEqual(full.code, 0);
        assert.match(full.stderr, /16 candidate addresses in a row \(up to 198\.18\.40\.\d+\) are held on the LAN/);
      } finally {
        for (const c of taken) await mustRun('ip', ['-n', lab.routerNs, 'addr', 'del', c, 'dev', 'eth0']);
      }
      await B.cliOk(['sandbox', 'rm', '-f', 'b2']);
    } finally {
      await mustRun('ip', ['-n', lab.routerNs, 'addr', 'del', `${next}/24`, 'dev', 'eth0']);
    }
  });

  it('IPv6 duplicate address detection: an address a LAN device holds is refused', async () => {
    await mustRun('ip', ['-n', lab.routerNs, 'addr', 'add', 'fd00:18:40::99/64', 'dev', 'eth0', 'nodad']);
    try {
      const r = await B.cli(['run', '-d', '--name', 'b4', '--network', 'lan,ip6=fd00:18:40::99', '--', 'sleep', '600']);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /fd00:18:40::99 \(another host on the LAN failed IPv6 duplicate address detection for it\) is already in use/);
      assert.notEqual((await B.cli(['sandbox', 'inspect', 'b4'])).code, 0, 'nothing recorded');
    } finally {
      await mustRun('ip', ['-n', lab.routerNs, 'addr', 'del', 'fd00:18:40::99/64', 'dev', 'eth0']);
    }
  });

  it('static --ip and --mac: the LAN sees exactly those', async () => {
    const s = await tcpServer(A, 'a3', 'lan,ip=198.18.40.90,mac=02:00:c6:12:28:5a');
    assert.equal(ipOf(s), '198.18.40.90', 'outside the ip-range but inside the subnet, as Docker allows');
    assert.equal(macOf(s), '02:00:c6:12:28:5a');
    assert.equal(await reaches(lab.routerPath, '198.18.40.90'), '198.18.40.1 hi');
    assert.equal((await lab.routerNeighbours()).get('198.18.40.90'), '02:00:c6:12:28:5a');
    await A.cliOk(['sandbox', 'rm', '-f', 'a3']);
  });

  /**
   * Sandboxes `<name>1` and `<name>2` (TCP servers) on a new `mode` network on host A's `parent`
   * (198.18.<octet>.0/24); the first is checked to be in that mode, both to be reached from the router.
   */
  async function siblings(network: string, octet: number, parent: string, mode: string, name: string): Promise<[SandboxView, SandboxView]> {
    await modeNetwork(A, network, octet, parent, mode);
    const x1 = await tcpServer(A, `${name}1`, network);
    const x2 = await tcpServer(A, `${name}2`, network);
    assert.match(await sandboxLink(x1), new RegExp(`macvlan mode ${mode}`));
    for (const x of [x1, x2]) assert.equal(await reaches(lab.routerPath, ipOf(x)), `198.18.${octet}.1 hi`);
    return [x1, x2];
  }

  it('private mode: siblings cannot talk, each reaches the LAN', async () => {
    const [p1, p2] = await siblings('priv', 41, 'eth2', 'private', 'p');
    await neverReaches(p1.netnsPath, ipOf(p2));
    // Even a hairpinning switch does not join private siblings (the kernel drops their frames).
    await lab.hairpin(port.a2!, true);
    await neverReaches(p1.netnsPath, ipOf(p2));
    await lab.hairpin(port.a2!, false);
  });

  it('vepa mode: siblings talk only through a hairpinning switch', async () => {
    const [v1, v2] = await siblings('vepa', 42, 'eth3', 'vepa', 'v');
    await neverReaches(v1.netnsPath, ipOf(v2));
    await lab.hairpin(port.a3!, true);
    assert.equal(await reaches(v1.netnsPath, ipOf(v2)), `${ipOf(v1)} hi`, 'through the switch and back');
    await lab.hairpin(port.a3!, false);
    await neverReaches(v1.netnsPath, ipOf(v2));
  });

  it('passthru mode: one child with the parent MAC; a second is refused and leaves nothing', async () => {
    await modeNetwork(A, 'pt', 43, 'eth4', 'passthru');
    const t1 = await tcpServer(A, 't1', 'pt');
    const parentMac = (nicsBefore.get(`${A.ns}/eth4`) as { mac: string }).mac;
    assert.equal(macOf(t1), parentMac, 'the record shows the MAC the kernel gives a passthru child: the parent’s');
    assert.match(await sandboxLink(t1), /macvlan mode passthru/);
    assert.equal(await reaches(lab.routerPath, ipOf(t1)), '198.18.43.1 hi');
    assert.equal((await lab.routerNeighbours()).get(ipOf(t1)), parentMac);
    const before = await links(A);
    const r = await A.cli(['run', '-d', '--name', 't2', '--network', 'pt', '--', 'sleep', '600']);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /passthru mode: its parent eth4 takes one child only/);
    assert.notEqual((await A.cli(['sandbox', 'inspect', 't2'])).code, 0, 'no sandbox left');
    assert.equal(await links(A), before, 'no link left');
    const mac = await A.cli(['run', '-d', '--name', 't3', '--network', 'pt,mac=02:00:00:00:00:33', '--', 'sleep', '600']);
    assert.match(mac.stderr, /gives every endpoint the MAC/);
  });

  it('ipvlan and 802.1q parents: detected, and refused here naming the missing kernel feature', async () => {
    await lab.plug(A, 'eth6');
    const before = await links(A);
    const nets = await networkNames(A);
    const iv = await A.cli([
      'network',
      'create',
      '-d',
      'ipvlan',
      '--subnet',
      '198.18.44.0/24',
      '-o',
      'parent=eth6',
      '-o',
      'ipvlan_mode=l2',
      'iv',
    ]);
    assert.notEqual(iv.code, 0);
    assert.match(iv.stderr, /this kernel has no ipvlan support \(module ipvlan, CONFIG_IPVLAN\)/);
    assert.match(iv.stderr, /WEFT_KERNEL_UNSUPPORTED/);
    const vl = await A.cli(['network', 'create', '-d', 'macvlan', '--subnet', '198.18.44.0/24', '-o', 'parent=eth6.10', 'vl']);
    assert.notEqual(vl.code, 0);
    assert.match(vl.stderr, /this kernel has no 802\.1q VLAN support \(module 8021q, CONFIG_VLAN_8021Q\)/);
    assert.equal(await links(A), before, 'nothing created in the host');
    assert.deepEqual(await networkNames(A), nets);
  });

  it('bad input: clear errors, nothing created', async () => {
    await lab.plug(A, 'eth5');
    await A.inHost('ip', ['link', 'set', 'eth5', 'down']);
    const before = await links(A);
    const nets = await networkNames(A);
    const base = ['network', 'create', '-d', 'macvlan'];
    const cases: [string[], RegExp][] = [
      [[...base, '--subnet', '198.18.45.0/24', '-o', 'parent=nosuch0', 'x1'], /parent interface nosuch0 does not exist/],
      [[...base, '--subnet', '198.18.45.0/24', '-o', 'parent=eth5', 'x2'], /parent interface eth5 is down/],
      [
        [...base, '--subnet', '198.18.45.0/24', '-o', 'parent=eth1', 'x3'],
        /network "lan" \(macvlan\) is already using parent interface eth1/,
      ],
      [
        [...base, '--subnet', '198.18.45.0/24', '--gateway', '198.18.46.1', '-o', 'parent=eth5', 'x4'],
        /gateway: 198\.18\.46\.1 is not inside/,
      ],
      [
        [...base, '--subnet', '198.18.45.0/24', '-o', 'parent=eth5', '-o', 'macvlan_mode=nat', 'x5'],
        /macvlan_mode: unknown macvlan mode "nat"/,
      ],
      [[...base, '--subnet', '198.18.40.128/25', '-o', 'parent=eth5', 'x6'], /overlaps 198\.18\.40\.0\/24/],
      [[...base, '--subnet', '198.18.45.0/24', '-o', 'parent=lo', 'x7'], /loopback/],
      [[...base, '--subnet', '198.18.45.0/24', '-o', 'parent=eth5', '-o', 'colour=red', 'x8'], /opt colour: unknown option/],
      [[...base, '--subnet', '198.18.45.0/24', '-o', 'parent=eth2.5000', 'x9'], /VLAN id 5000 is outside 1-4094/],
    ];
    for (const [args, re] of cases) {
      const r = await A.cli(args);
      assert.notEqual(r.code, 0, `weft ${args.join(' ')} must fail`);
      assert.match(r.stderr, re, `weft ${args.join(' ')}: ${r.stderr}`);
    }
    assert.equal(await links(A), before, 'no link created or changed');
    assert.equal((await nic(A, 'eth5')).up, false, 'the down parent was not brought up');
    assert.deepEqual(await networkNames(A), nets);
  });

  it('--internal without a parent: a private parent owned by weft, siblings talk, no default route', async () => {
    const id = (await A.cliOk(['network', 'create', '-d', 'macvlan', '--internal', '--subnet', '10.77.0.0/24', 'iso'])).trim();
    const priv = IFNAMES.macvlanParent.of(id);
    assert.match((await A.inHost('ip', ['-d', '-o', 'link', 'show', priv])).stdout, /bridge/);
    const i1 = await tcpServer(A, 'i1', 'iso');
    const i2 = await tcpServer(A, 'i2', 'iso');
    assert.equal(await reaches(i1.netnsPath, ipOf(i2)), `${ipOf(i1)} hi`);
    assert.doesNotMatch((await SimHost.inNetns(i1.netnsPath, 'ip', ['route'])).stdout, /default/);
    await A.cliOk(['sandbox', 'rm', '-f', 'i1', 'i2']);
    await A.cliOk(['network', 'rm', 'iso']);
    assert.notEqual((await A.inHost('ip', ['link', 'show', priv])).code, 0, 'the private parent went with the network');
  });

  it('removing sandboxes and networks removes what weft made and leaves every NIC as it was', async () => {
    const nB = await B.client.request<NetworkInspect>('GET', '/v1/networks/lan');
    for (const [h, names] of [
      [A, ['a1', 'a2', 'p1', 'p2', 'v1', 'v2', 't1']],
      [B, ['b1']],
    ] as const)
      await h.cliOk(['sandbox', 'rm', '-f', ...names]);
    await sleep(100);
    await A.cliOk(['network', 'rm', 'lan', 'priv', 'vepa', 'pt']);
    await B.cliOk(['network', 'rm', 'lan']);
    assert.notEqual((await B.inHost('ip', ['link', 'show', IFNAMES.macvlanShim.of(nB.Id)])).code, 0, 'shim removed');
    for (const [key, want] of nicsBefore) {
      const [ns, ifname] = key.split('/') as [string, string];
      const h = ns === A.ns ? A : B;
      assert.deepEqual(await nic(h, ifname), want, `${key} unchanged`);
    }
    for (const h of [A, B]) assert.deepEqual(await weftLinks(h), [], `no link with a weft name is left on ${h.ns}`);
    assert.ok((await A.cliOk(['doctor'])).includes('ok'));
  });
});
