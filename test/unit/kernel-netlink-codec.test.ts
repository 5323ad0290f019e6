import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError, KernelError } from '../../src/errors.js';
import {
  attrList,
  attrNested,
  attrStr,
  attrU32,
  NlBuilder,
  parseAttrs,
  parseError,
  parseMessages,
  type NlMsg,
} from '../../src/kernel/netlink/codec.js';
import * as C from '../../src/kernel/netlink/constants.js';
import { buildCreateVeth, buildCreateVxlan, buildSetLink, parseLink, validateIfname } from '../../src/kernel/netlink/link-msg.js';
import { buildAddAddress, parseAddress } from '../../src/kernel/netlink/addr-msg.js';
import { buildAddRoute, buildDeleteRoute, parseRoute } from '../../src/kernel/netlink/route-msg.js';
import { buildAddNeighbour, parseNeighbour } from '../../src/kernel/netlink/neigh-msg.js';
import { decodeEvent } from '../../src/kernel/netlink/events.js';
import { bytesToIp, bytesToMac, ipToBytes, macToBytes, parseCidr } from '../../src/kernel/netlink/ip-bytes.js';
import { describeErrno, errnoName, netlinkError } from '../../src/kernel/netlink/netlink-error.js';
import { sysctlFile } from '../../src/kernel/sysctl.js';
import { parseStat } from '../../src/kernel/proc.js';

/** The single message a builder produced, as the parser sees it. */
function roundTrip(b: NlBuilder, seq = 7): NlMsg {
  const msgs = parseMessages(Buffer.from(b.finish(seq)));
  assert.equal(msgs.length, 1);
  return msgs[0]!;
}

describe('netlink codec: header and attributes', () => {
  it('writes length and seq, and pads attributes to 4 bytes with zeros', () => {
    const b = new NlBuilder(16).start(C.RTM_NEWLINK, C.NLM_F_REQUEST | C.NLM_F_ACK).ifinfomsg({ index: 3 });
    b.str(C.IFLA_IFNAME, 'abcd'); // 4 + 5 = 9 bytes -> 12 on the wire
    b.u8(C.IFLA_OPERSTATE, 6); // 5 -> 8
    const raw = b.finish(0x01020304);
    assert.equal(raw.length, 16 + 16 + 12 + 8);
    assert.equal(raw.readUInt32LE(0), raw.length);
    assert.equal(raw.readUInt32LE(8), 0x01020304);
    assert.equal(raw.readUInt16LE(32), 9, 'nla_len excludes padding');
    assert.deepEqual([...raw.subarray(32 + 9, 32 + 12)], [0, 0, 0], 'padding is zero');
    const m = parseMessages(Buffer.from(raw))[0]!;
    assert.equal(m.type, C.RTM_NEWLINK);
    assert.equal(m.flags, C.NLM_F_REQUEST | C.NLM_F_ACK);
    const a = parseAttrs(m.payload, 16);
    assert.equal(attrStr(a, C.IFLA_IFNAME), 'abcd');
    assert.equal(a.get(C.IFLA_OPERSTATE)?.readUInt8(0), 6);
  });

  it('grows its buffer for large messages', () => {
    const b = new NlBuilder(32).start(1, 0);
    for (let i = 0; i < 200; i++) b.u32(i + 1, i);
    const m = roundTrip(b);
    const list = attrList(m.payload);
    assert.equal(list.length, 200);
    assert.equal(list[199]!.data.readUInt32LE(0), 199);
  });

  it('nests attributes and computes nested lengths', () => {
    const b = new NlBuilder().start(C.RTM_NEWLINK, 0).ifinfomsg({});
    b.nest(C.IFLA_LINKINFO, (li) => {
      li.str(C.IFLA_INFO_KIND, 'vxlan');
      li.nest(C.IFLA_INFO_DATA, (d) => d.u32(1, 42).be16(15, 4789), true);
    });
    const m = roundTrip(b);
    const top = m.payload.subarray(16);
    assert.equal(top.readUInt16LE(0), top.length, 'outer nest spans the rest');
    const li = attrNested(parseAttrs(m.payload, 16), C.IFLA_LINKINFO)!;
    assert.equal(attrStr(li, C.IFLA_INFO_KIND), 'vxlan');
    const rawData = li.get(C.IFLA_INFO_DATA)!;
    const data = parseAttrs(rawData);
    assert.equal(attrU32(data, 1), 42);
    assert.equal(data.get(15)!.readUInt16BE(0), 4789);
    // The type of the nested-flagged attribute is reported without NLA_F_NESTED.
    assert.ok(li.has(C.IFLA_INFO_DATA));
  });

  it('throws on unbalanced nesting', () => {
    const b = new NlBuilder().start(1, 0).begin(1);
    assert.throws(() => b.finish(1), /unclosed/);
    assert.throws(() => new NlBuilder().start(1, 0).end(), /without begin/);
  });

  it('splits a datagram holding several aligned messages and stops at a truncated one', () => {
    const b = new NlBuilder();
    const one = Buffer.from(b.start(C.RTM_NEWADDR, C.NLM_F_MULTI).ifaddrmsg({ family: C.AF_INET }).str(C.IFA_LABEL, 'x').finish(5));
    const two = Buffer.from(b.start(C.NLMSG_DONE, C.NLM_F_MULTI).finish(5));
    const dgram = Buffer.concat([one, two, two.subarray(0, 10)]);
    const msgs = parseMessages(dgram);
    assert.deepEqual(
      msgs.map((m) => m.type),
      [C.RTM_NEWADDR, C.NLMSG_DONE],
    );
    assert.equal(attrStr(parseAttrs(msgs[0]!.payload, 8), C.IFA_LABEL), 'x');
  });
});

