import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isLoopback, loopbackOnly, parseResolvConf, parseUpstream, planUpstreams, upstreamKey } from '../../src/dns/upstreams.js';
import { InvalidArgumentError } from '../../src/errors.js';

const RESOLVED_STUB = `# This is /run/systemd/resolve/stub-resolv.conf managed by man:systemd-resolved(8).
nameserver 127.0.0.53
options edns0 trust-ad
search corp.example
`;

describe('resolv.conf parsing', () => {
  it('reads nameservers, the last search line and all options, ignoring comments', () => {
    const c = parseResolvConf(
      '; hi\nnameserver 192.0.2.1 # main\nnameserver 2001:db8::53\nsearch a.example\nsearch b.example c.example\noptions ndots:2\noptions rotate\nnameserver not-an-ip\n',
    );
    assert.deepEqual(c, { nameservers: ['192.0.2.1', '2001:db8::53'], search: ['b.example', 'c.example'], options: ['ndots:2', 'rotate'] });
  });

  it('treats domain as a one-entry search list', () => {
    assert.deepEqual(parseResolvConf('domain lan\n').search, ['lan']);
  });

  it('detects a host that only lists loopback stubs', () => {
    assert.equal(loopbackOnly(parseResolvConf(RESOLVED_STUB)), true);
    assert.equal(loopbackOnly(parseResolvConf('nameserver 127.0.0.1\nnameserver ::1\n')), true);
    assert.equal(loopbackOnly(parseResolvConf('nameserver 127.0.0.53\nnameserver 192.0.2.1\n')), false);
    assert.equal(loopbackOnly(parseResolvConf('')), false);
    assert.equal(isLoopback('127.0.0.53'), true);
    assert.equal(isLoopback('::ffff:127.0.0.1'), true);
    assert.equal(isLoopback('10.0.0.1'), false);
  });
});

describe('upstream selection', () => {
  it('forwards to a loopback stub from the daemon (it is reachable there)', () => {
    const p = planUpstreams({ resolvConf: RESOLVED_STUB });
    assert.equal(p.source, 'resolv.conf');
    assert.equal(p.loopbackOnly, true);
    assert.deepEqual(p.upstreams, [{ address: '127.0.0.53', port: 53, family: 4 }]);
  });

  it('prefers explicit --dns-upstream servers', () => {
    const p = planUpstreams({ explicit: ['192.0.2.53:5353', '[2001:db8::1]:53', '2001:db8::2'], resolvConf: RESOLVED_STUB });
    assert.equal(p.source, 'explicit');
    assert.deepEqual(p.upstreams.map(upstreamKey), ['192.0.2.53:5353', '[2001:db8::1]:53', '[2001:db8::2]:53']);
  });

  it('has no upstreams when nothing is configured', () => {
    assert.deepEqual(planUpstreams({ resolvConf: '' }), { upstreams: [], source: 'none', loopbackOnly: false });
  });

  it('rejects malformed upstreams', () => {
    assert.throws(() => parseUpstream('dns.example'), InvalidArgumentError);
    assert.throws(() => parseUpstream('192.0.2.1:0'), /out of range/);
    assert.throws(() => parseUpstream('[2001:db8::1]:70000'), /out of range/);
  });
});
