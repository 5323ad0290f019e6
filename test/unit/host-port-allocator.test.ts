/** The one host-port allocator: fixed ports, ranges, "any", and host addresses that overlap or not. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EPHEMERAL_FIRST, EPHEMERAL_LAST, allocateHostPorts, claimsOverlap } from '../../src/firewall/host-port-allocator.js';
import { WeftError } from '../../src/errors.js';

const conflict = (field: string, text: RegExp) => (err: unknown) =>
  err instanceof WeftError && err.code === 'WEFT_CONFLICT' && err.field === field && text.test(err.message);

describe('host port allocator', () => {
  it('host addresses: unspecified overlaps everything, two specific ones only themselves', () => {
    const any = { protocol: 'tcp', hostPort: 80 };
    const lo = { protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 80 };
    const other = { protocol: 'tcp', hostIp: '10.0.0.1', hostPort: 80 };
    assert.ok(claimsOverlap(any, lo));
    assert.ok(claimsOverlap(lo, any));
    assert.ok(!claimsOverlap(lo, other));
    assert.ok(!claimsOverlap(lo, { ...lo, protocol: 'udp' }));
    assert.ok(!claimsOverlap(lo, { ...lo, hostPort: 81 }));
  });

  it('a fixed port: granted when free on that address, refused naming the clash otherwise', () => {
    const taken = [{ protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 }];
    assert.deepEqual(allocateHostPorts([{ protocol: 'tcp', hostIp: '10.0.0.1', hostPort: 8080 }], taken), [8080]);
    assert.throws(
      () => allocateHostPorts([{ protocol: 'tcp', hostPort: 8080 }], taken),
      conflict('publish', /host port 8080\/tcp is already published \(as 127\.0\.0\.1:8080\/tcp\)/),
    );
    assert.throws(
      () =>
        allocateHostPorts(
          [
            { protocol: 'tcp', hostPort: 9000 },
            { protocol: 'tcp', hostPort: 9000 },
          ],
          [],
          'HostPort',
        ),
      conflict('HostPort', /9000/),
    );
  });

  it('a range takes its first free port; an exhausted range is refused', () => {
    const taken = [8000, 8001].map((p) => ({ protocol: 'udp', hostPort: p }));
    assert.deepEqual(allocateHostPorts([{ protocol: 'udp', hostPort: 8000, hostPortEnd: 8003 }], taken), [8002]);
    assert.throws(
      () => allocateHostPorts([{ protocol: 'udp', hostPort: 8000, hostPortEnd: 8001 }], taken),
      conflict('publish', /no free host port in 8000-8001\/udp/),
    );
  });

  it('"any" picks from the ephemeral range, from a random point, skipping what is taken', () => {
    const [p] = allocateHostPorts([{ protocol: 'tcp', hostPort: 0 }], [{ protocol: 'tcp', hostPort: EPHEMERAL_FIRST }], 'publish', () => 0);
    assert.equal(p, EPHEMERAL_FIRST + 1);
    const [q] = allocateHostPorts([{ protocol: 'tcp', hostPort: 0 }], [], 'publish', () => 0.999999);
    assert.equal(q, EPHEMERAL_LAST);
  });
});
