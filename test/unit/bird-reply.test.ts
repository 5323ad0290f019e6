/**
 * Decoding BIRD control-socket replies. The samples were captured from BIRD 2.0.12 on this
 * machine (two namespaces, an iBGP session over IPv4 and one over IPv6; a route reflector),
 * so the decoders are tested against what the real daemon sends; the one sample shaped by
 * hand says so.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { BirdReplyReader, parseBirdReply, parseProtocols, parseRoutes, parseStatus } from '../../src/kernel/bird-reply.js';

const PROTOCOLS =
  '2002-Name       Proto      Table      State  Since         Info\n1002-device1    Device     ---        up     03:08:59.711  \n weft_direct Direct     ---        up     03:08:59.711  \n weft_kernel4 Kernel     master4    up     03:08:59.711  \n weft_kernel6 Kernel     master6    up     03:08:59.711  \n weft_blocks4 Static     master4    up     03:08:59.711  \n weft_blocks6 Static     master6    up     03:08:59.711  \n weft_addrs4 Static     master4    up     03:08:59.711  \n mesh4_x    BGP        ---        up     03:09:00.529  Established   \n mesh6_x    BGP        ---        start  03:09:16.639  Active        Socket: Connection refused\n0000 \n';

const PROTOCOL_ALL =
  '2002-Name       Proto      Table      State  Since         Info\n1002-mesh4_x    BGP        ---        up     03:09:00.529  Established   \n1006-  Description:    host-2\n   BGP state:          Established\n     Neighbor address: 198.18.250.2\n     Neighbor AS:      64512\n     Local AS:         64512\n     Neighbor ID:      198.18.250.2\n     Local capabilities\n       Multiprotocol\n         AF announced: ipv4\n       Route refresh\n       Graceful restart\n       4-octet AS numbers\n       Enhanced refresh\n       Long-lived graceful restart\n     Neighbor capabilities\n       Multiprotocol\n         AF announced: ipv4\n       Route refresh\n       Graceful restart\n       4-octet AS numbers\n       Enhanced refresh\n       Long-lived graceful restart\n     Session:          internal multihop AS4\n     Source address:   198.18.250.1\n     Hold timer:       181.079/240\n     Keepalive timer:  55.490/80\n   Channel ipv4\n     State:          UP\n     Table:          master4\n     Preference:     100\n     Input filter:   (unnamed)\n     Output filter:  (unnamed)\n     Routes:         2 imported, 2 exported, 2 preferred\n     Route change stats:     received   rejected   filtered    ignored   accepted\n       Import updates:              2          0          0          0          2\n       Import withdraws:            0          0        ---          0          0\n       Export updates:              5          2          1        ---          2\n       Export withdraws:            0        ---        ---        ---          0\n     BGP Next hop:   198.18.250.1\n     IGP IPv4 table: master4\n \n0000 \n';

const PROTOCOL_DOWN =
  '2002-Name       Proto      Table      State  Since         Info\n1002-mesh4_x    BGP        ---        start  03:09:16.639  Active        Socket: Connection refused\n1006-  Description:    host-2\n   BGP state:          Active\n     Neighbor address: 198.18.250.2\n     Neighbor AS:      64512\n     Local AS:         64512\n     Connect delay:    0.630/1\n     Last error:       Socket: Connection refused\n   Channel ipv4\n     State:          DOWN\n     Table:          master4\n     Preference:     100\n     Input filter:   (unnamed)\n     Output filter:  (unnamed)\n     IGP IPv4 table: master4\n \n0000 \n';

const ROUTES =
  '1007-Table master4:\n 10.244.1.0/26        blackhole [weft_blocks4 03:08:59.710] * (200)\n 10.244.2.0/26        unicast [mesh4_x 03:09:00.550] * (100) [i]\n \tvia 198.18.250.2 on bgpxa\n 10.244.1.5/32        unicast [mesh4_x 03:09:00.550] * (100) [i]\n \tvia 198.18.250.2 on bgpxa\n 10.244.2.5/32        blackhole [weft_addrs4 03:08:59.710] * (200)\n 198.18.250.0/24      unicast [weft_direct 03:08:59.738] * (240)\n \tdev bgpxa\n \n Table master6:\n fd00:244:1::/122     blackhole [weft_blocks6 03:08:59.710] * (200)\n 2001:db8:250::/64    unicast [weft_direct 03:08:59.738] * (240)\n \tdev bgpxa\n0000 \n';

const ROUTES_ALL =
  '1007-Table master4:\n 10.244.1.0/26        blackhole [weft_blocks4 03:08:59.710] * (200)\n1008-\tType: static univ\n1007-10.244.2.0/26        unicast [mesh4_x 03:09:00.550] * (100) [i]\n \tvia 198.18.250.2 on bgpxa\n1008-\tType: BGP univ\n1012-\tBGP.origin: IGP\n \tBGP.as_path: \n \tBGP.next_hop: 198.18.250.2\n \tBGP.local_pref: 100\n1007-198.18.250.0/24      unicast [weft_direct 03:08:59.738] * (240)\n \tdev bgpxa\n1008-\tType: device univ\n0000 \n';

describe('BIRD control replies', () => {
  it('frames replies across arbitrary chunk boundaries', () => {
    const r = new BirdReplyReader();
    const text = '0001 BIRD 2.0.12 ready.\n' + PROTOCOLS;
    const got = [];
    for (let i = 0; i < text.length; i += 7) got.push(...r.push(text.slice(i, i + 7)));
    assert.equal(got.length, 2);
    assert.equal(got[0]!.code, 1);
    assert.equal(got[0]!.text, 'BIRD 2.0.12 ready.');
    assert.equal(got[1]!.code, 0);
    assert.equal(got[1]!.lines.filter((l) => l.code === 1002).length, 9, 'continuation lines inherit the code');
  });

  it('refuses a line that fits no form', () => {
    assert.throws(() => new BirdReplyReader().push('garbage\n'), /unexpected line/);
  });

  it('decodes the protocol table, with the BGP state and last error from the info column', () => {
    const ps = parseProtocols(parseBirdReply(PROTOCOLS));
    assert.deepEqual(
      ps.map((p) => [p.name, p.proto, p.table, p.state]),
      [
        ['device1', 'Device', '---', 'up'],
        ['weft_direct', 'Direct', '---', 'up'],
        ['weft_kernel4', 'Kernel', 'master4', 'up'],
        ['weft_kernel6', 'Kernel', 'master6', 'up'],
        ['weft_blocks4', 'Static', 'master4', 'up'],
        ['weft_blocks6', 'Static', 'master6', 'up'],
        ['weft_addrs4', 'Static', 'master4', 'up'],
        ['mesh4_x', 'BGP', '---', 'up'],
        ['mesh6_x', 'BGP', '---', 'start'],
      ],
    );
    assert.deepEqual(ps[7]!.bgp, { state: 'Established' });
    assert.deepEqual(ps[8]!.bgp, { state: 'Active', lastError: 'Socket: Connection refused' });
    assert.equal(ps[8]!.since, '03:09:16.639');
  });

  it('decodes protocol details: neighbor, AS numbers, description, channel route counts', () => {
    const [p] = parseProtocols(parseBirdReply(PROTOCOL_ALL));
    assert.ok(p);
    assert.equal(p.description, 'host-2');
    assert.deepEqual(p.bgp, {
      state: 'Established',
      neighborAddress: '198.18.250.2',
      neighborAs: 64512,
      localAs: 64512,
      neighborId: '198.18.250.2',
      session: 'internal multihop AS4',
      sourceAddress: '198.18.250.1',
      holdTimer: '181.079/240',
      keepaliveTimer: '55.490/80',
    });
    assert.deepEqual(p.channels, [{ name: 'ipv4', state: 'UP', table: 'master4', imported: 2, exported: 2, preferred: 2 }]);
    const [down] = parseProtocols(parseBirdReply(PROTOCOL_DOWN));
    assert.equal(down!.bgp!.state, 'Active');
    assert.equal(down!.bgp!.lastError, 'Socket: Connection refused');
    assert.deepEqual(down!.channels, [{ name: 'ipv4', state: 'DOWN', table: 'master4' }]);
  });

  it('decodes routes of both tables with kind, protocol, preference and next hops', () => {
    const rs = parseRoutes(parseBirdReply(ROUTES));
    assert.deepEqual(
      rs.map((r) => [r.table, r.net, r.kind, r.protocol, r.primary, r.preference, r.origin ?? '', r.nextHops]),
      [
        ['master4', '10.244.1.0/26', 'blackhole', 'weft_blocks4', true, 200, '', []],
        ['master4', '10.244.2.0/26', 'unicast', 'mesh4_x', true, 100, 'i', [{ via: '198.18.250.2', dev: 'bgpxa' }]],
        ['master4', '10.244.1.5/32', 'unicast', 'mesh4_x', true, 100, 'i', [{ via: '198.18.250.2', dev: 'bgpxa' }]],
        ['master4', '10.244.2.5/32', 'blackhole', 'weft_addrs4', true, 200, '', []],
        ['master4', '198.18.250.0/24', 'unicast', 'weft_direct', true, 240, '', [{ dev: 'bgpxa' }]],
        ['master6', 'fd00:244:1::/122', 'blackhole', 'weft_blocks6', true, 200, '', []],
        ['master6', '2001:db8:250::/64', 'unicast', 'weft_direct', true, 240, '', [{ dev: 'bgpxa' }]],
      ],
    );
  });

  it('decodes route attributes of `show route all`', () => {
    const rs = parseRoutes(parseBirdReply(ROUTES_ALL));
    assert.equal(rs.length, 3);
    assert.deepEqual(rs[1]!.attributes, {
      Type: 'BGP univ',
      'BGP.origin': 'IGP',
      'BGP.as_path': '',
      'BGP.next_hop': '198.18.250.2',
      'BGP.local_pref': '100',
    });
    assert.equal(rs[2]!.attributes.Type, 'device univ');
  });

  it('decodes a reflected route: "from" the reflector, next hop the originating host', () => {
    // Captured in 420-bgp-reflector (as decoded lines) and framed back into wire form.
    const text =
      '1007-Table master4:\n 10.43.3.0/26         unicast [host4_198_18_43_1 03:40:51.228 from 198.18.43.1] * (100) [i]\n \tvia 198.18.43.3 on eth0\n1008-\tType: BGP univ\n1012-\tBGP.origin: IGP\n \tBGP.as_path: \n \tBGP.next_hop: 198.18.43.3\n \tBGP.local_pref: 100\n \tBGP.originator_id: 198.18.43.3\n \tBGP.cluster_list: 0.0.0.1\n0000 \n';
    const [r] = parseRoutes(parseBirdReply(text));
    assert.ok(r);
    assert.deepEqual(
      [r.net, r.protocol, r.since, r.from, r.origin, r.primary],
      ['10.43.3.0/26', 'host4_198_18_43_1', '03:40:51.228', '198.18.43.1', 'i', true],
    );
    assert.deepEqual(r.nextHops, [{ via: '198.18.43.3', dev: 'eth0' }]);
    assert.equal(r.attributes['BGP.cluster_list'], '0.0.0.1');
  });

  it('decodes a second candidate route for the same net (continuation without a prefix)', () => {
    // Shaped by hand after BIRD's layout (no capture of two candidates was taken here).
    const text =
      '1007-Table master4:\n 10.244.3.0/26        unicast [ext_b 03:10:00.100] * (100) [AS64513i]\n \tvia 198.18.0.3 on eth0\n                      unicast [ext_a 03:10:01.000] (100) [AS65000i]\n \tvia 198.18.0.1 on eth0\n0000 \n';
    const rs = parseRoutes(parseBirdReply(text));
    assert.equal(rs.length, 2);
    assert.deepEqual([rs[0]!.net, rs[0]!.origin, rs[0]!.primary], ['10.244.3.0/26', 'AS64513i', true]);
    assert.deepEqual(
      [rs[1]!.net, rs[1]!.protocol, rs[1]!.primary, rs[1]!.nextHops],
      ['10.244.3.0/26', 'ext_a', false, [{ via: '198.18.0.1', dev: 'eth0' }]],
    );
  });

  it('decodes status, configure results and errors', () => {
    const st = parseStatus(
      parseBirdReply(
        '1000-BIRD 2.0.12\n1011-Router ID is 198.18.0.1\n Hostname is vm\n Current server time is 2026-12-02 03:01:06.239\n Last reboot on 2026-12-02 03:01:03.767\n Last reconfiguration on 2026-12-02 03:01:03.767\n0013 Daemon is up and running\n',
      ),
    );
    assert.deepEqual(st, {
      state: 'Daemon is up and running',
      version: '2.0.12',
      routerId: '198.18.0.1',
      lastReconfiguration: '2026-12-02 03:01:03.767',
    });
    const ok = parseBirdReply('0002-Reading configuration from /tmp/bgpx/a.conf\n0003 Reconfigured\n');
    assert.equal(ok.code, 3);
    const bad = parseBirdReply(
      "0002-Reading configuration from /tmp/bgpx/b.conf\n8002 /tmp/bgpx/b.conf:1:12 syntax error, unexpected '.', expecting ';'\n",
    );
    assert.equal(bad.code, 8002);
    assert.equal(bad.text, "/tmp/bgpx/b.conf:1:12 syntax error, unexpected '.', expecting ';'");
    assert.equal(parseBirdReply('9001 syntax error, unexpected CF_SYM_UNDEFINED\n').code, 9001);
  });
});
