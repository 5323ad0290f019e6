/**
 * Overlay throughput, side by side in one run on one lab underlay (two fake hosts on a bridge):
 *   - underlay: the hosts' own veths through the underlay bridge (the ceiling)
 *   - raw VXLAN: a hand-made vxlan link between the hosts (learning off, permanent FDB/neighbour)
 *   - weft overlay: two sandboxes on a weft overlay network (driver objects: namespace, bridge,
 *     vxlan, veths), one per host
 *   - raw wireguard-go: the hosts' WireGuard devices alone (tunnel addresses)
 *   - weft encrypted overlay: sandboxes on an `-o encrypted` network (VXLAN inside wireguard-go)
 * iperf3, one TCP stream, --seconds each (default 3), repeated --rounds times (default 1, the
 * median is kept); ratios against the raw figure each one builds on.
 * Usage: npm run build && node dist/bench/overlay.js [--seconds 3] [--rounds 1]
 * Not a test: it prints figures. Needs root, iperf3, wireguard-go and wg.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { OverlayLab, overlayNetwork, type LabHost } from '../src/lab/overlay-lab.js';
import { mustRun } from '../src/lab/sim-host.js';
import { OVERLAY_OPTIONS, tunnelAddressOf } from '../src/drivers/overlay/overlay-options.js';
import { WG_KEY, wgIfnameOf } from '../src/drivers/overlay/overlay-encryption.js';
import { giveWireguard } from '../src/lab/overlay-lab-wireguard.js';
import type { Supervisor } from '../src/kernel/supervisor.js';
import { printTable } from './stats.js';
import { arg, iperf3Gbit, load, median } from './overlay-common.js';

const seconds = arg('--seconds', 3);
const rounds = arg('--rounds', 1);

/** A flannel-style static VXLAN link between two hosts (what the overlay is measured against). */
async function rawVxlan(a: LabHost, b: LabHost): Promise<void> {
  for (const [h, ip] of [
    [a, '192.0.2.1'],
    [b, '192.0.2.2'],
  ] as const) {
    const ipn = (...args: string[]): Promise<string> => mustRun('ip', ['-n', h.ns, ...args]);
    await ipn('link', 'add', 'vxraw', 'mtu', '1450', 'type', 'vxlan', 'id', '99', 'local', h.address, 'dstport', '4790', 'nolearning');
    await ipn('addr', 'add', `${ip}/24`, 'dev', 'vxraw');
    await ipn('link', 'set', 'vxraw', 'up');
  }
  // Now both exist: program each with the other's MAC.
  for (const [h, o, peerIp] of [
    [a, b, '192.0.2.2'],
    [b, a, '192.0.2.1'],
  ] as const) {
    const mac = (JSON.parse(await mustRun('ip', ['-n', o.ns, '-j', 'link', 'show', 'vxraw'])) as { address: string }[])[0]!.address;
    await mustRun('bridge', ['-n', h.ns, 'fdb', 'append', mac, 'dev', 'vxraw', 'dst', o.address, 'self', 'permanent']);
    await mustRun('ip', ['-n', h.ns, 'neigh', 'add', peerIp, 'lladdr', mac, 'dev', 'vxraw', 'nud', 'permanent']);
  }
}

async function main(): Promise<void> {
  // The machine is shared: every figure goes with the load it was measured under.
  console.log(`load average at start: ${load()}`);
  const lab = new OverlayLab();
  const dir = mkdtempSync('/tmp/ovl-bench-');
  const supervisors: Supervisor[] = [];
  try {
    await lab.up(2);
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const rows: { name: string; gbit: number; vs: string }[] = [];

    const underlay = await median(rounds, () => iperf3Gbit(h2.path, h1.path, h2.address, seconds));
    rows.push({ name: 'underlay veth + bridge', gbit: underlay, vs: '' });

    await rawVxlan(h1, h2);
    const vx = await median(rounds, () => iperf3Gbit(h2.path, h1.path, '192.0.2.2', seconds));
    rows.push({ name: 'raw VXLAN link', gbit: vx, vs: `${((vx / underlay) * 100).toFixed(0)} % of underlay` });

    const net = overlayNetwork('bench-ovl', '10.90.0.0/24');
    net.driverState = h1.driver.validate(net, []).driverState;
    const [s1, s2] = await lab.announcedPair(net, ['10.90.0.2', '10.90.0.3']);
    const ov = await median(rounds, () => iperf3Gbit(s2.path, s1.path, '10.90.0.3', seconds));
    rows.push({ name: 'weft overlay', gbit: ov, vs: `${((ov / vx) * 100).toFixed(0)} % of raw VXLAN` });

    const published = new Map<string, string>();
    for (const h of lab.hosts) supervisors.push(giveWireguard(h, dir, (_d, data) => published.set(h.hostId, data[WG_KEY]!)));
    const enc = overlayNetwork('bench-enc', '10.91.0.0/24', { options: { [OVERLAY_OPTIONS.encrypted]: '' } });
    enc.driverState = h1.driver.validate(enc, [net]).driverState;
    for (const h of lab.hosts) await h.driver.networkUp(lab.netCtx(h, enc));
    await lab.hostsUp((o) => ({ [`overlay/${WG_KEY}`]: published.get(o.hostId)! }));
    const wg = await median(rounds, () => iperf3Gbit(h2.path, h1.path, tunnelAddressOf(h2.address), seconds));
    rows.push({ name: `raw wireguard-go (${wgIfnameOf(h1.hostId)})`, gbit: wg, vs: `${((wg / underlay) * 100).toFixed(0)} % of underlay` });
    const [e1, e2] = await lab.announcedPair(enc, ['10.91.0.2', '10.91.0.3']);
    const eo = await median(rounds, () => iperf3Gbit(e2.path, e1.path, '10.91.0.3', seconds));
    rows.push({ name: 'weft encrypted overlay', gbit: eo, vs: `${((eo / wg) * 100).toFixed(0)} % of raw wireguard-go` });

    console.log(`iperf3, 1 TCP stream, ${seconds} s, median of ${rounds}; two lab hosts on one underlay bridge (MTU 1500)`);
    printTable(
      ['path', 'Gbit/s', 'ratio'],
      rows.map((r) => [r.name, r.gbit.toFixed(2), r.vs]),
    );
  } finally {
    for (const s of supervisors) await s.stopAll();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
    console.log(`load average at end: ${load()}`);
  }
}

await main();
