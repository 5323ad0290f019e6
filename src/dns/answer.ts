/**
 * What the embedded DNS does with one decoded query: answer from the record table, or hand it
 * to the forwarder. Pure (the table's round-robin counter is the only state touched).
 */
import type { Answer, DecodedPacket, Packet, Question } from 'dns-packet';
import * as dnsPacket from 'dns-packet';
import type { DnsRecordTable } from './records.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = (typeof RCODE)[keyof typeof RCODE];

/** Docker's embedded DNS answers with this TTL; names change when containers come and go. */
export const DEFAULT_TTL = 600;
/** The EDNS payload size we advertise (DNS flag day 2020: avoids IP fragmentation). */
export const EDNS_PAYLOAD = 1232;

export type Decision =
  /** `rotations` > 1: the answer section may be served in that many rotated orders. */
  { kind: 'reply'; packet: Packet; rotations: number } | { kind: 'forward'; question: Question };

export interface DecideOptions {
  ttl: number;
  /** False on internal networks: names the table does not own are refused, not forwarded. */
  forward: boolean;
}

/** The decoded header fields dns-packet provides but its types leave out. */
type DecodedQuery = DecodedPacket & { opcode?: string };

function queryOpt(q: Packet): Answer | undefined {
  return q.additionals?.find((a) => a.type === 'OPT');
}

/** Response flags: RD copied from the query (RFC 1035 §4.1.1), RA since we recurse via upstreams. */
function replyFlags(query: DecodedQuery, rcode: Rcode, authoritative: boolean): number {
  let f = dnsPacket.RECURSION_AVAILABLE | rcode;
  if (query.flag_rd) f |= dnsPacket.RECURSION_DESIRED;
  if (query.flag_cd) f |= dnsPacket.CHECKING_DISABLED;
  if (authoritative) f |= dnsPacket.AUTHORITATIVE_ANSWER;
  return f;
}

/** Answer with only our own OPT record when the client spoke EDNS (RFC 6891 §7). */
function ednsAdditionals(query: Packet): Answer[] {
  if (!queryOpt(query)) return [];
  return [
    { type: 'OPT', name: '.', udpPayloadSize: EDNS_PAYLOAD, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] },
  ];
}

/** A reply carrying only a status (and the question, when there was a usable one). */
export function statusReply(query: DecodedQuery, rcode: Rcode, authoritative = false): Packet {
  return {
    type: 'response',
    id: query.id ?? 0,
    flags: replyFlags(query, rcode, authoritative),
    questions: (query.questions ?? []).slice(0, 1),
    answers: [],
    additionals: ednsAdditionals(query),
  };
}

/** FORMERR for bytes that did not decode: only the ID can be trusted. */
export function formerrFor(id: number): Packet {
  return { type: 'response', id, flags: RCODE.FORMERR, questions: [], answers: [] };
}

/** The same reply with its records dropped and TC set: "ask again over TCP". */
export function truncatedReply(reply: Packet): Packet {
  return { ...reply, flags: (reply.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE, answers: [], authorities: [] };
}

/** The largest UDP reply this client accepts: 512 without EDNS, else its size capped at 4096. */
export function udpLimit(query: Packet): number {
  const opt = queryOpt(query) as { udpPayloadSize?: number } | undefined;
  if (!opt || !opt.udpPayloadSize) return 512;
  return Math.max(512, Math.min(opt.udpPayloadSize, 4096));
}

/** Validate a decoded query; undefined when it is a proper single-question QUERY. */
export function rejectQuery(query: DecodedQuery): Packet | 'drop' | undefined {
  // Never answer responses: two resolvers pointed at each other would loop.
  if (query.type === 'response') return 'drop';
  if (query.opcode !== undefined && query.opcode !== 'QUERY') return statusReply({ ...query, questions: [] }, RCODE.NOTIMP);
  if (!query.questions || query.questions.length !== 1) return statusReply({ ...query, questions: [] }, RCODE.FORMERR);
  return undefined;
}

/** Decide how to answer a valid single-question query arriving on a network. */
export function decide(table: DnsRecordTable, networkId: string, query: DecodedQuery, opts: DecideOptions): Decision {
  const q = query.questions![0]!;
  const cls = q.class ?? 'IN';
  const local = (answers: Answer[], rcode: Rcode = RCODE.NOERROR): Decision => ({
    kind: 'reply',
    packet: { ...statusReply(query, rcode, true), answers },
    rotations: answers.length,
  });
  const notOurs = (): Decision =>
    opts.forward ? { kind: 'forward', question: q } : { kind: 'reply', packet: statusReply(query, RCODE.REFUSED), rotations: 1 };
  if (cls !== 'IN' && cls !== 'ANY') return notOurs();

  switch (q.type) {
    case 'A':
    case 'AAAA': {
      const addrs = table.lookup(networkId, q.name, q.type);
      if (addrs === undefined) return notOurs();
      return local(addrs.map((data) => ({ type: q.type as 'A' | 'AAAA', name: q.name, ttl: opts.ttl, class: 'IN', data })));
    }
    case 'PTR': {
      const name = table.reverse(networkId, q.name);
      if (name !== undefined) return local([{ type: 'PTR', name: q.name, ttl: opts.ttl, class: 'IN', data: name }]);
      // Our own subnets are never asked of the outside world: they would only leak or fail.
      if (table.isLocalReverse(networkId, q.name)) return local([], RCODE.NXDOMAIN);
      return notOurs();
    }
    default: {
      if (!table.has(networkId, q.name)) return notOurs();
      if ((q.type as string) !== 'ANY') return local([]);
      // ANY for one of our names: both families, without rotating (RFC 8482 allows a subset).
      const both = (['A', 'AAAA'] as const).flatMap((t) =>
        (table.lookup(networkId, q.name, t) ?? []).map((data) => ({ type: t, name: q.name, ttl: opts.ttl, class: 'IN' as const, data })),
      );
      return { ...(local(both) as { kind: 'reply'; packet: Packet }), rotations: 1 };
    }
  }
}

/** The reply with its answer section rotated k places (for pre-encoding round-robin orders). */
export function rotateAnswers(reply: Packet, k: number): Packet {
  const a = reply.answers ?? [];
  if (a.length < 2 || k % a.length === 0) return reply;
  const s = k % a.length;
  return { ...reply, answers: [...a.slice(s), ...a.slice(0, s)] };
}