/** An NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK and NETLINK_EXT_ACK on. */
function errorMsg(errno: number, seq: number, extAck?: string, offs?: number): NlMsg {
  const b = new NlBuilder().start(C.NLMSG_ERROR, C.NLM_F_CAPPED | (extAck || offs ? C.NLM_F_ACK_TLVS : 0));
  const at = b.reserve(4 + 16);
  b.buf.writeInt32LE(-errno, at);
  b.buf.writeUInt32LE(16, at + 4); // echoed header only
  b.buf.writeUInt16LE(C.RTM_NEWLINK, at + 8);
  b.buf.writeUInt32LE(seq, at + 12);
  if (extAck) b.str(C.NLMSGERR_ATTR_MSG, extAck);
  if (offs !== undefined) b.u32(C.NLMSGERR_ATTR_OFFS, offs);
  return parseMessages(Buffer.from(b.finish(seq)))[0]!;
}

describe('netlink codec: errors', () => {
  it('parses errno, the seq it answers, and the extended ack', () => {
    const e = parseError(errorMsg(17, 99, 'Device already exists', 36));
    assert.deepEqual(e, { errno: 17, seq: 99, extAck: 'Device already exists', badAttrOffset: 36 });
    assert.deepEqual(parseError(errorMsg(0, 4)), { errno: 0, seq: 4 });
  });

  it('parses an uncapped error that echoes the request before the TLVs', () => {
    const b = new NlBuilder().start(C.NLMSG_ERROR, C.NLM_F_ACK_TLVS);
    const at = b.reserve(4 + 24);
    b.buf.writeInt32LE(-22, at);
    b.buf.writeUInt32LE(24, at + 4); // echoed request of 24 bytes
    b.buf.writeUInt32LE(3, at + 12);
    b.str(C.NLMSGERR_ATTR_MSG, 'Unknown device type');
    const e = parseError(parseMessages(Buffer.from(b.finish(3)))[0]!);
    assert.equal(e.errno, 22);
    assert.equal(e.extAck, 'Unknown device type');
  });

  it('formats KernelErrors with the operation, text and errno name', () => {
    const strerror = (n: number): string => (n === 17 ? 'File exists' : `Unknown error ${n}`);
    const err = netlinkError('link add veth wfv123', { errno: 17, seq: 1 }, strerror);
    assert.ok(err instanceof KernelError);
    assert.equal(err.message, 'link add veth wfv123: File exists (EEXIST)');
    assert.equal(err.errno, 17);
    assert.equal(err.op, 'link add veth wfv123');
    assert.equal(err.code, 'WEFT_KERNEL');
    const withAck = netlinkError('link add vxlan vx0', { errno: 19, seq: 1, extAck: 'Invalid local interface' }, () => 'No such device');
    assert.equal(withAck.message, 'link add vxlan vx0: No such device (ENODEV): Invalid local interface');
    assert.equal(errnoName(2), 'ENOENT');
    assert.equal(describeErrno(3), 'ESRCH');
  });
});

