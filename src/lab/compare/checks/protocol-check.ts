/** Protocol support: TCP, UDP, ICMP, ICMPv6, SCTP and a raw IP protocol, each sent from a to b. */
import type { Outcome, Protocol } from '../compare-types.js';
import type { Check } from './check-context.js';
import { exchange, ping, type Trial } from './exchange.js';

export const protocolCheck: Check = async (c) => {
  const [a, b] = c.dep.endpoints as [NonNullable<(typeof c.dep.endpoints)[0]>, NonNullable<(typeof c.dep.endpoints)[1]>];
  const trials: Record<Protocol, Trial> = {
    TCP: await exchange(a, b, 'tcp', c.port()),
    UDP: await exchange(a, b, 'udp', c.port(), 3),
    ICMP: await ping(a, b.address),
    ICMPv6: b.address6 ? await ping(a, b.address6, true) : { outcome: 'n-a', evidence: `${b.id} has no IPv6 address on this design` },
    SCTP: await exchange(a, b, 'sctp', c.port()),
    'raw IP': await exchange(a, b, 'raw', 0),
  };
  const protocols = Object.fromEntries(Object.entries(trials).map(([k, t]) => [k, t.outcome])) as Record<Protocol, Outcome>;
  const tried = Object.values(trials).filter((t) => t.outcome !== 'n-a');
  return {
    id: 'protocols',
    outcome: tried.length === 0 ? 'n-a' : tried.every((t) => t.outcome === 'yes') ? 'yes' : 'no',
    protocols,
    evidence: Object.entries(trials)
      .map(([k, t]) => `${k}: ${t.outcome} (${t.evidence})`)
      .join('; '),
  };
};
