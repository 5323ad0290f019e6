/** Parsing a CNI invocation: the spec's error code for each kind of mistake, in libcni's order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest, parseCniArgs, type NetConf } from '../../src/api/cni/cni-request.js';
import { CniError, toCniError } from '../../src/api/cni/cni-errors.js';
import { AddressInUseError, InvalidArgumentError, NotFoundError, StoreConflictError } from '../../src/errors.js';
import { publishSpecsOf, sandboxNameOf } from '../../src/api/cni/cni-identity.js';
import { validateSandboxName } from '../../src/config/dns-name.js';
import { networkBodyOf } from '../../src/api/cni/cni-network.js';
import { resultOf } from '../../src/api/cni/cni-weft-plugin.js';
import type { Controller } from '../../src/controller/controller.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../src/model/types.js';

const env = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/run/netns/c1', CNI_IFNAME: 'eth0', CNI_PATH: '/opt/cni/bin' };
const conf = JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'weft' });
const code = (f: () => unknown): number => {
  try {
    f();
  } catch (e) {
    return (e as CniError).code;
  }
  return 0;
};

describe('cni request parsing', () => {
  it('accepts a valid ADD', () => {
    const r = parseRequest(env, conf);
    assert.equal(r.command, 'ADD');
    assert.equal(r.conf.name, 'n');
  });
  it('gives each mistake its spec code', () => {
    const table: [string, Record<string, string | undefined>, string, number][] = [
      ['no command', { ...env, CNI_COMMAND: undefined }, conf, 4],
      ['unknown command', { ...env, CNI_COMMAND: 'FROB' }, conf, 4],
      ['bad json', env, '{', 6],
      ['array', env, '[]', 6],
      ['unsupported version', env, JSON.stringify({ cniVersion: '0.2.0', name: 'n', type: 'weft' }), 1],
      ['no netns on ADD', { ...env, CNI_NETNS: undefined }, conf, 4],
      ['bad ifname', { ...env, CNI_IFNAME: 'a b' }, conf, 4],
      ['dot ifname', { ...env, CNI_IFNAME: '..' }, conf, 4],
      ['bad CNI_ARGS', { ...env, CNI_ARGS: 'novalue' }, conf, 4],
      ['bad field type', env, JSON.stringify({ cniVersion: '1.0.0', name: 'n', type: 'weft', ipMasq: 'yes' }), 7],
      ['bad name', env, JSON.stringify({ cniVersion: '1.0.0', name: '-n', type: 'weft' }), 7],
    ];
    for (const [what, e, stdin, want] of table)
      assert.equal(
        code(() => parseRequest(e, stdin)),
        want,
        what,
      );
    assert.equal(
      code(() => parseRequest({ CNI_COMMAND: 'DEL', CNI_CONTAINERID: 'c', CNI_IFNAME: 'eth0', CNI_PATH: '/x' }, conf)),
      0,
      'DEL needs no netns',
    );
  });
  it('parses CNI_ARGS', () => {
    assert.deepEqual(parseCniArgs('IgnoreUnknown=1;IP=10.0.0.5;K8S_POD_NAME=a=b'), {
      IgnoreUnknown: '1',
      IP: '10.0.0.5',
      K8S_POD_NAME: 'a=b',
    });
  });
});

/** The network body for a weft plugin config of CNI 1.0.0 with these fields. */
const bodyOf = (fields: Partial<NetConf> & { name: string }) => networkBodyOf({ ...fields, cniVersion: '1.0.0', type: 'weft' }, 'weft');

