/**
 * Building models: a host's model from a cluster-store view (blocks by owner, borrowed
 * addresses found from local endpoints, per-host AS and reflector role, peers limited to some
 * hosts), and the lab's top-of-rack router and host models — each rendered and checked by
 * BIRD's parser.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../../src/errors.js';
import { bgpModelForHost, type ClusterBgpView } from '../../src/bgp/model-from-cluster.js';
import { hostBehindTorModel, torRouterModel } from '../../src/bgp/tor-model.js';
import { renderBirdConfig } from '../../src/bgp/render.js';
import { validateBgpModel } from '../../src/bgp/validate.js';
import { bgpSessions } from '../../src/bgp/sessions.js';
import { birdParseCheck } from '../../src/kernel/bird-binary.js';

const dir = mkdtempSync(path.join(tmpdir(), 'weft-bgp-models-'));
async function parses(name: string, text: string): Promise<void> {
  const f = path.join(dir, `${name}.conf`);
  writeFileSync(f, text);
  await birdParseCheck(f);
}

const view = (): ClusterBgpView => ({
  localHost: 'h-b',
  hosts: [
    { id: 'h-a', name: 'a', address4: '198.18.0.1', bgp: { reflectorClusterId: '1' } },
    { id: 'h-b', name: 'b', address4: '198.18.0.2', address6: '2001:db8::2' },
    { id: 'h-c', name: 'c', address4: '198.18.0.3', bgp: { asNumber: 64999 } },
  ],
  pools: [{ cidr: '10.244.0.0/16' }, { cidr: '10.99.0.0/16', bgp: false }, { cidr: 'fd00:244::/48' }],
  blocks: [
    { cidr: '10.244.1.0/26', owner: 'h-a' },
    { cidr: '10.244.2.0/26', owner: 'h-b' },
    { cidr: '10.99.0.0/26', owner: 'h-b' },
    { cidr: 'fd00:244::/122', owner: 'h-b' },
  ],
  localAddresses: ['10.244.2.7', '10.244.1.40', '10.244.1.40', '10.99.0.5', 'fd00:244::9'],
  config: { asNumber: 64512, timers: { holdSeconds: 30, keepaliveSeconds: 10 } },
  peers: [
    { name: 'tor1', asNumber: 65000, address: '198.18.0.254', hosts: ['a', 'b'] },
    { name: 'tor2', asNumber: 65000, address: '198.18.0.253', hosts: ['h-c'] },
  ],
});

describe('bgp: building models', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("a host's model from the cluster view", async () => {
    const m = bgpModelForHost(view());
    assert.equal(m.hostName, 'b');
    assert.equal(m.routerId, '198.18.0.2');
    assert.equal(m.asNumber, 64512);
    assert.deepEqual(m.pools, ['10.244.0.0/16', 'fd00:244::/48'], 'a pool with bgp: false is left out');
    assert.deepEqual(m.blocks, ['10.244.2.0/26', 'fd00:244::/122'], 'own blocks of BGP pools only');
    assert.deepEqual(m.borrowed, ['10.244.1.40'], "an address from a's block; own-block and non-BGP addresses are not borrowed");
    assert.deepEqual(
      m.externalPeers?.map((p) => p.name),
      ['tor1'],
    );
    assert.equal(m.hosts?.find((h) => h.name === 'c')?.asNumber, 64999);
    const n = validateBgpModel(m);
    assert.deepEqual(
      bgpSessions(n).map((s) => s.protocol),
      ['host4_198_18_0_1', 'host4_198_18_0_3', 'peer4_198_18_0_254'],
    );
    await parses('cluster-b', renderBirdConfig(m));
  });

  it('reflector role and mesh mode come through; a host without IPv4 needs a router id', async () => {
    const v = { ...view(), localHost: 'h-a', localAddresses: ['10.244.1.3'], config: { asNumber: 64512, mesh: 'reflectors' as const } };
    v.hosts = v.hosts.map((h) => (h.id === 'h-c' ? { ...h, bgp: {} } : h));
    const m = bgpModelForHost(v);
    assert.equal(m.reflectorClusterId, '1');
    assert.match(renderBirdConfig(m), /rr client;/);
    await parses('cluster-a-rr', renderBirdConfig(m));
    const noV4 = { ...view(), hosts: [{ id: 'h-b', name: 'b', address6: '2001:db8::2' }] };
    assert.throws(
      () => bgpModelForHost(noV4),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'routerId',
    );
    assert.throws(
      () => bgpModelForHost({ ...view(), localHost: 'nope' }),
      (e: unknown) => e instanceof InvalidArgumentError && e.field === 'localHost',
    );
  });

  it('top-of-rack router and its hosts', async () => {
    const tor = torRouterModel({
      name: 'tor1',
      asNumber: 65000,
      pools: ['10.41.0.0/16'],
      segments: [
        { routerAddress: '198.18.41.254', hosts: [{ name: 'a', asNumber: 64601, address: '198.18.41.1' }] },
        { routerAddress: '198.18.42.254', hosts: [{ name: 'c', asNumber: 64603, address: '198.18.42.1' }] },
      ],
      routers: [{ name: 'spine', asNumber: 65100, address: '198.18.99.1', localAddress: '198.18.99.2', multihop: 2 }],
    });
    assert.equal(tor.routerId, '198.18.41.254');
    const text = renderBirdConfig(tor);
    assert.match(text, /protocol bgp peer4_198_18_42_1 from weft_peer \{[^}]*local 198\.18\.42\.254 as 65000;/);
    assert.match(text, /protocol bgp peer4_198_18_99_1 from weft_peer \{[^}]*multihop 2;/);
    await parses('tor', text);
    const host = hostBehindTorModel({
      name: 'a',
      asNumber: 64601,
      address: '198.18.41.1',
      router: { name: 'tor1', asNumber: 65000, address: '198.18.41.254' },
      pools: ['10.41.0.0/16'],
      blocks: ['10.41.1.0/26'],
    });
    await parses('tor-host', renderBirdConfig(host));
  });
});
