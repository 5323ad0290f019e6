import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bindingsToMappings, parsePortSpec } from '../../src/firewall/port-spec.js';
import { InvalidArgumentError } from '../../src/errors.js';

describe('parsePortSpec', () => {
  const good: Array<[string, ReturnType<typeof parsePortSpec>]> = [
    ['80', [{ protocol: 'tcp', hostPort: 0, containerPort: 80 }]],
    ['80/udp', [{ protocol: 'udp', hostPort: 0, containerPort: 80 }]],
    ['80/SCTP', [{ protocol: 'sctp', hostPort: 0, containerPort: 80 }]],
    ['8080:80', [{ protocol: 'tcp', hostPort: 8080, containerPort: 80 }]],
    ['8080:80/udp', [{ protocol: 'udp', hostPort: 8080, containerPort: 80 }]],
    ['127.0.0.1:8080:80', [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80 }]],
    ['127.0.0.1::80', [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 0, containerPort: 80 }]],
    ['[::1]:8080:80', [{ protocol: 'tcp', hostIp: '::1', hostPort: 8080, containerPort: 80 }]],
    ['[FD00:0::1]::80/udp', [{ protocol: 'udp', hostIp: 'fd00::1', hostPort: 0, containerPort: 80 }]],
    ['::1:8080:80', [{ protocol: 'tcp', hostIp: '::1', hostPort: 8080, containerPort: 80 }]],
    ['1:1', [{ protocol: 'tcp', hostPort: 1, containerPort: 1 }]],
    ['65535:65535', [{ protocol: 'tcp', hostPort: 65535, containerPort: 65535 }]],
    [
      '9000-9001:80-81',
      [
        { protocol: 'tcp', hostPort: 9000, containerPort: 80 },
        { protocol: 'tcp', hostPort: 9001, containerPort: 81 },
      ],
    ],
    [
      '80-81',
      [
        { protocol: 'tcp', hostPort: 0, containerPort: 80 },
        { protocol: 'tcp', hostPort: 0, containerPort: 81 },
      ],
    ],
    // Docker: a host range for one container port means "any free port of the range".
    ['8000-8010:80', [{ protocol: 'tcp', hostPort: 8000, hostPortEnd: 8010, containerPort: 80 }]],
  ];
  for (const [spec, want] of good) {
    it(`parses ${spec}`, () => assert.deepEqual(parsePortSpec(spec), want));
  }

  const bad: Array<[string, RegExp]> = [
    ['', /empty/],
    ['0', /out of range/],
    ['65536', /out of range/],
    ['8080:0', /out of range/],
    ['0:80', /out of range/],
    ['65536:80', /out of range/],
    ['abc', /invalid container port/],
    ['8080:', /missing container port/],
    ['8080:abc', /invalid container port/],
    ['x:80', /invalid host port/],
    ['80/icmp', /unknown protocol/],
    ['80/', /unknown protocol/],
    ['81-80', /reversed/],
    ['8081-8080:80', /reversed/],
    ['8080-8081:80-82', /differ in length/],
    ['8080:80-81', /differ in length/],
    ['1.2.3:8080:80', /invalid host IP/],
    ['[::1:8080:80', /\[IPv6\]/],
    ['[::1]8080:80', /\[IPv6\]/],
    ['[fe80::1%eth0]:8080:80', /invalid host IP/],
    ['-1:80', /invalid host port/],
    ['123456:80', /invalid host port/],
  ];
  for (const [spec, msg] of bad) {
    it(`rejects ${JSON.stringify(spec)} naming the field`, () => {
      assert.throws(
        () => parsePortSpec(spec, 'publish'),
        (err: unknown) =>
          err instanceof InvalidArgumentError && err.field === 'publish' && err.message.startsWith('publish: ') && msg.test(err.message),
      );
    });
  }

  it('uses the given field name', () => {
    assert.throws(
      () => parsePortSpec('0', 'ports[2]'),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'ports[2]',
    );
  });

  it('turns bindings into mappings only once host ports are chosen', () => {
    assert.deepEqual(bindingsToMappings(parsePortSpec('[::1]:8080:80/udp'), 'n1', 'fd00::2'), [
      { networkId: 'n1', protocol: 'udp', hostIp: '::1', hostPort: 8080, containerIp: 'fd00::2', containerPort: 80 },
    ]);
    assert.throws(() => bindingsToMappings(parsePortSpec('80'), 'n1', '10.0.0.2'), InvalidArgumentError);
    assert.throws(() => bindingsToMappings(parsePortSpec('8000-8010:80'), 'n1', '10.0.0.2'), InvalidArgumentError);
  });
});