describe('cni mapping', () => {
  it('translates weft errors to CNI codes', () => {
    assert.equal(toCniError(new InvalidArgumentError('x', 'bad')).code, 7);
    assert.equal(toCniError(new NotFoundError('sandbox', 'x')).code, 3);
    assert.equal(toCniError(new StoreConflictError()).code, 11);
    assert.equal(toCniError(new AddressInUseError('1.2.3.4')).code, 102);
    assert.equal(toCniError(new Error('boom')).code, 999);
    assert.equal(toCniError(new AddressInUseError('1.2.3.4')).details, 'WEFT_IPAM_ADDRESS_IN_USE');
  });
  it('names sandboxes after the whole container id', () => {
    assert.equal(sandboxNameOf('0123456789abcdef0123'), 'cni-0123456789abcdef0123');
    assert.equal(sandboxNameOf('test-container-1'), 'cni-test-container-1');
    assert.notEqual(sandboxNameOf('test-container-1'), sandboxNameOf('test-container-2'));
    // A runtime's 64-hex id, and ids that are not one short DNS label, get a digest of the whole id.
    const hex = '0123456789abcdef'.repeat(4);
    assert.match(sandboxNameOf(hex), /^cni-0123456789ab-[0-9a-f]{46}$/);
    assert.notEqual(sandboxNameOf(hex), sandboxNameOf(`${hex.slice(0, 63)}0`), 'ids that differ only at the end');
    assert.notEqual(sandboxNameOf('a'.repeat(1000)), sandboxNameOf('aaaaaaaaaaaab'));
    assert.match(sandboxNameOf('ctr.with.dots'), /^cni-ctrxwithxdot-[0-9a-f]{46}$/);
    for (const id of [hex, 'a'.repeat(1000), 'ctr.with.dots', 'x', 'a'.repeat(58), 'a'.repeat(59)]) {
      assert.doesNotThrow(() => validateSandboxName('name', sandboxNameOf(id)), `a valid sandbox name for ${id.slice(0, 20)}`);
    }
    assert.equal(sandboxNameOf('a'.repeat(58)).length, 62);
    assert.equal(sandboxNameOf('a'.repeat(59)).length, 63, 'the digest form is always 63: never equal to a plain one');
  });
  it('maps bridge options and port mappings', () => {
    const body = bodyOf({
      name: 'n',
      bridge: 'b0',
      mtu: 1400,
      ipMasq: true,
      icc: false,
      ipam: { subnet: '10.0.0.0/24', gateway: '10.0.0.254' },
    });
    assert.deepEqual(body.options, {
      'com.docker.network.bridge.name': 'b0',
      'com.docker.network.driver.mtu': '1400',
      'com.docker.network.bridge.enable_ip_masquerade': 'true',
      'com.docker.network.bridge.enable_icc': 'false',
    });
    assert.deepEqual(body.ipam, { config: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.254' }] });
    assert.deepEqual(
      publishSpecsOf([
        { hostPort: 8080, containerPort: 80, protocol: 'TCP' },
        { hostPort: 53, containerPort: 53, protocol: 'udp', hostIP: '::1' },
      ]),
      ['8080:80/tcp', '[::1]:53:53/udp'],
    );
  });
  it('maps an overlay config: Docker’s MTU option, IPv6 from an IPv6 range', () => {
    const body = bodyOf({
      name: 'pods',
      driver: 'overlay',
      mtu: 1400,
      ipam: { ranges: [[{ subnet: '10.97.0.0/24' }], [{ subnet: 'fd97::/64' }]] },
    });
    assert.equal(body.driver, 'overlay');
    assert.equal(body.enableIPv6, true);
    assert.deepEqual(body.options, { 'com.docker.network.driver.mtu': '1400' });
  });
  it('reports an overlay endpoint with its gateway-bridge leg, whose gateways hold the default routes', () => {
    const net = { name: 'pods', internal: false, driverState: { vni: '4096' } } as unknown as NetworkRecord;
    const ep = {
      ifname: 'eth0',
      macAddress: '02:42:0a:61:00:02',
      ipv4: '10.97.0.2/24',
      gateway4: '10.97.0.1',
      ipv6: 'fd97::2/64',
      gateway6: 'fd97::1',
      defaultRoute: true,
    } as unknown as EndpointRecord;
    const sb = { netnsPath: '/run/netns/p' } as unknown as SandboxRecord;
    const leg = {
      ifname: 'gw0123456789ab',
      mac: '06:01:23:45:67:89',
      ipv4: '10.255.1.2/16',
      gateway4: '10.255.0.1',
      ipv6: 'fd77:6566:7467::aff:102/64',
      gateway6: 'fd77:6566:7467::1',
    };
    // No bridge in the daemon's namespace: the controller is not asked for MACs.
    const r = resultOf({} as Controller, net, ep, sb, { dns: {} } as Parameters<typeof resultOf>[4], leg);
    assert.deepEqual(
      r.interfaces!.map((i) => [i.name, i.sandbox]),
      [
        ['eth0', '/run/netns/p'],
        ['gw0123456789ab', '/run/netns/p'],
      ],
    );
    assert.deepEqual(
      r.ips!.map((i) => [i.interface, i.address, i.gateway]),
      [
        [0, '10.97.0.2/24', '10.97.0.1'],
        [0, 'fd97::2/64', 'fd97::1'],
        [1, '10.255.1.2/16', '10.255.0.1'],
        [1, 'fd77:6566:7467::aff:102/64', 'fd77:6566:7467::1'],
      ],
    );
    assert.deepEqual(r.routes, [
      { dst: '0.0.0.0/0', gw: '10.255.0.1' },
      { dst: '::/0', gw: 'fd77:6566:7467::1' },
    ]);
    // Without a leg (internal network): no default route at all.
    const internal = resultOf({} as Controller, { ...net, internal: true }, ep, sb, { dns: {} } as Parameters<typeof resultOf>[4]);
    assert.deepEqual(internal.routes, []);
  });
});
