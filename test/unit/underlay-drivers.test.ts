/**
 * Pure parts of the macvlan and ipvlan drivers: options, parents, the host shim's address, the
 * ipvlan / 802.1q / alias netlink encodings (checked field by field against the kernel's
 * policies, since this kernel cannot create those links), and ARP probe frames.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConflictError, InvalidArgumentError } from '../../src/errors.js';
import { NlBuilder, attrNested, attrStr, attrU32, parseAttrs, parseMessages, type NlMsg } from '../../src/kernel/netlink/codec.js';
import * as C from '../../src/kernel/netlink/constants.js';
import { buildCreateIpvlan, buildCreateMacvlan, buildCreateVlan, buildSetLink, parseLink } from '../../src/kernel/netlink/link-msg.js';
import { arpProbeFrame, claimantOf } from '../../src/kernel/arp-probe.js';
import { macToBytes, ipToBytes } from '../../src/kernel/netlink/ip-bytes.js';
import { parseMacvlanOptions, reserveShimAddresses, SHIM_AUX_NAME } from '../../src/drivers/macvlan/macvlan-options.js';
import { assertParentFree, parseParent } from '../../src/drivers/underlay/parent-spec.js';
import { isOwned, ownerAlias } from '../../src/drivers/underlay/owner-alias.js';
import { shimMacOf } from '../../src/drivers/macvlan/host-shim.js';
import { MacvlanDriver } from '../../src/drivers/macvlan/macvlan-driver.js';
import { IpvlanDriver } from '../../src/drivers/ipvlan/ipvlan-driver.js';
import { parseIpvlanOptions } from '../../src/drivers/ipvlan/ipvlan-options.js';
import { contradictions, networkBodyOf } from '../../src/api/cni/cni-network.js';
import type { NetConf } from '../../src/api/cni/cni-request.js';
import type { IpamPoolConfig, NetworkRecord } from '../../src/model/types.js';
import { resolvePoolConfig } from '../../src/ipam/pool-config.js';
import type { EndpointRecord, SandboxRecord } from '../../src/model/types.js';
import { fakeWorld } from '../fakes/fake-world.js';
import type { Driver } from '../../src/drivers/driver.js';

const roundTrip = (b: NlBuilder): NlMsg => parseMessages(Buffer.from(b.finish(1)))[0]!;

function net(over: Partial<NetworkRecord> = {}): NetworkRecord {
  return {
    id: 'ab'.repeat(32),
    name: 'lan',
    driver: 'macvlan',
    created: '',
    scope: 'local',
    internal: false,
    enableIPv6: false,
    attachable: true,
    labels: {},
    options: {},
    ipam: { driver: 'default', options: {}, config: [resolvePoolConfig({ subnet: '192.0.2.0/24', gateway: '192.0.2.1' })] },
    driverState: {},
    ...over,
  };
}

describe('netlink: ipvlan, 802.1q, macvlan details, aliases', () => {
  it('ipvlan: parent link, namespace fd, mode and flags as u16 (ipvlan_nl_policy)', () => {
    const b = new NlBuilder();
    buildCreateIpvlan(b, { name: 'eth0', parent: 5, mode: 'l3', flag: 'private', netnsFd: 40 });
    const a = parseAttrs(roundTrip(b).payload, 16);
    assert.equal(attrU32(a, C.IFLA_LINK), 5);
    assert.equal(attrU32(a, C.IFLA_NET_NS_FD), 40);
    const info = attrNested(a, C.IFLA_LINKINFO)!;
    assert.equal(attrStr(info, C.IFLA_INFO_KIND), 'ipvlan');
    const d = attrNested(info, C.IFLA_INFO_DATA)!;
    assert.equal(d.get(C.IFLA_IPVLAN_MODE)!.length, 2);
    assert.equal(d.get(C.IFLA_IPVLAN_MODE)!.readUInt16LE(0), 1, 'IPVLAN_MODE_L3');
    assert.equal(d.get(C.IFLA_IPVLAN_FLAGS)!.readUInt16LE(0), 1, 'IPVLAN_F_PRIVATE');
    const l2 = new NlBuilder();
    buildCreateIpvlan(l2, { name: 'eth0', parent: 5 });
    const d2 = attrNested(attrNested(parseAttrs(roundTrip(l2).payload, 16), C.IFLA_LINKINFO)!, C.IFLA_INFO_DATA)!;
    assert.equal(d2.get(C.IFLA_IPVLAN_MODE)!.readUInt16LE(0), 0, 'L2 by default');
    assert.equal(d2.get(C.IFLA_IPVLAN_FLAGS)!.readUInt16LE(0), 0, 'bridge by default');
  });

  it('802.1q: base link, VLAN id u16, protocol 0x8100 in network order (vlan_policy)', () => {
    const b = new NlBuilder();
    buildCreateVlan(b, { name: 'eth0.10', parent: 2, vlanId: 10 });
    const a = parseAttrs(roundTrip(b).payload, 16);
    assert.equal(attrStr(a, C.IFLA_IFNAME), 'eth0.10');
    assert.equal(attrU32(a, C.IFLA_LINK), 2);
    const info = attrNested(a, C.IFLA_LINKINFO)!;
    assert.equal(attrStr(info, C.IFLA_INFO_KIND), 'vlan');
    const d = attrNested(info, C.IFLA_INFO_DATA)!;
    assert.equal(d.get(C.IFLA_VLAN_ID)!.readUInt16LE(0), 10);
    assert.deepEqual([...d.get(C.IFLA_VLAN_PROTOCOL)!], [0x81, 0x00]);
    for (const bad of [0, 4095, 1.5])
      assert.throws(() => buildCreateVlan(new NlBuilder(), { name: 'x.1', parent: 2, vlanId: bad }), InvalidArgumentError);
  });

  it('macvlan mode bits, and alias set and read back', () => {
    const b = new NlBuilder();
    buildCreateMacvlan(b, { name: 'eth0', parent: 3, mode: 'vepa', mac: '02:00:00:00:00:01' });
    const d = attrNested(attrNested(parseAttrs(roundTrip(b).payload, 16), C.IFLA_LINKINFO)!, C.IFLA_INFO_DATA)!;
    assert.equal(attrU32(d, C.IFLA_MACVLAN_MODE), C.MACVLAN_MODE.vepa);
    const s = new NlBuilder();
    buildSetLink(s, 9, { alias: 'weft:shim:x' });
    assert.equal(attrStr(parseAttrs(roundTrip(s).payload, 16), C.IFLA_IFALIAS), 'weft:shim:x');
    const r = new NlBuilder().start(C.RTM_NEWLINK, 0).ifinfomsg({ index: 4 });
    r.str(C.IFLA_IFNAME, 'eth0').str(C.IFLA_IFALIAS, 'weft:vlan-parent:1');
    r.nest(C.IFLA_LINKINFO, (n) => n.str(C.IFLA_INFO_KIND, 'vlan').nest(C.IFLA_INFO_DATA, (x) => x.u16(C.IFLA_VLAN_ID, 10)));
    const l = parseLink(roundTrip(r));
    assert.equal(l.alias, 'weft:vlan-parent:1');
    assert.equal(l.vlanId, 10);
    const m = new NlBuilder().start(C.RTM_NEWLINK, 0).ifinfomsg({ index: 5 });
    m.str(C.IFLA_IFNAME, 'eth0').nest(C.IFLA_LINKINFO, (n) =>
      n.str(C.IFLA_INFO_KIND, 'macvlan').nest(C.IFLA_INFO_DATA, (x) => x.u32(C.IFLA_MACVLAN_MODE, 8)),
    );
    assert.equal(parseLink(roundTrip(m)).macvlanMode, 'passthru');
  });
});

describe('ARP probes (RFC 5227)', () => {
  const own = macToBytes('02:00:00:00:00:aa');
  const ip = ipToBytes('192.0.2.9');
  const frame = (op: number, sha: string, spa: string, tpa: string): Buffer => {
    const f = arpProbeFrame(macToBytes(sha), ipToBytes(tpa));
    f.writeUInt16BE(op, 20);
    ipToBytes(spa).copy(f, 28);
    return f;
  };

  it('a probe is a broadcast who-has from 0.0.0.0 with our MAC, padded to 60 bytes', () => {
    const f = arpProbeFrame(own, ip);
    assert.equal(f.length, 60);
    assert.deepEqual([...f.subarray(0, 6)], [255, 255, 255, 255, 255, 255]);
    assert.deepEqual([...f.subarray(6, 12)], [...own]);
    assert.equal(f.readUInt16BE(12), 0x0806);
    assert.equal(f.readUInt16BE(20), 1, 'request');
    assert.deepEqual([...f.subarray(22, 28)], [...own], 'sender MAC');
    assert.equal(f.readUInt32BE(28), 0, 'sender IP 0.0.0.0');
    assert.deepEqual([...f.subarray(38, 42)], [192, 0, 2, 9], 'target IP');
  });

  it('a reply, any ARP from the address, or a concurrent probe names the holder; our own and others do not', () => {
    assert.equal(claimantOf(frame(2, '02:00:00:00:00:bb', '192.0.2.9', '0.0.0.0'), 60, own, ip), '02:00:00:00:00:bb');
    assert.equal(claimantOf(frame(1, '02:00:00:00:00:cc', '192.0.2.9', '192.0.2.1'), 60, own, ip), '02:00:00:00:00:cc');
    assert.equal(claimantOf(frame(1, '02:00:00:00:00:dd', '0.0.0.0', '192.0.2.9'), 60, own, ip), '02:00:00:00:00:dd');
    assert.equal(claimantOf(arpProbeFrame(own, ip), 60, own, ip), undefined, 'our own probe');
    assert.equal(claimantOf(frame(2, '02:00:00:00:00:bb', '192.0.2.8', '0.0.0.0'), 60, own, ip), undefined, 'another address');
    assert.equal(claimantOf(frame(2, '02:00:00:00:00:bb', '192.0.2.9', '0.0.0.0'), 30, own, ip), undefined, 'truncated');
  });
});

describe('macvlan options and parents', () => {
  it('defaults to bridge mode, no shim, no probe', () => {
    assert.deepEqual(parseMacvlanOptions({ parent: 'eth0' }), {
      parent: { name: 'eth0' },
      mode: 'bridge',
      hostShim: false,
      probe: false,
      probeTimeoutMs: 500,
    });
  });

  it('refuses unknown modes and options, a shim without a LAN or on a private/passthru network, and bad probe waits', () => {
    const bad: [Record<string, string>, RegExp][] = [
      [{ parent: 'eth0', macvlan_mode: 'nat' }, /macvlan_mode: unknown macvlan mode "nat"/],
      [{ parent: 'eth0', colour: 'red' }, /opt colour: unknown option/],
      [{ 'weft.macvlan.host_shim': 'true' }, /no LAN to shim/],
      [{ parent: 'eth0', macvlan_mode: 'private', 'weft.macvlan.host_shim': 'true' }, /private mode/],
      [{ parent: 'eth0', macvlan_mode: 'passthru', 'weft.macvlan.host_shim': 'true' }, /passthru mode/],
      [{ parent: 'eth0', 'weft.macvlan.probe_timeout_ms': '5' }, /between 50 and 10000/],
      [{ parent: 'eth0', 'weft.macvlan.probe': 'maybe' }, /expected true or false/],
    ];
    for (const [o, re] of bad) assert.throws(() => parseMacvlanOptions(o), re);
  });

  it('reads BASE.VID parents as 802.1q, refuses lo, bad ids and bad names', () => {
    assert.deepEqual(parseParent('parent', 'eth0.10', 'macvlan'), { name: 'eth0.10', vlan: { base: 'eth0', id: 10 } });
    assert.deepEqual(parseParent('parent', 'br-lan', 'macvlan'), { name: 'br-lan' });
    assert.throws(() => parseParent('parent', 'lo', 'macvlan'), /loopback/);
    assert.throws(() => parseParent('parent', 'eth0.0', 'macvlan'), /VLAN id 0/);
    assert.throws(() => parseParent('parent', 'averyveryverylongname', 'macvlan'), /15/);
  });

  it('one network per parent, across macvlan and ipvlan; another VLAN of the same NIC is another parent', () => {
    const others = [net({ id: 'cd'.repeat(32), name: 'a', driver: 'ipvlan', driverState: { parent: 'eth0.10' } })];
    assert.throws(() => assertParentFree(net(), 'eth0.10', others), ConflictError);
    assert.doesNotThrow(() => assertParentFree(net(), 'eth0.20', others));
    assert.doesNotThrow(() => assertParentFree(net(), 'eth0', others));
  });

  it('reserves the shim address at the top of the ip-range, skipping reserved ones, or the one given', () => {
    const pool = (x: Partial<IpamPoolConfig> & { subnet: string }): IpamPoolConfig =>
      resolvePoolConfig({ subnet: x.subnet, ...(x.ipRange ? { ipRange: x.ipRange } : {}), auxAddresses: x.auxAddresses ?? {} });
    assert.equal(reserveShimAddresses([pool({ subnet: '192.0.2.0/24' })])[0]!.auxAddresses[SHIM_AUX_NAME], '192.0.2.254');
    assert.equal(
      reserveShimAddresses([pool({ subnet: '192.0.2.0/24', ipRange: '192.0.2.64/27', auxAddresses: { x: '192.0.2.95' } })])[0]!
        .auxAddresses[SHIM_AUX_NAME],
      '192.0.2.94',
    );
    const given = pool({ subnet: '192.0.2.0/24', auxAddresses: { [SHIM_AUX_NAME]: '192.0.2.7' } });
    assert.equal(reserveShimAddresses([given])[0]!.auxAddresses[SHIM_AUX_NAME], '192.0.2.7');
    assert.throws(() => reserveShimAddresses([pool({ subnet: '192.0.2.0/30', auxAddresses: { x: '192.0.2.2' } })]), /no free address/);
  });

  it('ownership marks and shim MACs are per network', () => {
    const id = 'ab'.repeat(32);
    assert.ok(isOwned(ownerAlias('shim', id), 'shim', id));
    assert.ok(!isOwned(ownerAlias('shim', id), 'vlan-parent', id));
    assert.ok(!isOwned(undefined, 'shim', id));
    assert.ok(!isOwned(ownerAlias('shim', 'cd'.repeat(32)), 'shim', id));
    assert.equal(shimMacOf(id), '06:ab:ab:ab:ab:ab');
  });
});

describe('driver validation', () => {
  it('macvlan: parent, mode and shim in the driver state; the shim address reserved in IPAM', () => {
    const v = new MacvlanDriver().validate(net({ options: { parent: 'eth0', 'weft.macvlan.host_shim': 'true' } }), []);
    assert.deepEqual(v.driverState, { parent: 'eth0', parentKind: 'given', mode: 'bridge', hostShim: 'true' });
    assert.equal(v.ipam![0]!.auxAddresses[SHIM_AUX_NAME], '192.0.2.254');
    const priv = new MacvlanDriver().validate(net({ internal: true }), []);
    assert.deepEqual(priv.driverState, { parent: `wfm${'ab'.repeat(6)}`, parentKind: 'private', mode: 'bridge' });
    assert.equal(priv.ipam, undefined);
  });

  it('ipvlan: l2/bridge by default; modes and flags checked', () => {
    assert.deepEqual(new IpvlanDriver().validate(net({ driver: 'ipvlan', options: { parent: 'eth0' } }), []).driverState, {
      parent: 'eth0',
      parentKind: 'given',
      mode: 'l2',
      flag: 'bridge',
    });
    assert.throws(() => parseIpvlanOptions({ ipvlan_mode: 'l4' }), /unknown ipvlan mode/);
    assert.throws(() => parseIpvlanOptions({ ipvlan_flag: 'x' }), /unknown ipvlan flag/);
  });
});

describe('surfaces', () => {
  const conf = (x: Partial<NetConf>): NetConf => ({ cniVersion: '1.0.0', name: 'lan', type: 'weft', ...x });

  it('CNI: driver/master/mode make a macvlan network; a different master contradicts an existing one', () => {
    const body = networkBodyOf(conf({ driver: 'macvlan', master: 'eth1', mode: 'vepa', ipam: { subnet: '192.0.2.0/24' } }), 'weft');
    assert.equal(body.driver, 'macvlan');
    assert.deepEqual(body.options, { parent: 'eth1', macvlan_mode: 'vepa' });
    const iv = networkBodyOf(conf({ driver: 'ipvlan', master: 'eth1', mode: 'l3' }), 'weft');
    assert.deepEqual(iv.options, { parent: 'eth1', ipvlan_mode: 'l3' });
    const existing = net({ driverState: { parent: 'eth1' } });
    assert.deepEqual(contradictions(conf({ master: 'eth1' }), existing), []);
    assert.match(contradictions(conf({ master: 'eth2' }), existing).join(), /parent is "eth1"/);
    assert.match(contradictions(conf({ driver: 'bridge' }), existing).join(), /driver is "macvlan"/);
  });

  it('published ports: none for a LAN-native endpoint, as Docker ignores -p on macvlan', async () => {
    const w = await fakeWorld();
    try {
      const sb = { ports: [{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }] } as SandboxRecord;
      const ep = { defaultRoute: true, ipv4: '192.0.2.5/24' } as EndpointRecord;
      const c = w.controller;
      assert.deepEqual(c.sandboxPortMappings(sb, net(), ep), []);
      assert.deepEqual(c.sandboxPortMappings(sb, net({ driver: 'ipvlan' }), ep), []);
      const br = net({ driver: 'bridge', driverState: { bridgeName: 'wf-abababababab' } });
      assert.equal(c.sandboxPortMappings(sb, br, ep).length, 1, 'a bridge endpoint still gets its mapping');
    } finally {
      await w.close();
    }
  });

  it('Docker: passthru and ipvlan are refused with the reason', () => {
    const placement = new MacvlanDriver().runtimePlacement;
    assert.match(placement.refuse!(net({ driverState: { mode: 'passthru' } }))!, /parent's MAC/);
    assert.equal(placement.refuse!(net({ driverState: { mode: 'bridge' } })), undefined);
    const ipvlan: Driver = new IpvlanDriver();
    assert.equal(ipvlan.runtimePlacement, undefined, 'ipvlan children share the parent MAC Docker would set');
  });
});
