import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateIfname, validateName, parseMtu, parseBool } from '../../src/config/validate.js';
import { networkCreateBody, parseNetworkFlag } from '../../src/config/network-flags.js';
import { parseBridgeOptions } from '../../src/drivers/bridge/bridge-options.js';
import { NetworkCreateInput, SandboxCreateInput, parseInput } from '../../src/controller/inputs.js';
import { WeftError } from '../../src/errors.js';

/** Assert fn throws a WeftError with this code whose message names the field. */
function throwsField(fn: () => unknown, code: string, field: string): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof WeftError, `expected WeftError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.ok(err.message.includes(field), `message "${err.message}" names ${field}`);
    return true;
  });
}

describe('names and interface names', () => {
  it('accepts Docker-style names', () => {
    assert.equal(validateName('name', 'my-net_1.x'), 'my-net_1.x');
  });
  for (const bad of ['', '-lead', 'has space', 'x/y', 'a'.repeat(65), 'ünï']) {
    it(`rejects name ${JSON.stringify(bad)}`, () => throwsField(() => validateName('name', bad), 'WEFT_INVALID_ARGUMENT', 'name'));
  }
  it('accepts a 15-byte interface name', () => assert.equal(validateIfname('ifname', 'abcdefghijklmno'), 'abcdefghijklmno'));
  for (const bad of ['abcdefghijklmnop', 'a/b', '..', 'eth 0', 'eth:0', '']) {
    it(`rejects interface name ${JSON.stringify(bad)}`, () =>
      throwsField(() => validateIfname('ifname', bad), 'WEFT_INVALID_ARGUMENT', 'ifname'));
  }
  it('checks MTU bounds (IPv6 needs 1280)', () => {
    assert.equal(parseMtu('mtu', '9000'), 9000);
    throwsField(() => parseMtu('mtu', '67'), 'WEFT_INVALID_ARGUMENT', 'mtu');
    throwsField(() => parseMtu('mtu', '1200', true), 'WEFT_INVALID_ARGUMENT', 'mtu');
    throwsField(() => parseMtu('mtu', '15x'), 'WEFT_INVALID_ARGUMENT', 'mtu');
  });
  it('parses Docker booleans', () => {
    assert.equal(parseBool('b', 'false'), false);
    assert.equal(parseBool('b', '1'), true);
    throwsField(() => parseBool('enable_icc', 'maybe'), 'WEFT_INVALID_ARGUMENT', 'enable_icc');
  });
});

describe('network create flags', () => {
  it('assigns ip-range, gateway and aux to the subnet containing them', () => {
    const body = networkCreateBody('n', {
      subnet: ['10.1.0.0/16', 'fd00:1::/64'],
      ipRange: ['10.1.5.0/24'],
      gateway: ['10.1.0.254', 'fd00:1::1'],
      auxAddress: ['router=10.1.0.253'],
      ipv6: true,
    }) as { ipam: { config: { subnet: string; ipRange?: string; gateway?: string; auxAddresses?: Record<string, string> }[] } };
    assert.deepEqual(body.ipam.config, [
      { subnet: '10.1.0.0/16', ipRange: '10.1.5.0/24', gateway: '10.1.0.254', auxAddresses: { router: '10.1.0.253' } },
      { subnet: 'fd00:1::/64', gateway: 'fd00:1::1' },
    ]);
  });
  it('rejects a gateway outside every subnet', () =>
    throwsField(() => networkCreateBody('n', { subnet: ['10.1.0.0/24'], gateway: ['10.2.0.1'] }), 'WEFT_INVALID_ARGUMENT', 'gateway'));
  it('rejects a gateway without subnet', () =>
    throwsField(() => networkCreateBody('n', { gateway: ['10.2.0.1'] }), 'WEFT_INVALID_ARGUMENT', 'gateway'));
  it('rejects a bad CIDR', () => throwsField(() => networkCreateBody('n', { subnet: ['10.1.0.0/33'] }), 'WEFT_INVALID_ARGUMENT', 'subnet'));
  it('rejects malformed -o', () => throwsField(() => networkCreateBody('n', { opt: ['=novalue'] }), 'WEFT_INVALID_ARGUMENT', 'opt'));
  it('takes a bare -o KEY as KEY with an empty value, as Docker does (-o encrypted)', () =>
    assert.deepEqual(networkCreateBody('n', { opt: ['encrypted'] }).options, { encrypted: '' }));
  it('parses --network with alias, ip and mac', () => {
    assert.deepEqual(parseNetworkFlag('front,alias=web,alias=www,ip=10.1.0.9,mac=02:00:00:00:00:09'), {
      network: 'front',
      aliases: ['web', 'www'],
      ipv4: '10.1.0.9',
      mac: '02:00:00:00:00:09',
    });
    throwsField(() => parseNetworkFlag('front,colour=red'), 'WEFT_INVALID_ARGUMENT', 'network');
  });
});

describe('bridge driver options', () => {
  it('defaults like Docker', () => {
    const o = parseBridgeOptions({}, 'wf-abc', false);
    assert.deepEqual(o, { bridgeName: 'wf-abc', mtu: 1500, masquerade: true, icc: true, ifacePrefix: 'eth', adopt: false });
  });
  it('adopts an existing bridge only when asked, by name, keeping its MAC', () => {
    assert.equal(parseBridgeOptions({ 'com.docker.network.bridge.name': 'br0', 'weft.bridge.adopt': 'true' }, 'x', false).adopt, true);
    assert.throws(() => parseBridgeOptions({ 'weft.bridge.adopt': 'true' }, 'x', false), /needs com\.docker\.network\.bridge\.name/);
    assert.throws(
      () =>
        parseBridgeOptions(
          { 'com.docker.network.bridge.name': 'br0', 'weft.bridge.adopt': 'true', 'weft.bridge.mac': '02:00:00:00:00:01' },
          'x',
          false,
        ),
      /keeps its own MAC/,
    );
  });
  it('parses every option', () => {
    const o = parseBridgeOptions(
      {
        'com.docker.network.bridge.name': 'br-x',
        'com.docker.network.driver.mtu': '1400',
        'com.docker.network.bridge.enable_icc': 'false',
        'com.docker.network.bridge.enable_ip_masquerade': 'false',
        'com.docker.network.bridge.host_binding_ipv4': '198.18.0.1',
        'com.docker.network.container_iface_prefix': 'net',
      },
      'wf-abc',
      false,
    );
    assert.equal(o.bridgeName, 'br-x');
    assert.equal(o.mtu, 1400);
    assert.equal(o.icc, false);
    assert.equal(o.masquerade, false);
    assert.equal(o.hostBindingIpv4, '198.18.0.1');
    assert.equal(o.ifacePrefix, 'net');
  });
  it('rejects unknown options, naming them', () =>
    throwsField(
      () => parseBridgeOptions({ 'com.docker.network.bridge.colour': 'x' }, 'b', false),
      'WEFT_INVALID_ARGUMENT',
      'com.docker.network.bridge.colour',
    ));
  it('rejects a 16-byte bridge name', () =>
    throwsField(
      () => parseBridgeOptions({ 'com.docker.network.bridge.name': 'abcdefghijklmnop' }, 'b', false),
      'WEFT_INVALID_ARGUMENT',
      'bridge.name',
    ));
  it('rejects an IPv6 host binding for the IPv4 option', () =>
    throwsField(
      () => parseBridgeOptions({ 'com.docker.network.bridge.host_binding_ipv4': '::1' }, 'b', false),
      'WEFT_INVALID_ARGUMENT',
      'host_binding_ipv4',
    ));
});

describe('API input schemas', () => {
  it('fills defaults', () => {
    const n = parseInput(NetworkCreateInput, { name: 'x' });
    assert.equal(n.driver, 'bridge');
    assert.deepEqual(n.ipam.config, []);
  });
  it('names the field of a wrong type', () =>
    throwsField(() => parseInput(NetworkCreateInput, { name: 'x', internal: 'yes' }), 'WEFT_INVALID_ARGUMENT', 'internal'));
  it('rejects unknown fields', () => throwsField(() => parseInput(SandboxCreateInput, { colour: 1 }), 'WEFT_INVALID_ARGUMENT', 'body'));
  it('names nested fields', () =>
    throwsField(() => parseInput(SandboxCreateInput, { networks: [{ network: 1 }] }), 'WEFT_INVALID_ARGUMENT', 'networks.0.network'));
});
