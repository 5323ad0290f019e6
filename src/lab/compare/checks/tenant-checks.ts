/**
 * The rows decided with a second network of the same design (another tenant):
 *   isolation           an endpoint of tenant 2 cannot reach the main network's endpoint b
 *   overlap             tenant 2 on the main subnet (at the main endpoints' very addresses where the design
 *                       lets a run pick them; global designs take what the store hands out), works
 *                       beside the main network
 *   subnet-restriction  a network on the host's own underlay subnet is refused or does not work
 * Each tenant network is removed when its check is done (and, refused, left nothing behind).
 */
import { mustRunIn } from '../endpoint-tools.js';
import { storeBack } from '../measure-failure.js';
import type { TenantNetwork } from '../design-adapter.js';
import type { Check, CheckContext } from './check-context.js';
import { exchange } from './exchange.js';

const msg = (e: unknown) => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.slice(0, 200);

async function tenant(c: CheckContext, subnet: string, ips?: [string, string]): Promise<TenantNetwork | Error> {
  try {
    return await c.dep.addTenant!(subnet, ips);
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

export const isolationCheck: Check = async (c) => {
  if (!c.dep.addTenant) return { id: 'isolation', outcome: 'n-a', evidence: 'the design has a single network: no tenants to isolate' };
  const t = await tenant(c, '10.232.0.0/24');
  if (t instanceof Error) return { id: 'isolation', outcome: 'n-a', evidence: `a second network could not be made: ${msg(t)}` };
  const [ta, tb] = t.endpoints;
  let inside: Awaited<ReturnType<typeof exchange>>;
  let across: Awaited<ReturnType<typeof exchange>>;
  try {
    inside = await exchange(ta, tb, 'tcp', c.port());
    across = await exchange(ta, c.dep.endpoints[1]!, 'tcp', c.port(), 1);
  } finally {
    await t.remove();
  }
  const mechanism = 'separate networks (CIDR)';
  if (inside.outcome !== 'yes')
    return {
      id: 'isolation',
      outcome: 'n-a',
      mechanism,
      evidence: `the second network does not carry its own traffic: ${inside.evidence}`,
    };
  return {
    id: 'isolation',
    outcome: across.outcome === 'yes' ? 'no' : 'yes',
    mechanism,
    evidence: `inside tenant 2: ${inside.evidence}; tenant 2 → main b: ${across.evidence}`,
  };
};

export const overlapCheck: Check = async (c) => {
  const [a, b] = c.dep.endpoints as [NonNullable<(typeof c.dep.endpoints)[0]>, NonNullable<(typeof c.dep.endpoints)[1]>];
  if (!c.dep.addTenant || !c.dep.subnet) return { id: 'overlap', outcome: 'n-a', evidence: 'the design has a single network: no tenants' };
  const t = await tenant(c, c.dep.subnet, [a.address, b.address]);
  if (t instanceof Error)
    return {
      id: 'overlap',
      outcome: 'no',
      evidence: `a second network on ${c.dep.subnet} with ${a.address}, ${b.address} was refused: ${msg(t)}`,
    };
  let inTenant: Awaited<ReturnType<typeof exchange>>;
  let inMain: Awaited<ReturnType<typeof exchange>>;
  try {
    inTenant = await exchange(t.endpoints[0], t.endpoints[1], 'tcp', c.port());
    inMain = await exchange(a, b, 'tcp', c.port());
  } finally {
    await t.remove();
  }
  const both = inTenant.outcome === 'yes' && inMain.outcome === 'yes';
  return {
    id: 'overlap',
    outcome: both ? 'yes' : 'no',
    evidence: `two networks on ${c.dep.subnet} (tenant 2 at ${t.endpoints[0].address}, ${t.endpoints[1].address}; main at ${a.address}, ${b.address}); tenant 2: ${inTenant.evidence}; main: ${inMain.evidence}`,
  };
};

export const subnetRestrictionCheck: Check = async (c) => {
  if (!c.dep.addTenant)
    return { id: 'subnet-restriction', outcome: 'n-a', evidence: 'the design cannot make a network on a chosen subnet' };
  const base = c.hostSubnet.split('/')[0]!.split('.').slice(0, 3).join('.');
  const ips: [string, string] = [`${base}.150`, `${base}.151`];
  const t = await tenant(c, c.hostSubnet, ips);
  if (t instanceof Error)
    return { id: 'subnet-restriction', outcome: 'yes', evidence: `a network on the host subnet ${c.hostSubnet} was refused: ${msg(t)}` };
  let works: Awaited<ReturnType<typeof exchange>>;
  let under: string;
  try {
    works = await exchange(t.endpoints[0], t.endpoints[1], 'tcp', c.port());
    // The host's own underlay must keep working beside it.
    const peer = c.lab.host(c.hosts[1] ?? c.hosts[0]!).address;
    under = await mustRunIn(c.lab.host(c.hosts[0]!).ns, ['busybox', 'ping', '-c', '1', '-W', '2', peer]).then(
      () => 'underlay still answers',
      (e: unknown) => `underlay broken: ${msg(e)}`,
    );
  } finally {
    // Such a network can take the route to the store or to other hosts: it goes at once, and
    // the next step waits until every weftd reads the store again.
    await t.remove();
    await storeBack(c.lab);
  }
  const ok = works.outcome === 'yes' && under === 'underlay still answers';
  return {
    id: 'subnet-restriction',
    outcome: ok ? 'no' : 'yes',
    evidence: `network on ${c.hostSubnet} created; ${works.evidence}; ${under}`,
  };
};
