/**
 * The overlay driver touches only links that carry weft's mark (src/drivers/link-ownership.ts):
 * everything it makes — gateway bridge, legs, the network namespace's bridge, vxlan device and
 * ports — is born with weft's group and an alias naming its owner, and a link that merely has
 * the name the driver would derive (a leg `wfo<ep12>`, `weft_gwbridge`) is refused with a
 * typed error and left exactly as it was: not adopted, not changed, not deleted — at join, at
 * leave and by the orphan sweep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OverlayLab, hex, overlayNetwork } from '../../src/lab/overlay-lab.js';
import { mustRun } from '../../src/lab/sim-host.js';
import { GATEWAY_BRIDGE } from '../../src/drivers/overlay/gateway-address.js';
import { legHostIfname } from '../../src/drivers/overlay/gateway-leg.js';
import { WEFT_LINK_GROUP, ownerMark } from '../../src/drivers/link-ownership.js';
import { WeftError } from '../../src/errors.js';
import type { HostContext } from '../../src/drivers/driver.js';

interface IpLink {
  ifname: string;
  group?: string | number;
  ifalias?: string;
  master?: string;
  operstate?: string;
  addr_info?: { local: string }[];
}

describe('overlay driver: link ownership', () => {
  const lab = new OverlayLab();
  const net = overlayNetwork('ovl-own', '10.52.0.0/24');
  const links = async (path: string): Promise<IpLink[]> =>
    JSON.parse((await lab.inNs(path, 'ip', ['-j', '-d', 'addr', 'show'])).stdout) as IpLink[];
  const link = async (path: string, name: string): Promise<IpLink | undefined> => (await links(path)).find((l) => l.ifname === name);
  const isConflict = (e: unknown): boolean =>
    e instanceof WeftError && e.code === 'WEFT_CONFLICT' && /was not created by weft/.test(e.message);
  // `ip -j` prints the group by name when /etc/iproute2/group has one, else its number.
  const weftGroup = (l: IpLink | undefined): boolean => l !== undefined && Number(l.group) === WEFT_LINK_GROUP;

  before(async () => {
    await lab.up(1);
    net.driverState = lab.hosts[0]!.driver.validate(net, []).driverState;
  });
  after(async () => lab.cleanup());

  it("a foreign link with a leg's name makes the join fail with WEFT_CONFLICT; the link is left as it was, nothing else stays", async () => {
    const h = lab.hosts[0]!;
    const epId = hex(32);
    const name = legHostIfname(epId);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', name, 'type', 'veth', 'peer', 'name', `x${epId.slice(0, 12)}`]);
    await assert.rejects(lab.sandbox(h, net, '10.52.0.2', { defaultRoute: true, endpointId: epId }), isConflict);
    const l = await link(h.path, name);
    assert.ok(l, 'the foreign link still exists');
    assert.equal(l.master, undefined, 'not put on the gateway bridge');
    assert.ok(!weftGroup(l) && !l.ifalias, 'and not marked as weft’s');
    assert.equal(lab.kernel.netnsInode(lab.overlayPath(h, net)), undefined, "the network's namespace made by the join was removed again");
    await mustRun('ip', ['-n', h.ns, 'link', 'del', name]);
  });

  it('everything the driver makes carries the mark; leave and the orphan sweep never delete a foreign link of the same name', async () => {
    const h = lab.hosts[0]!;
    const s = await lab.sandbox(h, net, '10.52.0.3', { defaultRoute: true });
    const leg = await link(h.path, legHostIfname(s.endpoint.id));
    assert.ok(weftGroup(leg), 'leg in weft’s group');
    assert.equal(leg!.ifalias, ownerMark('endpoint', s.endpoint.id));
    const gw = await link(h.path, GATEWAY_BRIDGE);
    assert.ok(weftGroup(gw));
    assert.equal(gw!.ifalias, ownerMark('host', 'overlay-gateway'));
    const inner = await links(lab.overlayPath(h, net));
    for (const [n, mark] of [
      ['br0', ownerMark('network', net.id)],
      ['vxlan0', ownerMark('network', net.id)],
      [s.endpoint.hostIfname!, ownerMark('endpoint', s.endpoint.id)],
    ] as const) {
      const l = inner.find((x) => x.ifname === n);
      assert.ok(weftGroup(l), `${n} in weft's group`);
      assert.equal(l!.ifalias, mark, `${n}'s alias names its owner`);
    }

    // Someone replaces the leg with a link of their own under the same name (a different kind even).
    const name = legHostIfname(s.endpoint.id);
    await mustRun('ip', ['-n', h.ns, 'link', 'del', name]);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', name, 'type', 'bridge']);
    const hc: HostContext = {
      kernel: h.kernel,
      services: h.services,
      model: { networks: [net], endpoints: [], sandboxes: [], runtimePeers: [] },
    };
    // With no endpoint in the model the sweep would remove a leg of weft's; not this one.
    for (const inv of h.driver.invariants.host ?? []) await inv.repair(hc);
    assert.ok(await link(h.path, name), 'the orphan sweep left the foreign link');
    await h.driver.leave(lab.epCtx(s));
    assert.ok(await link(h.path, name), 'leave left the foreign link');
    await mustRun('ip', ['-n', h.ns, 'link', 'del', name]);
  });

  it('a foreign bridge named weft_gwbridge is refused: no address, no port, no state change', async () => {
    const h = lab.hosts[0]!;
    await mustRun('ip', ['-n', h.ns, 'link', 'del', GATEWAY_BRIDGE]);
    await mustRun('ip', ['-n', h.ns, 'link', 'add', GATEWAY_BRIDGE, 'type', 'bridge']);
    await assert.rejects(lab.sandbox(h, net, '10.52.0.4', { defaultRoute: true }), isConflict);
    const gw = await link(h.path, GATEWAY_BRIDGE);
    assert.ok(gw);
    assert.deepEqual(gw.addr_info ?? [], [], 'no address added');
    assert.equal(gw.operstate, 'DOWN', 'not brought up');
    assert.ok(!(await links(h.path)).some((l) => l.master === GATEWAY_BRIDGE), 'no leg on it');
  });
});
