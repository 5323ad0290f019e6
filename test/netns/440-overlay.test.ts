/**
 * The overlay driver on the real kernel, three fake hosts on one underlay: sandboxes on
 * different hosts talk over VXLAN; peers are permanent FDB/neighbour entries and nothing is
 * learned or flooded (a capture on the underlay sees no encapsulated ARP or broadcast); a
 * peer's removal and a host's death clean the tables; two overlay networks with one subnet
 * stay apart; the gateway-bridge leg gives egress; the last leave removes the namespace.
 * The tests play the controller and the cluster agent (calling the driver directly).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { OverlayLab, overlayNetwork, type LabSandbox } from '../../src/lab/overlay-lab.js';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { OVERLAY_OPTIONS } from '../../src/drivers/overlay/overlay-options.js';
import { GATEWAY_BRIDGE } from '../../src/drivers/overlay/gateway-address.js';
import { legIfname } from '../../src/drivers/overlay/gateway-leg.js';
import { WeftError } from '../../src/errors.js';
import { NftFirewall } from '../../src/firewall/nft-firewall.js';

const node = process.execPath;
const ipOf = (s: LabSandbox): string => s.endpoint.ipv4!.split('/')[0]!;

describe('overlay driver: VXLAN across three fake hosts', () => {
  const lab = new OverlayLab();
  const net = overlayNetwork('ovl-a', '10.50.0.0/24');
  let s1: LabSandbox, s2: LabSandbox, s3: LabSandbox;

  const fdb = async (h: number, n = net): Promise<string> =>
    (await lab.inNs(lab.overlayPath(lab.hosts[h]!, n), 'bridge', ['fdb', 'show', 'dev', 'vxlan0'])).stdout;
  const neigh = async (h: number, n = net): Promise<string> =>
    (await lab.inNs(lab.overlayPath(lab.hosts[h]!, n), 'ip', ['neigh', 'show', 'dev', 'vxlan0'])).stdout;
  const ping = (from: LabSandbox, to: string, extra: string[] = []) =>
    lab.inNs(from.path, 'busybox', ['ping', '-c', '1', '-W', '1', ...extra, to]);

  before(async () => {
    await lab.up(3);
    net.driverState = lab.hosts[0]!.driver.validate(net, []).driverState;
  });
  after(async () => {
    await lab.cleanup();
  });

  it('this kernel makes vxlan devices (what the driver needs) and the driver refuses to run without a cluster', async () => {
    const probe = await lab.nsAdd(`ovl-probe-${lab.tag}`);
    const r = await lab.inNs(probe, 'ip', ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '1', 'dstport', '4789', 'nolearning', 'proxy']);
    assert.equal(r.code, 0, `vxlan: ${r.stderr}`);
    const h = lab.hosts[0]!;
    await assert.rejects(
      h.driver.networkUp({ kernel: h.kernel, services: {}, network: net }),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT' && /--cluster-store/.test(e.message),
    );
  });

  it('refuses an MTU larger than the underlay allows, before making anything', async () => {
    const h = lab.hosts[0]!;
    const big = overlayNetwork('ovl-big', '10.51.0.0/24', { options: { [OVERLAY_OPTIONS.mtu]: '1460' } });
    big.driverState = h.driver.validate(big, []).driverState;
    await assert.rejects(h.driver.networkUp(lab.netCtx(h, big)), /larger than the underlay allows \(1500 - 50 = 1450\)/);
    assert.equal(lab.kernel.netnsInode(lab.overlayPath(h, big)), undefined, 'no namespace was made');
  });

  it('joins sandboxes on three hosts; a network namespace with br0 + vxlan0 (learning off, proxy, MTU 1450) exists only where sandboxes are', async () => {
    for (const h of lab.hosts) await h.driver.networkUp(lab.netCtx(h, net));
    assert.equal(lab.kernel.netnsInode(lab.overlayPath(lab.hosts[0]!, net)), undefined, 'networkUp alone makes nothing');
    s1 = await lab.sandbox(lab.hosts[0]!, net, '10.50.0.2');
    s2 = await lab.sandbox(lab.hosts[1]!, net, '10.50.0.3');
    s3 = await lab.sandbox(lab.hosts[2]!, net, '10.50.0.4');
    const d = await lab.inNs(lab.overlayPath(lab.hosts[0]!, net), 'ip', ['-d', '-j', 'link', 'show', 'vxlan0']);
    const info = (JSON.parse(d.stdout) as { mtu: number; linkinfo: { info_data: Record<string, unknown> } }[])[0]!;
    assert.equal(info.mtu, 1450);
    assert.equal(info.linkinfo.info_data.id, Number(net.driverState.vni));
    assert.equal(info.linkinfo.info_data.learning, false, 'learning off');
    assert.equal(info.linkinfo.info_data.proxy, true, 'proxy ARP/ND on');
    assert.equal(info.linkinfo.info_data.port, 4789);
    const inner = await lab.inNs(s1.path, 'ip', ['-j', 'link', 'show', 'eth0']);
    assert.equal((JSON.parse(inner.stdout) as { mtu: number }[])[0]!.mtu, 1450, 'sandbox MTU = underlay − 50');
    // The vxlan device's socket is in the host namespace: the host listens on 4789, the network namespace does not.
    const hostSock = await lab.inNs(lab.hosts[0]!.path, 'ss', ['-Hlun', 'sport = :4789']);
    assert.match(hostSock.stdout, /4789/);
  });

  it('before peers are announced nothing crosses; after, ICMP, TCP and UDP work between hosts', async () => {
    assert.notEqual((await ping(s1, ipOf(s2))).code, 0, 'no FDB entry, no path (nothing learned or flooded)');
    for (const s of [s1, s2, s3]) await lab.announce(s);
    for (const [a, b] of [
      [s1, s2],
      [s2, s3],
      [s3, s1],
    ] as const) {
      const r = await ping(a, ipOf(b));
      assert.equal(r.code, 0, `${ipOf(a)} → ${ipOf(b)}: ${r.stdout}${r.stderr}`);
    }
    const srv = lab.spawnIn(s2.path, node, [NETTOOL, 'tcp-server', '7000']);
    const usrv = lab.spawnIn(s3.path, node, [NETTOOL, 'udp-server', '7001']);
    const tcp = await waitFor('tcp across hosts', async () => {
      const r = await lab.inNs(s1.path, node, [NETTOOL, 'tcp-client', ipOf(s2), '7000', 'hello']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(tcp, `${ipOf(s1)} hello`);
    const udp = await waitFor('udp across hosts', async () => {
      const r = await lab.inNs(s1.path, node, [NETTOOL, 'udp-client', ipOf(s3), '7001', 'dgram']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(udp, `${ipOf(s1)} dgram`);
    await lab.kill(srv);
    await lab.kill(usrv);
  });

  it('programs permanent FDB (MAC → VTEP) and neighbour entries for every remote endpoint, and no flooding entry', async () => {
    const f = await fdb(0);
    assert.match(f, new RegExp(`${s2.endpoint.macAddress} dst ${lab.hosts[1]!.address} .*self permanent`));
    assert.match(f, new RegExp(`${s3.endpoint.macAddress} dst ${lab.hosts[2]!.address} .*self permanent`));
    assert.doesNotMatch(f, /00:00:00:00:00:00/, 'no all-zeros (flood) entry');
    const n = await neigh(0);
    assert.match(n, new RegExp(`${ipOf(s2)} lladdr ${s2.endpoint.macAddress} PERMANENT`));
    assert.match(n, new RegExp(`${ipOf(s3)} lladdr ${s3.endpoint.macAddress} PERMANENT`));
    assert.doesNotMatch(n, new RegExp(ipOf(s1)), 'no entry for the local sandbox');
    // The doctor/reconcile table agrees: nothing missing.
    for (const inv of lab.hosts[0]!.driver.invariants.network)
      assert.deepEqual(await inv.check(lab.netCtx(lab.hosts[0]!, net)), [], inv.id);
    for (const inv of lab.hosts[0]!.driver.invariants.endpoint) assert.deepEqual(await inv.check(lab.epCtx(s1)), [], inv.id);
  });

  /**
   * What left host h's underlay as VXLAN while `during` ran: every packet, and those whose
   * inner frame is ARP, IPv6 (neighbour discovery) or broadcast/multicast.
   */
  const captureUnderlay = async (h: number, during: () => Promise<void>): Promise<{ total: number; bad: string }> => {
    const pcap = `/tmp/ovl-${lab.tag}-${h}.pcap`;
    const dump = lab.spawnIn(lab.hosts[h]!.path, 'tcpdump', ['--immediate-mode', '-i', 'eth0', '-n', '-U', '-w', pcap, 'udp port 4789']);
    try {
      await waitFor('tcpdump listening', () => lab.output(dump).includes('listening'), 5000);
      await during();
      await new Promise((res) => setTimeout(res, 300));
    } finally {
      await lab.kill(dump, 'SIGTERM');
    }
    const all = await run('tcpdump', ['-n', '-r', pcap]);
    // Inner Ethernet starts after UDP (8) + VXLAN (8): its destination MAC's group bit, its type at +12.
    const bad = await run('tcpdump', ['-n', '-r', pcap, 'udp port 4789 and (udp[16] & 1 = 1 or udp[28:2] = 0x0806 or udp[28:2] = 0x86dd)']);
    rmSync(pcap, { force: true });
    return { total: all.stdout.split('\n').filter(Boolean).length, bad: bad.stdout.trim() };
  };

  it('a capture on the underlay during 100 cross-host TCP connections and ARP for unknown addresses sees no encapsulated ARP or broadcast', async () => {
    const { total, bad } = await captureUnderlay(0, async () => {
      // Fresh ARP resolution for every connection: flush the sandbox's cache first.
      await lab.inNs(s1.path, 'ip', ['neigh', 'flush', 'all']);
      const srv = lab.spawnIn(s2.path, node, [NETTOOL, 'tcp-server', '7002']);
      const loop = `const net=require('net');let ok=0,n=0;const go=()=>{if(n++===100){console.log(ok);return;}
      const s=net.connect({host:'${ipOf(s2)}',port:7002},()=>s.write('x'));s.on('data',()=>{ok++;s.destroy();go();});s.on('error',()=>setTimeout(go,20));};go();`;
      const r = await waitFor(
        '100 connections',
        async () => {
          const x = await lab.inNs(s1.path, node, ['-e', loop], 30_000);
          return x.code === 0 && x.stdout.trim() === '100' ? x : undefined;
        },
        40_000,
      );
      assert.equal(r.stdout.trim(), '100');
      // ARP for an address nobody has must stay on this host too.
      await ping(s1, '10.50.0.99');
      await lab.kill(srv);
    });
    assert.ok(total >= 300, `the capture saw the connections (${total} VXLAN packets)`);
    assert.equal(bad, '', 'no ARP, no broadcast/multicast frame left the host');
  });

  it('clients that asked for an address before its owner existed (on its host and on another) connect as soon as it joins and is announced; no announcement crosses the underlay', async () => {
    const ip = '10.50.0.77';
    // The clients' next ARP retry is 5 s away, so a connect within 3 s is the announcement's doing.
    for (const s of [s1, s2]) {
      const r = await lab.inNs(s.path, 'sysctl', ['-w', 'net.ipv4.neigh.eth0.retrans_time_ms=5000']);
      assert.equal(r.code, 0, r.stderr);
    }
    const loop = `const net=require('net');const t0=Date.now();process.stdout.write('ready\\n');
      const go=()=>{const s=net.connect({host:'${ip}',port:7010});s.setTimeout(200);
      s.once('connect',()=>{console.log('connected '+(Date.now()-t0));process.exit(0);});
      s.once('error',()=>s.destroy());s.once('timeout',()=>s.destroy());
      if(Date.now()-t0>4000){console.log('none');process.exit(1);}setTimeout(go,5);};go();`;
    const cross = lab.spawnIn(s1.path, node, ['-e', loop]);
    const local = lab.spawnIn(s2.path, node, ['-e', loop]);
    const exited = (c: typeof cross): Promise<string> => new Promise((res) => c.once('exit', () => res(lab.output(c))));
    const done = Promise.all([exited(cross), exited(local)]);
    let s4: LabSandbox | undefined;
    let srv: ReturnType<typeof lab.spawnIn> | undefined;
    try {
      const { bad } = await captureUnderlay(1, async () => {
        await waitFor('clients started', () => lab.output(cross).includes('ready') && lab.output(local).includes('ready'), 5000);
        await new Promise((res) => setTimeout(res, 200)); // their first ARP requests went unanswered
        s4 = await lab.sandbox(lab.hosts[1]!, net, ip); // on the local client's host: its bridge announces it
        srv = lab.spawnIn(s4.path, node, [NETTOOL, 'tcp-server', '7010']);
        await lab.announce(s4); // the other hosts' bridges announce it to their sandboxes
        const [c, l] = await done;
        assert.match(c, /connected \d+/, `the client on another host: ${c}`);
        assert.match(l, /connected \d+/, `the client on the same host: ${l}`);
        for (const out of [c, l]) assert.ok(Number(/connected (\d+)/.exec(out)![1]) < 3000, out);
      });
      assert.equal(bad, '', 'the announcements stayed on their hosts');
    } finally {
      for (const s of [s1, s2]) await lab.inNs(s.path, 'sysctl', ['-w', 'net.ipv4.neigh.eth0.retrans_time_ms=1000']);
      if (srv) await lab.kill(srv);
      if (s4) {
        await lab.withdraw(s4);
        await lab.hosts[1]!.driver.leave(lab.epCtx(s4));
      }
    }
  });

  it("a peer's removal takes its FDB and neighbour entries away on every other host within 1 s, and its traffic stops", async () => {
    const t0 = Date.now();
    await lab.withdraw(s3);
    const took = Date.now() - t0;
    assert.ok(took < 1000, `took ${took} ms`);
    for (const h of [0, 1]) {
      assert.doesNotMatch(await fdb(h), new RegExp(s3.endpoint.macAddress!), `host ${h + 1} FDB`);
      assert.doesNotMatch(await neigh(h), new RegExp(`${ipOf(s3)} `), `host ${h + 1} neighbours`);
    }
    assert.notEqual((await ping(s1, ipOf(s3))).code, 0);
    assert.equal((await ping(s1, ipOf(s2))).code, 0, 'the others are untouched');
    await lab.announce(s3);
    assert.equal((await ping(s1, ipOf(s3))).code, 0, 'announced again, reachable again');
  });

  it("a host's death removes every entry pointing at it on the other hosts", async () => {
    const dead = lab.hosts[2]!;
    for (const h of [lab.hosts[0]!, lab.hosts[1]!])
      await h.driver.hostDown({ kernel: h.kernel, services: h.services }, { hostId: dead.hostId, address: dead.address, data: {} });
    for (const h of [0, 1]) {
      assert.doesNotMatch(await fdb(h), new RegExp(dead.address.replace(/\./g, '\\.')));
      assert.doesNotMatch(await neigh(h), new RegExp(`${ipOf(s3)} `));
    }
    assert.deepEqual(
      lab.hosts[0]!.driver.knownPeers(net.id).map((p) => p.hostId),
      [lab.hosts[1]!.hostId],
      'forgotten, not just unprogrammed',
    );
    assert.equal((await ping(s1, ipOf(s2))).code, 0);
  });

  it('an invariant notices a deleted FDB entry and its repair restores it', async () => {
    const h = lab.hosts[0]!;
    const p = lab.overlayPath(h, net);
    const del = await lab.inNs(p, 'bridge', ['fdb', 'del', s2.endpoint.macAddress!, 'dev', 'vxlan0', 'dst', lab.hosts[1]!.address, 'self']);
    assert.equal(del.code, 0, del.stderr);
    const peers = h.driver.invariants.network.find((i) => i.id === 'overlay.peers')!;
    const problems = await peers.check(lab.netCtx(h, net));
    assert.equal(problems.length, 1, problems.join('; '));
    assert.match(problems[0]!, /FDB entry .* missing/);
    await peers.repair(lab.netCtx(h, net));
    assert.deepEqual(await peers.check(lab.netCtx(h, net)), []);
    assert.equal((await ping(s1, ipOf(s2))).code, 0);
  });

  it('two overlay networks with the same subnet carry traffic side by side without seeing each other', async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const a = overlayNetwork('ovl-t1', '10.60.0.0/24');
    a.driverState = h1.driver.validate(a, [net]).driverState;
    const b = overlayNetwork('ovl-t2', '10.60.0.0/24');
    b.driverState = h1.driver.validate(b, [net, a]).driverState;
    assert.notEqual(a.driverState.vni, b.driverState.vni);
    const a1 = await lab.sandbox(h1, a, '10.60.0.2');
    const a2 = await lab.sandbox(h2, a, '10.60.0.3');
    const b1 = await lab.sandbox(h1, b, '10.60.0.2');
    const b2 = await lab.sandbox(h2, b, '10.60.0.3');
    for (const s of [a1, a2, b1, b2]) await lab.announce(s);
    const sa = lab.spawnIn(a2.path, node, [NETTOOL, 'tcp-server', '7100']);
    const sb = lab.spawnIn(b2.path, node, [NETTOOL, 'udp-server', '7100']);
    const viaA = await waitFor('tcp on tenant A', async () => {
      const r = await lab.inNs(a1.path, node, [NETTOOL, 'tcp-client', '10.60.0.3', '7100', 'tenant-a']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(viaA, '10.60.0.2 tenant-a');
    const viaB = await waitFor('udp on tenant B', async () => {
      const r = await lab.inNs(b1.path, node, [NETTOOL, 'udp-client', '10.60.0.3', '7100', 'tenant-b']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(viaB, '10.60.0.2 tenant-b');
    // Tenant B's address 10.60.0.3 has no TCP server: A's server is invisible to B.
    const cross = await lab.inNs(b1.path, node, [NETTOOL, 'tcp-client', '10.60.0.3', '7100', 'x']);
    assert.notEqual(cross.code, 0, 'tenant B cannot reach tenant A');
    await lab.kill(sa);
    await lab.kill(sb);
  });

  it('a sandbox whose default route is on the overlay gets a gateway-bridge leg: the host answers on it and egress is masqueraded', async () => {
    const h = lab.hosts[0]!;
    const fw = new NftFirewall({ netnsPath: h.path });
    await fw.init({ networks: [], ports: [] });
    h.services.firewall = fw;
    const s = await lab.sandbox(h, net, '10.50.0.20', { defaultRoute: true });
    await lab.announce(s);
    const routes = await lab.inNs(s.path, 'ip', ['-j', 'route', 'show', 'default']);
    const def = (JSON.parse(routes.stdout) as { gateway: string; dev: string }[])[0]!;
    assert.deepEqual([def.gateway, def.dev], ['10.255.0.1', legIfname(s.endpoint.id)]);
    const gw = await lab.inNs(h.path, 'ip', ['-j', 'link', 'show', GATEWAY_BRIDGE]);
    assert.equal(gw.code, 0, 'the gateway bridge exists in the host namespace');
    assert.equal((await ping(s, '10.255.0.1')).code, 0, 'the host answers on the gateway bridge');
    assert.equal((await ping(s, ipOf(s2))).code, 0, 'and the overlay still works');
    // Egress: h2's underlay address is "outside"; h1's firewall masquerades the leg's subnet.
    const out = lab.spawnIn(lab.hosts[1]!.path, node, [NETTOOL, 'tcp-server', '7400']);
    const seen = await waitFor('egress through the gateway bridge', async () => {
      const r = await lab.inNs(s.path, node, [NETTOOL, 'tcp-client', lab.hosts[1]!.address, '7400', 'out']);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(seen, `${h.address} out`, 'the outside sees the host address (masqueraded)');
    await lab.kill(out);
    assert.ok(fw.state.networks.some((n) => n.bridge === GATEWAY_BRIDGE && n.masquerade));
    for (const inv of h.driver.invariants.endpoint) assert.deepEqual(await inv.check(lab.epCtx(s)), [], inv.id);
    await lab.withdraw(s);
    await h.driver.leave(lab.epCtx(s));
    const left = await lab.inNs(h.path, 'ip', ['neigh', 'show', 'dev', GATEWAY_BRIDGE, 'nud', 'permanent']);
    assert.equal(left.stdout.trim(), '', 'its address claim went with it');
  });

  it('the last local leave removes the network namespace; leave and networkDown again are no-ops', async () => {
    const h = lab.hosts[2]!;
    await h.driver.leave(lab.epCtx(s3));
    assert.equal(lab.kernel.netnsInode(lab.overlayPath(h, net)), undefined);
    await h.driver.leave(lab.epCtx(s3));
    await h.driver.networkDown(lab.netCtx(h, net));
    const links = await lab.inNs(s3.path, 'ip', ['-o', 'link', 'show']);
    assert.doesNotMatch(links.stdout, /eth0/, 'the sandbox lost its interface');
  });
});
