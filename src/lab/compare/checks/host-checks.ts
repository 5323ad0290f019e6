/**
 * The rows decided on the endpoints and the store:
 *   names  b resolves a's name (getent, with b's own /etc/hosts and resolv.conf)
 *   store  with the store (etcd) stopped: a new endpoint on a's host is made and b connects to it,
 *          and (designs with more than one network) a new network is made and carries traffic
 *   vnic   the route to the peer leaves by a different interface than the endpoint's default route
 */
import { sleep } from '../../sim-host.js';
import { storeBack } from '../measure-failure.js';
import { brief } from '../endpoint-tools.js';
import type { Check } from './check-context.js';
import { exchange } from './exchange.js';

export const namesCheck: Check = async (c) => {
  const [a, b] = [c.dep.endpoints[0]!, c.dep.endpoints[1]!];
  const r = await b.exec(['getent', 'ahostsv4', a.name], { timeoutMs: 10_000 });
  const ok = r.code === 0 && r.stdout.includes(a.address);
  return {
    id: 'names',
    outcome: ok ? 'yes' : 'no',
    evidence: `getent ahostsv4 ${a.name} in ${b.id} (${b.host}): ${r.code === 0 ? r.stdout.trim().split('\n')[0] : brief(r)}`,
  };
};

export const storeCheck: Check = async (c) => {
  const etcd = c.lab.state.etcd[0];
  if (!etcd) return { id: 'store', outcome: 'no', evidence: 'the lab runs without a store and the design works' };
  const [a, b] = [c.dep.endpoints[0]!, c.dep.endpoints[1]!];
  await c.lab.kill(etcd.name);
  const found: string[] = [];
  let needed = false;
  try {
    await sleep(1000);
    // A host that already holds its share (a Flannel lease, say) may make endpoints from it
    // without the store; making a new network is what asks the store for a new share.
    try {
      const ep = await c.dep.addEndpoint(a.host, 900);
      try {
        const t = await exchange(b, ep, 'tcp', c.port(), 2);
        if (t.outcome !== 'yes') needed = true;
        found.push(`new endpoint on ${a.host} made; ${t.evidence}`);
      } finally {
        await c.dep.removeEndpoint(ep);
      }
    } catch (err) {
      needed = true;
      found.push(`a new endpoint could not be made: ${(err as Error).message.slice(0, 200)}`);
    }
    if (c.dep.addTenant) {
      try {
        const t = await c.dep.addTenant(STORE_PROBE_SUBNET);
        const x = await exchange(t.endpoints[1], t.endpoints[0], 'tcp', c.port(), 2);
        if (x.outcome !== 'yes') needed = true;
        found.push(`a new network on ${STORE_PROBE_SUBNET} made; ${x.evidence}`);
      } catch (err) {
        // Only the store's absence counts: a design may refuse a second network for its own
        // reasons (macvlan: one network per parent), which says nothing about the store.
        const m = (err as Error).message;
        const storeAway = STORE_AWAY.test(m);
        if (storeAway) needed = true;
        found.push(`a new network could not be made${storeAway ? '' : ' (not for the store: not counted)'}: ${m.slice(0, 200)}`);
      }
    }
  } finally {
    await c.lab.start(etcd.name);
    await storeBack(c.lab);
  }
  return { id: 'store', outcome: needed ? 'yes' : 'no', evidence: `store ${etcd.name} stopped; ${found.join('; ')}` };
};

/** How weft says the cluster store is away (its stable error code, or the store client's words). */
const STORE_AWAY = /WEFT_STORE_UNAVAILABLE|store unavailable/;

/** The subnet of the network the store check makes (no other check's tenant uses it). */
const STORE_PROBE_SUBNET = '10.230.0.0/24';

export const vnicCheck: Check = async (c) => {
  if (c.adapter.endpointIsHost) return { id: 'vnic', outcome: 'n-a', evidence: 'the endpoints are the hosts themselves, not workloads' };
  const [a, b] = [c.dep.endpoints[0]!, c.dep.endpoints[1]!];
  const dev = async (args: string[]): Promise<string | undefined> => {
    const r = await a.exec(['ip', '-j', ...args], { timeoutMs: 10_000 });
    if (r.code !== 0) return undefined;
    const j = JSON.parse(r.stdout || '[]') as { dev?: string }[];
    return j[0]?.dev;
  };
  const links = await a.exec(['ip', '-o', 'link', 'show'], { timeoutMs: 10_000 });
  const names = links.stdout
    .split('\n')
    .map((l) => /^\d+:\s+([^:@]+)/.exec(l)?.[1])
    .filter((n): n is string => !!n && n !== 'lo');
  const toPeer = await dev(['route', 'get', b.address]);
  const dflt = await dev(['route', 'show', 'default']);
  const separate = names.length > 1 && !!toPeer && !!dflt && toPeer !== dflt;
  return {
    id: 'vnic',
    outcome: separate ? 'yes' : 'no',
    evidence: `interfaces in ${a.id}: ${names.join(', ') || 'none'}; route to ${b.address} via ${toPeer ?? '?'}; default via ${dflt ?? 'none'}`,
  };
};
