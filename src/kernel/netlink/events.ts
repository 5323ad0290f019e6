/** Decoding of rtnetlink multicast notifications into `RtnlEvent`s (pure). */
import type { NlMsg } from './codec.js';
import * as C from './constants.js';
import { parseAddress } from './addr-msg.js';
import { parseLink } from './link-msg.js';
import { parseNeighbour } from './neigh-msg.js';
import { parseRoute } from './route-msg.js';
import type { RtnlEvent } from './types.js';

/** Names accepted by `subscribe` for the multicast groups. */
export type RtnlGroup = 'link' | 'ipv4-addr' | 'ipv6-addr' | 'ipv4-route' | 'ipv6-route' | 'neigh';

export const GROUP_NUMBERS: Record<RtnlGroup, number> = {
  link: C.RTNLGRP.LINK,
  'ipv4-addr': C.RTNLGRP.IPV4_IFADDR,
  'ipv6-addr': C.RTNLGRP.IPV6_IFADDR,
  'ipv4-route': C.RTNLGRP.IPV4_ROUTE,
  'ipv6-route': C.RTNLGRP.IPV6_ROUTE,
  neigh: C.RTNLGRP.NEIGH,
};

/** One notification → an event, or undefined for messages of no interest. */
export function decodeEvent(m: NlMsg): RtnlEvent | undefined {
  switch (m.type) {
    case C.RTM_NEWLINK:
    case C.RTM_DELLINK:
      return { type: 'link', action: m.type === C.RTM_NEWLINK ? 'new' : 'del', ...parseLink(m) };
    case C.RTM_NEWADDR:
    case C.RTM_DELADDR: {
      const a = parseAddress(m);
      return a && { type: 'addr', action: m.type === C.RTM_NEWADDR ? 'new' : 'del', ...a };
    }
    case C.RTM_NEWROUTE:
    case C.RTM_DELROUTE: {
      const r = parseRoute(m);
      if (!r) return undefined;
      const { type: routeType, ...rest } = r;
      return { ...rest, type: 'route', action: m.type === C.RTM_NEWROUTE ? 'new' : 'del', routeType };
    }
    case C.RTM_NEWNEIGH:
    case C.RTM_DELNEIGH: {
      const n = parseNeighbour(m);
      return n && { type: 'neigh', action: m.type === C.RTM_NEWNEIGH ? 'new' : 'del', ...n };
    }
    default:
      return undefined;
  }
}
