/** DNS-name rules for aliases, sandbox names and hostnames (pure). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateAlias, validateDnsName, validateHostname, validateSandboxName } from '../../src/config/dns-name.js';
import { decodePathSegment, parseRequestTarget } from '../../src/api/rest/request-target.js';
import { resolvePoolConfig } from '../../src/ipam/pool-config.js';
import { InvalidArgumentError } from '../../src/errors.js';

const refused = (fn: () => unknown, re: RegExp): void => {
  assert.throws(fn, (e: unknown) => e instanceof InvalidArgumentError && re.test(e.message));
};

describe('DNS names', () => {
  it('accepts labels up to 63 characters and dotted names', () => {
    assert.equal(validateDnsName('alias', 'a'.repeat(63)), 'a'.repeat(63));
    assert.equal(validateDnsName('alias', 'www.example_1.test'), 'www.example_1.test');
    assert.equal(validateAlias('alias', 'db'), 'db');
    assert.equal(validateSandboxName('name', 'sb-0123456789ab'), 'sb-0123456789ab');
    assert.equal(validateHostname('hostname', 'web-1.example'), 'web-1.example');
  });
  it('refuses a label over 63 characters, empty labels, bad hyphens and characters', () => {
    refused(() => validateAlias('aliases[0]', 'a'.repeat(64)), /aliases\[0\].*at most 63/);
    refused(() => validateDnsName('alias', 'a..b'), /empty label/);
    refused(() => validateDnsName('alias', 'a.'), /empty label/);
    refused(() => validateDnsName('alias', '-a'), /must not start or end/);
    refused(() => validateDnsName('alias', 'a b'), /may only contain/);
    refused(() => validateSandboxName('name', 'x'.repeat(64)), /at most 63/);
  });
  it('bounds a hostname by the kernel limit (64) and a name by 253', () => {
    refused(() => validateHostname('hostname', `${'a'.repeat(40)}.${'b'.repeat(30)}`), /at most 64/);
    refused(() => validateDnsName('alias', Array.from({ length: 5 }, () => 'a'.repeat(60)).join('.')), /at most 253/);
  });
});

describe('request targets', () => {
  it('turns malformed percent-encoding and control characters into 400-class errors', () => {
    refused(() => decodePathSegment('%ZZ'), /malformed percent-encoding/);
    refused(() => decodePathSegment('%E0%A4%A'), /malformed percent-encoding/);
    refused(() => decodePathSegment('a%00b'), /control characters/);
    assert.equal(decodePathSegment('my%20net'), 'my net');
    assert.equal(parseRequestTarget('/v1/networks?x=1').pathname, '/v1/networks');
  });
});

describe('CIDRs with host bits', () => {
  it('refuses a subnet or ip-range with host bits, suggesting the network address', () => {
    refused(() => resolvePoolConfig({ subnet: '10.20.0.5/24' }), /host bits set \(did you mean 10\.20\.0\.0\/24\?\)/);
    refused(() => resolvePoolConfig({ subnet: '10.20.0.0/24', ipRange: '10.20.0.5/25' }), /ip-range.*host bits/);
    assert.equal(resolvePoolConfig({ subnet: '10.20.0.0/24' }).gateway, '10.20.0.1');
  });
});
