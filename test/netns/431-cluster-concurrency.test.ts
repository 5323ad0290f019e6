/**
 * Cluster races on a 3-host lab (l2, one real etcd, cluster-null driver):
 *  - three hosts create overlapping global networks at the same moment: exactly one wins each
 *    round, the others get WEFT_IPAM_OVERLAP, and etcd never holds two overlapping global
 *    subnets (the create transaction is guarded by claims/subnets); non-overlapping creates at
 *    the same moment all succeed (the guard's retry refuses nothing it should not);
 *  - remote endpoints reach every host while the hosts are busy attaching their own: once the
 *    last attach returned, every host knows every other host's endpoints within a few seconds
 *    (peer events take no engine lock and read nothing per event).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ClusterLab } from '../../src/lab/cluster-lab.js';
import { labClient, peerEndpoints, pool, sleep, sumOf } from '../../src/lab/lab-tools.js';
import { WeftError } from '../../src/errors.js';
import { cidrOverlaps, parseCidr } from '../../src/ipam/cidr.js';
import type { NetworkInspect, SandboxView } from '../../src/controller/inspect.js';

process.env.WEFT_TEST_DRIVERS = '1'; // the lab's weftds inherit it: cluster-null is registered
const HOSTS = ['h1', 'h2', 'h3'];
const client = (lab: ClusterLab, h: string) => labClient(lab, h, 60_000);

const peersOn = async (lab: ClusterLab, h: string, net: string): Promise<number> => sumOf(await peerEndpoints(client(lab, h), net));

describe('cluster races on a 3-host lab (l2, one etcd)', { timeout: 600_000 }, () => {
  let lab: ClusterLab;
  before(async () => {
    lab = await ClusterLab.up({ hosts: 3, underlay: 'l2', name: `cp${randomBytes(3).toString('hex')}` });
  });
  after(async () => {
    await lab?.down();
  });

  it('overlapping global networks created at once on three hosts: exactly one wins each round', async () => {
    // Each round: a /16, a /17 inside it and a /24 inside that — every pair overlaps.
    const ROUNDS = 6;
    for (let r = 0; r < ROUNDS; r++) {
      const subnets = [`10.${60 + r}.0.0/16`, `10.${60 + r}.130.0/24`, `10.${60 + r}.128.0/17`];
      const results = await Promise.allSettled(
        HOSTS.map((h, i) =>
          client(lab, h).request('POST', '/v1/networks', {
            name: `ov${r}-${h}`,
            driver: 'cluster-null',
            ipam: { config: [{ subnet: subnets[i] }] },
          }),
        ),
      );
      const won = results.filter((x) => x.status === 'fulfilled').length;
      const refused = results.flatMap((x) => (x.status === 'rejected' ? [x.reason as unknown] : []));
      assert.equal(won, 1, `round ${r}: ${won} of 3 overlapping creates succeeded: ${refused.map(String).join('; ')}`);
      for (const e of refused) assert.ok(e instanceof WeftError && e.code === 'WEFT_IPAM_OVERLAP', `round ${r}: ${String(e)}`);
    }
    // What etcd holds: no two global networks overlap, and every host lists the same ones.
    const nets = (await client(lab, 'h2').request<NetworkInspect[]>('GET', '/v1/networks')).filter((n) => n.Scope === 'global');
    assert.equal(nets.length, ROUNDS);
    const cidrs = nets.flatMap((n) => n.IPAM.Config.map((c) => c.Subnet));
    for (let i = 0; i < cidrs.length; i++)
      for (let j = i + 1; j < cidrs.length; j++)
        assert.ok(!cidrOverlaps(parseCidr(cidrs[i]!, 'a'), parseCidr(cidrs[j]!, 'b')), `${cidrs[i]} and ${cidrs[j]} overlap`);
  });

  it('disjoint global networks created at once on three hosts all succeed', async () => {
    const results = await Promise.allSettled(
      HOSTS.map((h, i) =>
        client(lab, h).request('POST', '/v1/networks', {
          name: `dj-${h}`,
          driver: 'cluster-null',
          ipam: { config: [{ subnet: `10.${80 + i}.0.0/16` }] },
        }),
      ),
    );
    const failed = results.flatMap((x) => (x.status === 'rejected' ? [String(x.reason)] : []));
    assert.deepEqual(failed, []);
    // Without a subnet: each picks a free one; none may overlap another.
    const auto = await Promise.all(
      HOSTS.map((h) => client(lab, h).request<{ Id: string }>('POST', '/v1/networks', { name: `au-${h}`, driver: 'cluster-null' })),
    );
    assert.equal(auto.length, 3);
    const nets = (await client(lab, 'h1').request<NetworkInspect[]>('GET', '/v1/networks')).filter((n) => n.Scope === 'global');
    const cidrs = nets.flatMap((n) => n.IPAM.Config.map((c) => c.Subnet));
    for (let i = 0; i < cidrs.length; i++)
      for (let j = i + 1; j < cidrs.length; j++)
        assert.ok(!cidrOverlaps(parseCidr(cidrs[i]!, 'a'), parseCidr(cidrs[j]!, 'b')), `${cidrs[i]} and ${cidrs[j]} overlap`);
  });

  it('while every host attaches its own endpoints, the others learn them within seconds of the last attach', async () => {
    const PER = 60;
    const net = 'dj-h1';
    const sandboxes = await Promise.all(
      HOSTS.map((h) =>
        pool(
          4,
          Array.from(
            { length: PER },
            (_, i) => () => client(lab, h).request<SandboxView>('POST', '/v1/sandboxes', { name: `p-${h}-${i}` }),
          ),
        ),
      ),
    );
    await Promise.all(
      HOSTS.map((h, i) =>
        pool(
          4,
          sandboxes[i]!.map((sb) => () => client(lab, h).request('POST', `/v1/networks/${net}/connect`, { sandbox: sb.id })),
        ),
      ),
    );
    const t0 = Date.now();
    const want = (HOSTS.length - 1) * PER;
    const took: Record<string, number> = {};
    for (const h of HOSTS) {
      for (;;) {
        const n = await peersOn(lab, h, net);
        if (n === want) break;
        assert.ok(n < want, `${h} knows ${n} remote endpoints, more than the ${want} there are`);
        if (Date.now() - t0 > 5000) assert.fail(`${h} knew only ${n} of ${want} remote endpoints 5 s after the last attach`);
        await sleep(50);
      }
      took[h] = Date.now() - t0;
    }
    console.log(`every host knew all ${want} remote endpoints ${JSON.stringify(took)} ms after the last attach`);
    // Leaving is told just as well: after the sandboxes go, no host keeps a peer.
    await Promise.all(
      HOSTS.map((h, i) =>
        pool(
          4,
          sandboxes[i]!.map((sb) => () => client(lab, h).request('DELETE', `/v1/sandboxes/${sb.id}`)),
        ),
      ),
    );
    const t1 = Date.now();
    for (const h of HOSTS) {
      while ((await peersOn(lab, h, net)) !== 0) {
        if (Date.now() - t1 > 5000) assert.fail(`${h} still has peers 5 s after every sandbox was removed`);
        await sleep(50);
      }
    }
  });
});
