/**
 * Host integrations another manager may reset (Docker's DOCKER-USER) are re-ensured when the
 * kernel reports a change that concerns them, not by listing iptables on a timer: the decoder
 * of nf_tables notifications, the filter that says which ones touch DOCKER-USER, and the
 * firewall service's answer to a burst (one resync after it; a change during a resync earns one
 * more run after it).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeNftEvent, NFNL_SUBSYS_NFTABLES, NFPROTO } from '../../src/kernel/netlink/nft-event-msg.js';
import { dockerUserChainTouched } from '../../src/firewall/docker-user-chain.js';
import { FirewallService, type FirewallModel } from '../../src/daemon/firewall-service.js';
import { NoneFirewall } from '../../src/firewall/none-firewall.js';
import type { HostIntegration } from '../../src/firewall/host-integration.js';
import type { Logger } from '../../src/logger.js';
import type { NlMsg } from '../../src/kernel/netlink/codec.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function attr(type: number, s: string): Buffer {
  const data = Buffer.from(s + '\0');
  const b = Buffer.alloc((4 + data.length + 3) & ~3);
  b.writeUInt16LE(4 + data.length, 0);
  b.writeUInt16LE(type, 2);
  data.copy(b, 4);
  return b;
}

/** An nf_tables notification as the kernel sends it: nfgenmsg, then attributes. */
function nftMsg(msg: number, family: number, attrs: Buffer[], subsys = NFNL_SUBSYS_NFTABLES): NlMsg {
  const gen = Buffer.from([family, 0, 0, 0]);
  return { type: (subsys << 8) | msg, flags: 0, seq: 0, pid: 0, payload: Buffer.concat([gen, ...attrs]) };
}

describe('nf_tables notifications', () => {
  it('decodes table, chain and rule changes with their table and chain', () => {
    assert.deepEqual(decodeNftEvent(nftMsg(0, NFPROTO.IPV4, [attr(1, 'filter')])), {
      object: 'table',
      action: 'new',
      family: NFPROTO.IPV4,
      table: 'filter',
    });
    assert.deepEqual(decodeNftEvent(nftMsg(3, NFPROTO.IPV4, [attr(1, 'filter'), attr(3, 'DOCKER-USER')])), {
      object: 'chain',
      action: 'new',
      family: NFPROTO.IPV4,
      table: 'filter',
      chain: 'DOCKER-USER',
    });
    assert.deepEqual(decodeNftEvent(nftMsg(8, NFPROTO.INET, [attr(1, 'weft'), attr(2, 'forward')])), {
      object: 'rule',
      action: 'del',
      family: NFPROTO.INET,
      table: 'weft',
      chain: 'forward',
    });
    // NFT_MSG_DESTROYRULE (kernel 6.3+) is a deletion too.
    assert.equal(decodeNftEvent(nftMsg(28, NFPROTO.IPV4, [attr(1, 'filter'), attr(2, 'DOCKER-USER')]))?.action, 'del');
  });

  it('ignores other subsystems, sets, generations and truncated messages', () => {
    assert.equal(decodeNftEvent(nftMsg(0, NFPROTO.IPV4, [attr(1, 'filter')], 1)), undefined); // ctnetlink
    assert.equal(decodeNftEvent(nftMsg(9, NFPROTO.INET, [attr(1, 'weft')])), undefined); // NEWSET
    assert.equal(decodeNftEvent(nftMsg(15, NFPROTO.INET, [])), undefined); // NEWGEN
    assert.equal(decodeNftEvent({ type: NFNL_SUBSYS_NFTABLES << 8, flags: 0, seq: 0, pid: 0, payload: Buffer.alloc(2) }), undefined);
  });

  it('only a new DOCKER-USER chain, a rule removed from it, or lost notifications wake the resync', () => {
    const ev = (
      object: 'table' | 'chain' | 'rule',
      action: 'new' | 'del',
      chain?: string,
      table = 'filter',
      family: number = NFPROTO.IPV4,
    ) => ({
      object,
      action,
      family,
      table,
      ...(chain ? { chain } : {}),
    });
    assert.equal(dockerUserChainTouched(ev('chain', 'new', 'DOCKER-USER')), true);
    assert.equal(dockerUserChainTouched(ev('rule', 'del', 'DOCKER-USER')), true);
    assert.equal(dockerUserChainTouched('overrun'), true);
    // weft's own inserts, other chains, tables and families do not.
    assert.equal(dockerUserChainTouched(ev('rule', 'new', 'DOCKER-USER')), false);
    assert.equal(dockerUserChainTouched(ev('chain', 'del', 'DOCKER-USER')), false);
    assert.equal(dockerUserChainTouched(ev('rule', 'del', 'FORWARD')), false);
    assert.equal(dockerUserChainTouched(ev('table', 'new')), false);
    assert.equal(dockerUserChainTouched(ev('rule', 'del', 'DOCKER-USER', 'weft', NFPROTO.INET)), false);
    assert.equal(dockerUserChainTouched(ev('rule', 'del', 'DOCKER-USER', 'filter', NFPROTO.IPV6)), false);
  });
});

describe('firewall service: integrations follow change events', () => {
  const quiet: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined };
  const model: FirewallModel = {
    firewallView: () => undefined,
    firewallState: () => Promise.resolve({ networks: [], ports: [] }),
    sandboxPortMappings: () => [],
  };

  /** An integration whose change events the test fires; counts resyncs, each taking `resyncMs`. */
  function watched(resyncMs = 0) {
    const s = { resyncs: 0, closed: false, fire: (): void => undefined };
    const i: HostIntegration = {
      name: 'test',
      required: false,
      networkUp: () => Promise.resolve(),
      networkDown: () => Promise.resolve(),
      resync: async () => {
        s.resyncs++;
        await sleep(resyncMs);
      },
      watchChanges: (onChange) => {
        s.fire = onChange;
        return Promise.resolve({ close: () => void (s.closed = true) });
      },
    };
    return { s, i };
  }

  it('one resync when watching starts, one after a burst of changes, none while nothing changes', async () => {
    const { s, i } = watched();
    const svc = new FirewallService(new NoneFirewall(), [i], model, quiet);
    svc.watch(1000);
    try {
      await sleep(300);
      assert.equal(s.resyncs, 1, 'a change before the subscription is not missed');
      for (let k = 0; k < 20; k++) s.fire();
      await sleep(300);
      assert.equal(s.resyncs, 2, 'a burst is answered once');
      await sleep(3500); // longer than the old 3 s polling period
      assert.equal(s.resyncs, 2, 'no resync without a change');
    } finally {
      svc.stop();
    }
    assert.equal(s.closed, true, 'stop closes the subscription');
  });

  it('a change while a resync runs is not lost: one more run follows', async () => {
    const { s, i } = watched(400);
    const svc = new FirewallService(new NoneFirewall(), [i], model, quiet);
    svc.watch(1000);
    try {
      await sleep(250); // the first resync is running
      assert.equal(s.resyncs, 1);
      s.fire();
      await sleep(1200);
      assert.equal(s.resyncs, 2);
    } finally {
      svc.stop();
    }
  });

  it('an integration that cannot watch is re-checked on a timer', async () => {
    const { s, i } = watched();
    i.watchChanges = () => Promise.resolve(undefined);
    const svc = new FirewallService(new NoneFirewall(), [i], model, quiet);
    svc.watch(1000);
    try {
      await sleep(3300);
      assert.equal(s.resyncs, 1);
    } finally {
      svc.stop();
    }
  });
});
