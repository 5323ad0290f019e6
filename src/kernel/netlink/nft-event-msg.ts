/**
 * Decoding of nf_tables change notifications (NETLINK_NETFILTER, group NFNLGRP_NFTABLES) into
 * `NftEvent`s (pure). Only what tells a listener which table/chain changed is decoded; the
 * kernel sends one message per object of a committed transaction (iptables-nft included).
 */
import { attrStr, parseAttrs, type NlMsg } from './codec.js';

export const NETLINK_NETFILTER = 12;
export const NFNLGRP_NFTABLES = 7;
export const NFNL_SUBSYS_NFTABLES = 10;
/** struct nfgenmsg: family u8, version u8, res_id be16. */
const NFGENMSG_LEN = 4;

/** nf_tables message numbers (low byte of the netlink type); DESTROY* are deletions too. */
const MSG = {
  NEWTABLE: 0,
  DELTABLE: 2,
  NEWCHAIN: 3,
  DELCHAIN: 5,
  NEWRULE: 6,
  DELRULE: 8,
  DESTROYTABLE: 26,
  DESTROYCHAIN: 27,
  DESTROYRULE: 28,
} as const;

/** NFTA_TABLE_NAME / NFTA_CHAIN_TABLE / NFTA_RULE_TABLE are all attribute 1. */
const ATTR_TABLE = 1;
const NFTA_CHAIN_NAME = 3;
const NFTA_RULE_CHAIN = 2;

/** nfgen_family values (NFPROTO_*) weft names. */
export const NFPROTO = { INET: 1, IPV4: 2, ARP: 3, NETDEV: 5, BRIDGE: 7, IPV6: 10 } as const;

export interface NftEvent {
  object: 'table' | 'chain' | 'rule';
  action: 'new' | 'del';
  /** NFPROTO_* of the table (2 = ip, the family iptables-nft uses for IPv4). */
  family: number;
  table: string;
  /** For chain and rule events. */
  chain?: string;
}

const KIND: Record<number, [NftEvent['object'], NftEvent['action']]> = {
  [MSG.NEWTABLE]: ['table', 'new'],
  [MSG.DELTABLE]: ['table', 'del'],
  [MSG.DESTROYTABLE]: ['table', 'del'],
  [MSG.NEWCHAIN]: ['chain', 'new'],
  [MSG.DELCHAIN]: ['chain', 'del'],
  [MSG.DESTROYCHAIN]: ['chain', 'del'],
  [MSG.NEWRULE]: ['rule', 'new'],
  [MSG.DELRULE]: ['rule', 'del'],
  [MSG.DESTROYRULE]: ['rule', 'del'],
};

/** One notification → an event; undefined for other subsystems, generations, sets, objects. */
export function decodeNftEvent(m: NlMsg): NftEvent | undefined {
  if (m.type >> 8 !== NFNL_SUBSYS_NFTABLES || m.payload.length < NFGENMSG_LEN) return undefined;
  const kind = KIND[m.type & 0xff];
  if (!kind) return undefined;
  const [object, action] = kind;
  const a = parseAttrs(m.payload, NFGENMSG_LEN);
  const table = attrStr(a, ATTR_TABLE);
  if (table === undefined) return undefined;
  const chain = object === 'chain' ? attrStr(a, NFTA_CHAIN_NAME) : object === 'rule' ? attrStr(a, NFTA_RULE_CHAIN) : undefined;
  return { object, action, family: m.payload.readUInt8(0), table, ...(chain === undefined ? {} : { chain }) };
}