describe('rtnetlink messages', () => {
  it('veth: peer is a full ifinfomsg with name, MAC, MTU and namespace fd', () => {
    const b = new NlBuilder();
    buildCreateVeth(b, { name: 'wfv1', peerName: 'eth0', peerNetnsFd: 33, peerMac: '02:42:ac:11:00:02', mtu: 1400, master: 7, up: true });
    const m = roundTrip(b);
    assert.equal(m.type, C.RTM_NEWLINK);
    assert.equal(m.flags, C.NLM_F_REQUEST | C.NLM_F_ACK | C.NLM_F_CREATE | C.NLM_F_EXCL);
    assert.equal(m.payload.readUInt32LE(8) & C.IFF_UP, C.IFF_UP);
    assert.equal(m.payload.readUInt32LE(12), C.IFF_UP, 'change mask');
    const a = parseAttrs(m.payload, 16);
    assert.equal(attrStr(a, C.IFLA_IFNAME), 'wfv1');
    assert.equal(attrU32(a, C.IFLA_MASTER), 7);
    assert.equal(attrU32(a, C.IFLA_MTU), 1400);
    const data = attrNested(attrNested(a, C.IFLA_LINKINFO)!, C.IFLA_INFO_DATA)!;
    const peer = data.get(C.VETH_INFO_PEER)!;
    const pa = parseAttrs(peer, 16);
    assert.equal(attrStr(pa, C.IFLA_IFNAME), 'eth0');
    assert.equal(bytesToMac(pa.get(C.IFLA_ADDRESS)!), '02:42:ac:11:00:02');
    assert.equal(attrU32(pa, C.IFLA_NET_NS_FD), 33);
    assert.equal(attrU32(pa, C.IFLA_MTU), 1400);
  });

  it('vxlan: id, local, port in network order, learning off', () => {
    const b = new NlBuilder();
    buildCreateVxlan(b, { name: 'vx42', vni: 42, local: '192.0.2.1', dev: 2 });
    const a = parseAttrs(roundTrip(b).payload, 16);
    const d = attrNested(attrNested(a, C.IFLA_LINKINFO)!, C.IFLA_INFO_DATA)!;
    assert.equal(attrU32(d, C.IFLA_VXLAN_ID), 42);
    assert.equal(bytesToIp(d.get(C.IFLA_VXLAN_LOCAL)!), '192.0.2.1');
    assert.equal(d.get(C.IFLA_VXLAN_PORT)!.readUInt16BE(0), 4789);
    assert.equal(d.get(C.IFLA_VXLAN_LEARNING)!.readUInt8(0), 0);
    assert.equal(attrU32(d, C.IFLA_VXLAN_LINK), 2);
    assert.throws(() => buildCreateVxlan(b, { name: 'vx', vni: 1 << 24 }), InvalidArgumentError);
  });

  it('setLink: only the requested changes; master 0 detaches', () => {
    const b = new NlBuilder();
    buildSetLink(b, 9, { master: 0 });
    const m = roundTrip(b);
    assert.equal(m.type, C.RTM_SETLINK);
    assert.equal(m.payload.readInt32LE(4), 9);
    assert.equal(m.payload.readUInt32LE(12), 0, 'up state untouched');
    const a = parseAttrs(m.payload, 16);
    assert.equal(attrU32(a, C.IFLA_MASTER), 0);
    assert.equal(a.size, 1);
  });

  it('parses a link reply', () => {
    const b = new NlBuilder().start(C.RTM_NEWLINK, 0).ifinfomsg({ index: 4, flags: C.IFF_UP | C.IFF_LOWER_UP });
    b.str(C.IFLA_IFNAME, 'wfv1').u32(C.IFLA_MTU, 1500).attr(C.IFLA_ADDRESS, macToBytes('aa:bb:cc:dd:ee:0f'));
    b.u32(C.IFLA_MASTER, 3).u32(C.IFLA_LINK, 2).s32(C.IFLA_LINK_NETNSID, 0);
    b.nest(C.IFLA_LINKINFO, (n) => n.str(C.IFLA_INFO_KIND, 'veth'));
    const l = parseLink(roundTrip(b));
    assert.deepEqual(l, {
      index: 4,
      name: 'wfv1',
      flags: C.IFF_UP | C.IFF_LOWER_UP,
      up: true,
      mtu: 1500,
      mac: 'aa:bb:cc:dd:ee:0f',
      master: 3,
      kind: 'veth',
      link: 2,
      linkNetnsId: 0,
    });
  });

  it('IPv4 address gets local, address and broadcast; IPv6 nodad sets IFA_F_NODAD', () => {
    const b = new NlBuilder();
    buildAddAddress(b, 5, '10.1.2.3/22');
    let m = roundTrip(b);
    assert.equal(m.payload.readUInt8(0), C.AF_INET);
    assert.equal(m.payload.readUInt8(1), 22);
    let a = parseAttrs(m.payload, 8);
    assert.equal(bytesToIp(a.get(C.IFA_LOCAL)!), '10.1.2.3');
    assert.equal(bytesToIp(a.get(C.IFA_BROADCAST)!), '10.1.3.255');
    assert.equal(m.flags & C.NLM_F_EXCL, C.NLM_F_EXCL);
    assert.deepEqual(parseAddress(m), { index: 5, family: 4, cidr: '10.1.2.3/22', scope: 0, flags: 0 });

    buildAddAddress(b, 5, 'fd00:0:0::0a/64', { nodad: true, replace: true });
    m = roundTrip(b);
    assert.equal(m.payload.readUInt8(2), C.IFA_F_NODAD);
    assert.equal(m.flags & (C.NLM_F_REPLACE | C.NLM_F_EXCL), C.NLM_F_REPLACE);
    a = parseAttrs(m.payload, 8);
    assert.equal(attrU32(a, C.IFA_FLAGS), C.IFA_F_NODAD);
    assert.equal(a.has(C.IFA_BROADCAST), false);
    assert.equal(parseAddress(m)?.cidr, 'fd00::a/64');
    assert.throws(() => buildAddAddress(b, 5, '10.1.2.3/33'), InvalidArgumentError);
  });

  it('routes: default via gateway, link scope without gateway, delete matches any scope', () => {
    const b = new NlBuilder();
    buildAddRoute(b, { dst: '0.0.0.0/0', gateway: '10.1.0.1', oif: 4 }, true);
    let m = roundTrip(b);
    assert.equal(m.flags & C.NLM_F_REPLACE, C.NLM_F_REPLACE);
    let a = parseAttrs(m.payload, 12);
    assert.equal(a.has(C.RTA_DST), false);
    assert.equal(attrU32(a, C.RTA_TABLE), 254);
    assert.deepEqual(parseRoute(m), {
      family: 4,
      dst: '0.0.0.0/0',
      gateway: '10.1.0.1',
      oif: 4,
      table: 254,
      protocol: C.RTPROT_BOOT,
      scope: 0,
      type: 1,
    });

    buildAddRoute(b, { dst: '2001:db8::/32', oif: 4, table: 1000, metric: 10 });
    m = roundTrip(b);
    assert.equal(m.payload.readUInt8(4), 0, 'tables above 255 only in RTA_TABLE');
    assert.equal(m.payload.readUInt8(6), C.RT_SCOPE_LINK);
    a = parseAttrs(m.payload, 12);
    assert.equal(attrU32(a, C.RTA_TABLE), 1000);
    assert.equal(parseRoute(m)?.dst, '2001:db8::/32');
    assert.equal(parseRoute(m)?.metric, 10);

    buildDeleteRoute(b, { dst: '10.0.0.0/8' });
    m = roundTrip(b);
    assert.equal(m.payload.readUInt8(6), C.RT_SCOPE_NOWHERE);
    assert.throws(() => buildAddRoute(b, { dst: '0.0.0.0/0', gateway: 'fe80::1' }), InvalidArgumentError);
  });

  it('FDB entry for a vxlan device: bridge family, NTF_SELF, remote VTEP as dst', () => {
    const b = new NlBuilder();
    buildAddNeighbour(b, { index: 8, family: 7, lladdr: '00:00:00:00:00:00', dst: '192.0.2.7', flags: C.NTF.SELF }, { append: true });
    const m = roundTrip(b);
    assert.equal(m.flags & C.NLM_F_APPEND, C.NLM_F_APPEND);
    assert.deepEqual(parseNeighbour(m), {
      index: 8,
      family: 7,
      state: C.NUD.PERMANENT,
      flags: C.NTF.SELF,
      dst: '192.0.2.7',
      lladdr: '00:00:00:00:00:00',
    });
  });

  it('decodes notifications into events', () => {
    const b = new NlBuilder().start(C.RTM_DELLINK, 0).ifinfomsg({ index: 12 });
    b.str(C.IFLA_IFNAME, 'gone0');
    const ev = decodeEvent(roundTrip(b));
    assert.equal(ev?.type, 'link');
    assert.ok(ev?.type === 'link' && ev.action === 'del' && ev.name === 'gone0' && ev.index === 12);
    buildAddRoute(b, { dst: '10.0.0.0/8', oif: 1 });
    const m = roundTrip(b);
    const rev = decodeEvent({ ...m, type: C.RTM_NEWROUTE });
    assert.ok(rev?.type === 'route' && rev.action === 'new' && rev.routeType === C.RTN_UNICAST && rev.dst === '10.0.0.0/8');
    assert.equal(decodeEvent({ ...m, type: C.NLMSG_NOOP }), undefined);
  });
});

