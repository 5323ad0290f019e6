/**
 * Every mutating controller operation, driven through the fake kernel with a fault injected at
 * each kernel step in turn: the operation fails with the injected error, and the fake kernel,
 * the store and the run directory are exactly as they were before — rollback leaves nothing
 * behind. Removals keep going past a failure instead (netavark's teardown): for them the test
 * checks that what is left is recorded, and that running the removal again finishes the job.
 *
 * One thing is allowed to move: the round-robin cursor of a network's addresses
 * (`ipam/<net>/<fam>/last`). Like Docker's IPAM it only moves forward, so a released address is
 * not handed out again at once — also when the claim was rolled back.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fakeWorld } from '../fakes/fake-world.js';
import { INJECTED } from '../fakes/fake-kernel.js';
import { countSteps, faultAtEachStep, isInjected, stateOf, type Op, type Setup } from './fault-steps.js';
import type { ControllerHooks } from '../../src/controller/context.js';
import type { EndpointRecord, NetworkRecord, SandboxRecord } from '../../src/model/types.js';
import type { FwPortMapping } from '../../src/firewall/types.js';

const net = (name: string, subnet: string) => ({ name, ipam: { config: [{ subnet }] } });

const withNetworks: Setup = async (c) => {
  await c.createNetwork(net('n1', '10.1.0.0/24'));
  await c.createNetwork({
    ...net('n2', '10.2.0.0/24'),
    enableIPv6: true,
    ipam: { config: [{ subnet: '10.2.0.0/24' }, { subnet: 'fd02::/64' }] },
  });
  // A sandbox made earlier, so the run directory already has its layout.
  await c.createSandbox({ name: 'old', networks: [{ network: 'n1' }] });
};

const withSandbox: Setup = async (c) => {
  await withNetworks(c, undefined as never);
  await c.createSandbox({ name: 's', networks: [] });
};

describe('controller rollback: a fault at each kernel step leaves the kernel and the store as before', () => {
  it('network create', async () => {
    const n = await faultAtEachStep(withNetworks, (c) => c.createNetwork({ ...net('n3', '10.3.0.0/24'), enableIPv6: true }));
    assert.ok(n >= 4, `${n} steps`);
  });

  it('connect (IPv4 network, default route)', async () => {
    await faultAtEachStep(withSandbox, (c) => c.connect('n1', { sandbox: 's', aliases: ['web'] }));
  });

  it('connect (dual-stack network, static addresses)', async () => {
    await faultAtEachStep(withSandbox, (c) => c.connect('n2', { sandbox: 's', ipv4: '10.2.0.50', ipv6: 'fd02::50' }));
  });

  it('sandbox create on two networks', async () => {
    await faultAtEachStep(withNetworks, (c) =>
      c.createSandbox({ name: 'two', networks: [{ network: 'n1' }, { network: 'n2', aliases: ['db'] }], publish: ['8080:80'] }),
    );
  });

  it('disconnect', async () => {
    await faultAtEachStep(
      async (c, world) => {
        await withSandbox(c, world);
        await c.connect('n1', { sandbox: 's' });
      },
      (c) => c.disconnect('n1', { sandbox: 's' }),
    );
  });

  it('network rm', async () => {
    await faultAtEachStep(
      async (c, world) => {
        await withNetworks(c, world);
        await c.createNetwork(net('gone', '10.9.0.0/24'));
      },
      (c) => c.removeNetwork('gone'),
    );
  });

  it('runtime join (the pair a container runtime moves into place)', async () => {
    const epId = 'e'.repeat(64);
    await faultAtEachStep(
      async (c, world) => {
        await withNetworks(c, world);
        const n1 = await c.network('n1');
        await c.runtime.createEndpoint({ networkId: n1.id, endpointId: epId });
      },
      async (c) => c.runtime.join((await c.network('n1')).id, epId, '/run/docker/netns/abc'),
    );
  });
});

describe('controller removal: teardown keeps going, records what is left, and a retry finishes', () => {
  it('sandbox rm with two endpoints, a fault at each step', async () => {
    const n = await countSteps(withNetworks, async (c) => {
      await c.createSandbox({ name: 'two', networks: [{ network: 'n1' }, { network: 'n2' }] });
      await c.removeSandbox('two');
    });
    for (let i = 1; ; i++) {
      const w = await fakeWorld();
      try {
        await withNetworks(w.controller, w);
        const before = await stateOf(w);
        await w.controller.createSandbox({ name: 'two', networks: [{ network: 'n1' }, { network: 'n2' }] });
        w.kernel.faultAt = w.kernel.steps.length + i;
        const start = w.kernel.steps.length;
        const failed = await w.controller.removeSandbox('two').then(
          () => false,
          (err: unknown) => {
            assert.ok(isInjected(err), `fault at step ${i}: ${String(err)}`);
            return true;
          },
        );
        if (!failed) {
          // Past the last step: the removal needed fewer steps than create + remove together.
          assert.ok(w.kernel.steps.length - start < i, 'every step of the removal was tried');
          assert.ok(i <= n);
          break;
        }
        // What is left is consistent: doctor finds the store and the kernel in agreement.
        const d = await w.controller.doctor(false);
        assert.deepEqual(d.violations, [], `after a fault at step ${i} (${w.kernel.faulted}) the store records what is left`);
        // And the removal can simply be run again.
        if ((await w.controller.findSandbox('two')) !== undefined) await w.controller.removeSandbox('two');
        assert.deepEqual(await stateOf(w), before, `after a fault at step ${i} (${w.kernel.faulted}) and a retry, nothing is left`);
      } finally {
        await w.close();
      }
    }
  });
});

/** A service (like the firewall or DNS) that fails on one hook, and remembers what it was told. */
class FailingService implements ControllerHooks {
  failOn: keyof ControllerHooks | undefined;
  readonly told: string[] = [];
  private hit(what: keyof ControllerHooks, detail: string): void {
    this.told.push(`${what} ${detail}`);
    if (this.failOn === what) {
      this.failOn = undefined;
      throw new Error(`${INJECTED} in a service's ${what}`);
    }
  }
  async networkUp(n: NetworkRecord): Promise<void> {
    this.hit('networkUp', n.name);
  }
  async networkDown(n: NetworkRecord): Promise<void> {
    this.hit('networkDown', n.name);
  }
  async endpointUp(n: NetworkRecord, _e: EndpointRecord, s: SandboxRecord): Promise<void> {
    this.hit('endpointUp', `${s.name}/${n.name}`);
  }
  async endpointDown(n: NetworkRecord, _e: EndpointRecord, s: SandboxRecord): Promise<void> {
    this.hit('endpointDown', `${s.name}/${n.name}`);
  }
  async portsUp(m: FwPortMapping[]): Promise<void> {
    this.hit('portsUp', m.map((x) => x.hostPort).join(','));
  }
  async portsDown(m: FwPortMapping[]): Promise<void> {
    this.hit('portsDown', m.map((x) => x.hostPort).join(','));
  }
}

