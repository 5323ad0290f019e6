/** The pure diff behind the cluster sync: full reads and events yield only changes; own endpoints are never peers. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { PeerViewCore, parseEndpointKey } from '../../src/cluster/peer-view-core.js';

const ep = (id: string, host: string, ipv4 = `10.0.0.${id.length}/24`) => ({
  key: `endpoints/n1/${id}`,
  value: JSON.stringify({
    id,
    networkId: 'n1',
    sandboxId: 's',
    ifname: 'eth0',
    aliases: [],
    defaultRoute: true,
    requested: {},
    created: '',
    host,
    hostAddress: `198.18.0.${host.length}`,
    ipv4,
  }),
});
const kinds = (cs: { type: string; peer?: { endpointId: string } }[]) => cs.map((c) => `${c.type} ${c.peer?.endpointId ?? ''}`.trim());

describe('peer view core', () => {
  it('a full read yields the remote endpoints only; the same read again yields nothing', () => {
    const v = new PeerViewCore('me');
    assert.deepEqual(kinds(v.resyncEndpoints([ep('a', 'me'), ep('b', 'h2'), ep('c', 'h3')])), ['peerUp b', 'peerUp c']);
    assert.deepEqual(v.resyncEndpoints([ep('a', 'me'), ep('b', 'h2'), ep('c', 'h3')]), []);
    assert.equal(v.peerCount(), 2);
  });

  it('a resync after a lost watch emits only what changed meanwhile', () => {
    const v = new PeerViewCore('me');
    v.resyncEndpoints([ep('b', 'h2'), ep('c', 'h3')]);
    assert.deepEqual(kinds(v.resyncEndpoints([ep('c', 'h3'), ep('d', 'h2')])), ['peerDown b', 'peerUp d']);
    // A changed record (new address) is a down then an up.
    assert.deepEqual(kinds(v.resyncEndpoints([ep('c', 'h3', '10.0.0.99/24'), ep('d', 'h2')])), ['peerDown c', 'peerUp c']);
  });

  it('events: put, repeated put, delete; own endpoints ignored', () => {
    const v = new PeerViewCore('me');
    assert.deepEqual(kinds(v.endpointEvent({ type: 'put', ...ep('b', 'h2') })), ['peerUp b']);
    assert.deepEqual(v.endpointEvent({ type: 'put', ...ep('b', 'h2') }), []);
    assert.deepEqual(v.endpointEvent({ type: 'put', ...ep('a', 'me') }), []);
    assert.deepEqual(kinds(v.endpointEvent({ type: 'delete', key: 'endpoints/n1/b' })), ['peerDown b']);
    assert.deepEqual(v.endpointEvent({ type: 'delete', key: 'endpoints/n1/b' }), []);
  });

  it("a gone host's endpoints leave the view at once and stay out until it is up again", () => {
    const v = new PeerViewCore('me');
    v.resyncEndpoints([ep('b', 'h2'), ep('bb', 'h2'), ep('c', 'h3')]);
    assert.deepEqual(kinds(v.hostGone('h2')).sort(), ['peerDown b', 'peerDown bb']);
    assert.deepEqual(v.resyncEndpoints([ep('b', 'h2'), ep('c', 'h3')]), [], 'still in the store, not in the view');
    assert.deepEqual(v.endpointEvent({ type: 'delete', key: 'endpoints/n1/b' }), []);
    v.hostUp('h2');
    assert.deepEqual(kinds(v.endpointEvent({ type: 'put', ...ep('e', 'h2') })), ['peerUp e']);
  });

  it("a host's endpoints in the view, as peerUp (handed over again when it is back up after a hostDown)", () => {
    const v = new PeerViewCore('me');
    v.resyncEndpoints([ep('a', 'me'), ep('b', 'h2'), ep('bb', 'h2'), ep('c', 'h3')]);
    assert.deepEqual(kinds(v.peersOf('h2')).sort(), ['peerUp b', 'peerUp bb']);
    assert.deepEqual(v.peersOf('me'), [], 'own endpoints are never peers');
    v.hostGone('h2');
    assert.deepEqual(v.peersOf('h2'), [], 'a gone host has none');
  });

  it('a change the controller could not apply is undone, so the next full read delivers it again', () => {
    const v = new PeerViewCore('me');
    const [up] = v.resyncEndpoints([ep('b', 'h2')]);
    v.undo(up!);
    assert.deepEqual(kinds(v.resyncEndpoints([ep('b', 'h2')])), ['peerUp b']);
    const [down] = v.resyncEndpoints([]);
    v.undo(down!);
    assert.deepEqual(kinds(v.resyncEndpoints([])), ['peerDown b']);
  });

  it('networks: appear once, go once', () => {
    const v = new PeerViewCore('me');
    const n = { key: 'networks/n1', value: JSON.stringify({ id: 'n1', name: 'g' }) };
    assert.deepEqual(
      v.resyncNetworks([n]).map((c) => c.type),
      ['networkUp'],
    );
    assert.deepEqual(v.networkEvent({ type: 'put', ...n }), []);
    assert.deepEqual(
      v.resyncNetworks([]).map((c) => c.type),
      ['networkDown'],
    );
    assert.equal(parseEndpointKey('endpoints/n1'), undefined);
  });
});
