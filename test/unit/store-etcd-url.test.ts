import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { WeftError } from '../../src/errors.js';

describe('parseEtcdUrl', () => {
  const ok: [string, string[], boolean][] = [
    ['etcd://10.0.0.1:2379', ['http://10.0.0.1:2379'], false],
    ['etcd://10.0.0.1', ['http://10.0.0.1:2379'], false],
    ['etcd://10.0.0.1:2379,10.0.0.2:22379', ['http://10.0.0.1:2379', 'http://10.0.0.2:22379'], false],
    ['etcds://[fd00::1]:2379', ['https://[fd00::1]:2379'], true],
    ['ETCD://etcd-1.example.net:2379', ['http://etcd-1.example.net:2379'], false],
    ['etcd+unix:///run/etcd/etcd.sock:0', ['unix:///run/etcd/etcd.sock:0'], false],
  ];
  for (const [url, hosts, tls] of ok) {
    it(`parses ${url}`, () => {
      const t = parseEtcdUrl(url);
      assert.deepEqual(t.hosts, hosts);
      assert.equal(t.tls, tls);
    });
  }
  it('TLS files turn a plain URL into https targets', () => {
    assert.deepEqual(parseEtcdUrl('etcd://10.0.0.1:2379', true).hosts, ['https://10.0.0.1:2379']);
  });
  const bad: [string, RegExp][] = [
    ['http://10.0.0.1:2379', /not an etcd URL/],
    ['etcd://', /host name/],
    ['etcd://10.0.0.1:70000', /port "70000"/],
    ['etcd://10.0.0.1:2379/v3', /no path/],
    ['etcd://user:pw@10.0.0.1', /no path or credentials/],
    ['etcd://fe80::1', /brackets/],
    ['etcd://[10.0.0.1]:2379', /not an IPv6 address/],
    ['etcd://999.1.1.1:2379', /neither an IP address nor a host name/],
    ['etcd://10.0.0.1:2379,10.0.0.1:2379', /twice/],
    ['etcd+unix://relative.sock', /absolute socket path/],
  ];
  for (const [url, re] of bad) {
    it(`refuses ${url}`, () => {
      assert.throws(
        () => parseEtcdUrl(url),
        (e: unknown) => e instanceof WeftError && e.code === 'WEFT_INVALID_ARGUMENT' && e.field === 'cluster-store' && re.test(e.message),
      );
    });
  }
});