describe('controller rollback: a service failing after the kernel work undoes that work', () => {
  const cases: { name: string; hook: keyof ControllerHooks; setup: Setup; op: Op; undone: string }[] = [
    {
      name: 'network create',
      hook: 'networkUp',
      setup: withNetworks,
      op: (c) => c.createNetwork(net('n3', '10.3.0.0/24')),
      undone: 'networkDown n3',
    },
    { name: 'connect', hook: 'endpointUp', setup: withSandbox, op: (c) => c.connect('n1', { sandbox: 's' }), undone: 'endpointDown s/n1' },
    {
      name: 'sandbox create',
      hook: 'endpointUp',
      setup: withNetworks,
      op: (c) => c.createSandbox({ name: 'p', networks: [{ network: 'n1' }], publish: ['8080:80'] }),
      undone: 'endpointDown p/n1',
    },
    {
      name: 'runtime ports (docker run -p)',
      hook: 'portsUp',
      setup: async (c, world) => {
        await withNetworks(c, world);
        await c.runtime.createEndpoint({ networkId: (await c.network('n1')).id, endpointId: 'f'.repeat(64) });
      },
      op: (c) => c.runtime.publishPorts('f'.repeat(64), [{ protocol: 'tcp', containerPort: 80, hostPort: 8080, hostPortEnd: 8080 }]),
      undone: 'portsDown 8080',
    },
  ];
  for (const t of cases) {
    it(`${t.name}: ${t.hook} fails`, async () => {
      const svc = new FailingService();
      const w = await fakeWorld({ hooks: svc });
      try {
        await t.setup(w.controller, w);
        const before = await stateOf(w);
        svc.failOn = t.hook;
        await assert.rejects(() => t.op(w.controller, w), isInjected);
        assert.equal(svc.failOn, undefined, 'the failing hook was reached');
        assert.ok(svc.told.includes(t.undone), `the service was told to undo (${t.undone}); it was told: ${svc.told.slice(-4).join('; ')}`);
        assert.deepEqual(await stateOf(w), before, 'everything is as before');
      } finally {
        await w.close();
      }
    });
  }
});