describe('addresses, names, sysctl keys, /proc/PID/stat', () => {
  it('converts addresses and MACs', () => {
    assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:0:0:0:1')), '2001:db8::1');
    assert.deepEqual(parseCidr('10.0.0.1'), { family: 4, bytes: Buffer.from([10, 0, 0, 1]), prefix: 32 });
    assert.throws(() => ipToBytes('10.1'), InvalidArgumentError, 'no short IPv4 forms');
    assert.throws(() => macToBytes('aa:bb:cc:dd:ee'), InvalidArgumentError);
    assert.equal(bytesToMac(macToBytes('AA:0B:cc:dd:ee:ff')), 'aa:0b:cc:dd:ee:ff');
  });

  it('validates interface names', () => {
    assert.equal(validateIfname('wfv0123456789ab'), 'wfv0123456789ab');
    for (const bad of ['', 'wfv0123456789abc', 'a/b', 'a b', '..', 'a:1'])
      assert.throws(() => validateIfname(bad), InvalidArgumentError, bad);
  });

  it('maps sysctl keys to /proc/sys files, interface names with dots included', () => {
    assert.equal(sysctlFile('net.ipv4.ip_forward'), '/proc/sys/net/ipv4/ip_forward');
    assert.equal(sysctlFile('net.ipv6.conf.eth0.100.disable_ipv6'), '/proc/sys/net/ipv6/conf/eth0.100/disable_ipv6');
    assert.equal(sysctlFile('net/ipv4/conf/wf-br.1/forwarding'), '/proc/sys/net/ipv4/conf/wf-br.1/forwarding');
    for (const bad of ['kernel.hostname', 'net.ipv4', 'net/../kernel/x', 'net.ipv4.conf..x'])
      assert.throws(() => sysctlFile(bad), InvalidArgumentError, bad);
  });

  it('reads field 22 of /proc/PID/stat even when comm holds spaces and parentheses', () => {
    const tail = 'S 1 2 3 0 -1 4194560 10 0 0 0 0 0 0 0 20 0 1 0 987654 100 10 18446744073709551615';
    assert.equal(parseStat(`42 (a) b) (c) ${tail}`)?.[19], '987654');
    assert.equal(parseStat(`42 (normal) ${tail}`)?.[0], 'S');
    assert.equal(parseStat('garbage'), undefined);
  });
});
