/** Host sockets from /proc text, and which published ports would divert them (pure). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { hexToAddress, parseProcNet, parseSctpEps } from '../../src/kernel/port-owners.js';
import { hostSocketFor, socketCovered, type HostSocket } from '../../src/firewall/host-listeners.js';

const TCP = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0000000000000000 100 0 0 10 0
   1: 0100007F:23E7 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
   2: 0100007F:9C40 0100007F:2382 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0000000000000000 20 4 30 10 -1
`;
const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:24B9 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4444 1 0000000000000000 100 0 0 10 0
   1: 00000000000000000000000001000000:251E 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 5555 1 0000000000000000 100 0 0 10 0
   2: 0000000000000000FFFF00000100007F:251F 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 6666 1 0000000000000000 100 0 0 10 0
`;
const UDP = `   sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode ref pointer drops
  1: 00000000:14E9 00000000:0000 07 00000000:00000000 00:00000000 00000000     0        0 7777 2 0000000000000000 0
  2: 0100007F:A000 0100007F:0035 01 00000000:00000000 00:00000000 00000000     0        0 8888 2 0000000000000000 0
`;
const SCTP = ` ENDPT     SOCK   STY SST HBKT LPORT   UID INODE LADDRS
ffff8880 ffff8881 2   10  29   9999      0 12345 10.0.0.1 192.168.1.5
ffff8882 ffff8883 1   10  30   3868      0 12346 ::1
`;

describe('/proc/net parsing', () => {
  it('decodes little-endian hex addresses of both families', () => {
    assert.equal(hexToAddress('0100007F'), '127.0.0.1');
    assert.equal(hexToAddress('00000000'), '0.0.0.0');
    assert.equal(hexToAddress('00000000000000000000000000000000'), '::');
    assert.equal(hexToAddress('00000000000000000000000001000000'), '::1');
    assert.equal(hexToAddress('0000000000000000FFFF00000100007F'), '::ffff:127.0.0.1');
    assert.equal(hexToAddress('B80D0120000000000000000001000000'), '2001:db8::1');
  });
  it('keeps listening TCP and unconnected UDP sockets only', () => {
    assert.deepEqual(parseProcNet(TCP, 'tcp', 4), [
      { protocol: 'tcp', family: 4, address: '0.0.0.0', port: 9090, inode: 1111 },
      { protocol: 'tcp', family: 4, address: '127.0.0.1', port: 9191, inode: 2222 },
    ]);
    assert.deepEqual(
      parseProcNet(TCP6, 'tcp', 6).map((s) => `${s.address}:${s.port}`),
      [':::9401', '::1:9502', '::ffff:127.0.0.1:9503'],
    );
    assert.deepEqual(parseProcNet(UDP, 'udp', 4), [{ protocol: 'udp', family: 4, address: '0.0.0.0', port: 5353, inode: 7777 }]);
  });
  it('reads every local address of an SCTP endpoint', () => {
    assert.deepEqual(
      parseSctpEps(SCTP).map((s) => `${s.protocol} ${s.family} ${s.address} ${s.port} ${s.inode}`),
      ['sctp 4 10.0.0.1 9999 12345', 'sctp 4 192.168.1.5 9999 12345', 'sctp 6 ::1 3868 12346'],
    );
  });
});

describe('which mappings divert a host socket', () => {
  const s = (protocol: HostSocket['protocol'], address: string, port: number): HostSocket => ({
    protocol,
    family: address.includes(':') ? 6 : 4,
    address,
    port,
    inode: 1,
  });
  it('every-address publishing covers any socket on the port', () => {
    assert.ok(socketCovered(s('tcp', '127.0.0.1', 80), { protocol: 'tcp', hostPort: 80 }));
    assert.ok(socketCovered(s('tcp', '::1', 80), { protocol: 'tcp', hostPort: 80 }));
    assert.ok(!socketCovered(s('udp', '0.0.0.0', 80), { protocol: 'tcp', hostPort: 80 }), 'another protocol');
    assert.ok(!socketCovered(s('tcp', '0.0.0.0', 81), { protocol: 'tcp', hostPort: 80 }), 'another port');
  });
  it('a specific IPv4 host address is covered by its own socket, v4 and dual-stack wildcards, and v4-mapped', () => {
    const want = { protocol: 'tcp', hostIp: '10.0.0.5', hostPort: 80 };
    assert.ok(socketCovered(s('tcp', '10.0.0.5', 80), want));
    assert.ok(socketCovered(s('tcp', '0.0.0.0', 80), want));
    assert.ok(socketCovered(s('tcp', '::', 80), want));
    assert.ok(socketCovered(s('tcp', '::ffff:10.0.0.5', 80), want));
    assert.ok(!socketCovered(s('tcp', '10.0.0.6', 80), want));
    assert.ok(!socketCovered(s('tcp', '::1', 80), want));
  });
  it('IPv6 host addresses, and the 0.0.0.0 / :: wildcards as host IPs', () => {
    assert.ok(socketCovered(s('tcp', '::', 80), { protocol: 'tcp', hostIp: '2001:db8::1', hostPort: 80 }));
    assert.ok(!socketCovered(s('tcp', '0.0.0.0', 80), { protocol: 'tcp', hostIp: '2001:db8::1', hostPort: 80 }));
    assert.ok(socketCovered(s('tcp', '127.0.0.1', 80), { protocol: 'tcp', hostIp: '0.0.0.0', hostPort: 80 }));
    assert.ok(socketCovered(s('sctp', '::1', 80), { protocol: 'sctp', hostIp: '::', hostPort: 80 }));
    assert.equal(hostSocketFor([s('tcp', '10.0.0.6', 80)], { protocol: 'tcp', hostIp: '10.0.0.5', hostPort: 80 }), undefined);
  });
});
