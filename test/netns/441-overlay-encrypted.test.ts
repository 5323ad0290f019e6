/**
 * `-o encrypted` on this kernel (no ESP in xfrm, no WireGuard module): each fake host runs
 * wireguard-go under the Supervisor, keys travel as host data, and the VXLAN of the encrypted
 * network runs inside WireGuard. A capture on the underlay during a transfer finds no trace of
 * a known payload (and only WireGuard's UDP port), while the same payload on a plain overlay
 * network is visible — so the capture could have failed. Without the service: a typed error.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { OverlayLab, overlayNetwork, type LabSandbox } from '../../src/lab/overlay-lab.js';
import { NETTOOL, run, waitFor } from '../../src/lab/sim-host.js';
import { OVERLAY_OPTIONS, tunnelAddressOf } from '../../src/drivers/overlay/overlay-options.js';
import { WG_KEY, WG_PORT, wgIfnameOf } from '../../src/drivers/overlay/overlay-encryption.js';
import { giveWireguard } from '../../src/lab/overlay-lab-wireguard.js';
import type { Supervisor } from '../../src/kernel/supervisor.js';
import { encryptionSupport } from '../../src/kernel/wireguard.js';
import { WeftError } from '../../src/errors.js';

const node = process.execPath;
const ipOf = (s: LabSandbox): string => s.endpoint.ipv4!.split('/')[0]!;
const SECRET = 'weft-overlay-secret-payload-7f3a';

describe('overlay driver: encrypted network over wireguard-go', () => {
  const lab = new OverlayLab();
  const dir = mkdtempSync('/tmp/ovl-wg-');
  const supervisors: Supervisor[] = [];
  const published = new Map<string, Record<string, string>>();
  const enc = overlayNetwork('ovl-enc', '10.70.0.0/24', { options: { [OVERLAY_OPTIONS.encrypted]: '' } });
  const plain = overlayNetwork('ovl-plain', '10.71.0.0/24');

  before(async () => {
    await lab.up(2);
    enc.driverState = lab.hosts[0]!.driver.validate(enc, []).driverState;
    plain.driverState = lab.hosts[0]!.driver.validate(plain, [enc]).driverState;
  });
  after(async () => {
    for (const s of supervisors) await s.stopAll();
    await lab.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('reports what the kernel offers, and refuses an encrypted network without a WireGuard service (typed error)', async () => {
    const sup = encryptionSupport();
    assert.equal(sup.esp, 'absent', 'this kernel has no ESP');
    assert.equal(sup.wireguard, 'absent', 'and no WireGuard module');
    assert.equal(sup.wireguardGo, true, 'wireguard-go is installed');
    const h = lab.hosts[0]!;
    await assert.rejects(
      h.driver.networkUp(lab.netCtx(h, enc)),
      (e: unknown) => e instanceof WeftError && e.code === 'WEFT_KERNEL_UNSUPPORTED',
    );
  });

  it('brings up one wireguard-go device per host with its tunnel address, and publishes only the public key', async () => {
    for (const h of lab.hosts) {
      supervisors.push(
        giveWireguard(h, dir, (driver, data) => {
          published.set(h.hostId, { ...data });
          assert.equal(driver, 'overlay');
        }),
      );
      await h.driver.networkUp(lab.netCtx(h, enc));
      const wg = wgIfnameOf(h.hostId);
      const a = await lab.inNs(h.path, 'ip', ['-j', 'addr', 'show', 'dev', wg]);
      assert.equal(a.code, 0, a.stderr);
      assert.match(a.stdout, new RegExp(tunnelAddressOf(h.address)));
      const key = published.get(h.hostId)?.[WG_KEY];
      assert.match(key ?? '', /^[A-Za-z0-9+/]{43}=$/);
      const priv = readFileSync(`${dir}/${h.name}/keys/${wg}.key`, 'utf8').trim();
      assert.notEqual(priv, key, 'the private key is not what is published');
    }
    // The agent's hostUp fan-out: each host learns the other's key.
    await lab.hostsUp((o) => published.get(o.hostId)!);
    const peers = await run('wg', ['show', wgIfnameOf(lab.hosts[0]!.hostId), 'peers']);
    assert.equal(peers.stdout.trim(), published.get(lab.hosts[1]!.hostId)![WG_KEY]);
  });

  async function transferAndCapture(a: LabSandbox, b: LabSandbox, port: number): Promise<{ pcap: Buffer; text: string }> {
    const pcap = `${dir}/cap-${port}.pcap`;
    const dump = lab.spawnIn(lab.hosts[0]!.path, 'tcpdump', ['--immediate-mode', '-i', 'eth0', '-n', '-U', '-w', pcap]);
    await waitFor('tcpdump listening', () => lab.output(dump).includes('listening'), 5000);
    const srv = lab.spawnIn(b.path, node, [NETTOOL, 'tcp-server', String(port)]);
    const reply = await waitFor('tcp through the overlay', async () => {
      const r = await lab.inNs(a.path, node, [NETTOOL, 'tcp-client', ipOf(b), String(port), SECRET]);
      return r.code === 0 ? r.stdout.trim() : undefined;
    });
    assert.equal(reply, `${ipOf(a)} ${SECRET}`);
    await new Promise((r) => setTimeout(r, 200));
    await lab.kill(dump, 'SIGTERM');
    await lab.kill(srv);
    const text = (await run('tcpdump', ['-n', '-r', pcap])).stdout;
    return { pcap: readFileSync(pcap), text };
  }

  it('traffic works on the encrypted network and a capture on the underlay finds none of the payload', async () => {
    const [h1, h2] = [lab.hosts[0]!, lab.hosts[1]!];
    const [a, b] = await lab.announcedPair(enc, ['10.70.0.2', '10.70.0.3']);
    const mtu = await lab.inNs(a.path, 'ip', ['-j', 'link', 'show', 'eth0']);
    assert.equal((JSON.parse(mtu.stdout) as { mtu: number }[])[0]!.mtu, 1370, 'MTU = 1500 − 60 (WireGuard) − 70 (VXLAN over IPv6)');
    const fdb = await lab.inNs(lab.overlayPath(h1, enc), 'bridge', ['fdb', 'show', 'dev', 'vxlan0']);
    assert.match(fdb.stdout, new RegExp(`dst ${tunnelAddressOf(h2.address)} `), 'the VTEP is the peer host’s tunnel address');
    const { pcap, text } = await transferAndCapture(a, b, 7300);
    assert.ok(text.includes(`.${WG_PORT}:`), 'the capture saw WireGuard packets');
    assert.equal(pcap.includes(Buffer.from(SECRET)), false, 'the payload never appears on the underlay');
    assert.doesNotMatch(text, /\.4789: VXLAN/, 'no VXLAN in the clear');
  });

  it('control: the same payload on a plain overlay network is visible on the underlay', async () => {
    const [a, b] = await lab.announcedPair(plain, ['10.71.0.2', '10.71.0.3']);
    const { pcap } = await transferAndCapture(a, b, 7301);
    assert.equal(pcap.includes(Buffer.from(SECRET)), true);
  });
});
