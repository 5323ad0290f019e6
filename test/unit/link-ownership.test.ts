/** Owner marks on links and which links count as weft's leftovers (pure). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { WEFT_LINK_GROUP, isWeftLink, ownedBy, ownerMark, parseMark } from '../../src/drivers/link-ownership.js';
import { orphanBridgeLink } from '../../src/drivers/bridge/bridge-ownership.js';
import type { LinkInfo } from '../../src/kernel/netlink/types.js';
import type { ModelView } from '../../src/drivers/driver.js';
import type { EndpointRecord, NetworkRecord } from '../../src/model/types.js';

const link = (extra: Partial<LinkInfo>): LinkInfo => ({ index: 7, name: 'x', flags: 0, up: true, mtu: 1500, ...extra });
const N = 'a'.repeat(64);
const E = 'b'.repeat(64);

describe('link ownership marks', () => {
  it('round-trips owner marks and rejects anything else', () => {
    assert.deepEqual(parseMark(ownerMark('network', N)), { kind: 'network', id: N });
    assert.deepEqual(parseMark(ownerMark('runtime-veth', 'wfd0123456789ab')), { kind: 'runtime-veth', id: 'wfd0123456789ab' });
    assert.equal(parseMark('weft:other:1'), undefined);
    assert.equal(parseMark('my uplink'), undefined);
    assert.equal(parseMark(undefined), undefined);
  });
  it("a link is weft's only with weft's group, and an owner's only with its mark (or none yet)", () => {
    const mark = ownerMark('network', N);
    assert.equal(isWeftLink(link({ group: 0 })), false);
    assert.equal(ownedBy(link({ alias: mark }), mark), false, 'an alias alone (anyone can set it) is not enough');
    assert.equal(ownedBy(link({ group: WEFT_LINK_GROUP, alias: mark }), mark), true);
    assert.equal(ownedBy(link({ group: WEFT_LINK_GROUP }), mark), true, 'created, then weft stopped before naming it');
    assert.equal(ownedBy(link({ group: WEFT_LINK_GROUP, alias: ownerMark('network', E) }), mark), false, "another owner's");
  });
});

describe('orphan links', () => {
  const known: ModelView = {
    networks: [{ id: N, driverState: { bridgeName: 'br0' } } as unknown as NetworkRecord],
    endpoints: [{ id: E, hostIfname: 'wfvbbbbbbbbbbbb' } as unknown as EndpointRecord],
    sandboxes: [],
    runtimePeers: [{ networkId: N, hostIfname: 'wfd111111111111', peerName: 'wfc111111111111', mac: '02:00:00:00:00:01' }],
  };
  const orphanWeftLink = (l: LinkInfo, m: ModelView): boolean => orphanBridgeLink({ kind: 'veth', ...l }, m);
  it('only weft-marked links without an owner are leftovers', () => {
    assert.equal(orphanWeftLink(link({ name: 'wfv0123456789ab', kind: 'veth' }), known), false, "a look-alike name is not weft's");
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, alias: ownerMark('network', N) }), known), false);
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, alias: ownerMark('network', 'c'.repeat(64)) }), known), true);
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, alias: ownerMark('endpoint', E) }), known), false);
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, name: 'br0' }), known), false, 'unnamed but wanted');
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, name: 'br9' }), known), true, 'unnamed and unwanted');
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, alias: ownerMark('runtime-veth', 'wfd111111111111') }), known), false);
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, alias: ownerMark('runtime-veth', 'wfd222222222222') }), known), true);
    assert.equal(orphanWeftLink(link({ group: WEFT_LINK_GROUP, name: 'wfvbbbbbbbbbbbb' }), known), false, 'unnamed endpoint veth, wanted');
    assert.equal(
      orphanBridgeLink(link({ group: WEFT_LINK_GROUP, name: 'macvlan0', kind: 'macvlan' }), known),
      false,
      "not a kind the bridge driver makes: another driver's",
    );
  });
});
