/**
 * weftd's deferred start of BGP and policy (started without the cluster store): a start that
 * fails once the store answers is logged with its error, retried after 1, 2, 4 … s up to 30 s,
 * shown in its status and as a doctor violation until it runs; weftd stopping cancels it. The
 * retry's timer is a fake the test fires by hand: delays are read from it, no clock is read.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, DeferredStart, type RetryTimer } from '../../src/daemon/deferred-start.js';
import { PolicyService } from '../../src/daemon/policy-service.js';
import type { ClusterAgent, PrefixMirror } from '../../src/cluster/cluster-agent.js';
import { KernelError, WeftError } from '../../src/errors.js';
import type { NftExecutor } from '../../src/kernel/nft.js';
import type { Logger } from '../../src/logger.js';
import { PolicyFirewall } from '../../src/policy/policy-firewall.js';

class FakeTimer implements RetryTimer {
  readonly pending: { ms: number; fn: () => void; cancelled: boolean }[] = [];
  /** Every delay asked for, in order. */
  readonly delays: number[] = [];
  after(ms: number, fn: () => void): () => void {
    const t = { ms, fn, cancelled: false };
    this.pending.push(t);
    this.delays.push(ms);
    return () => (t.cancelled = true);
  }
  /** Run the oldest pending timer (as if its delay had passed). */
  fire(): void {
    const t = this.pending.shift();
    assert.ok(t, 'a retry is pending');
    if (!t.cancelled) t.fn();
  }
  get live(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }
}

interface Line {
  level: string;
  fields: Record<string, unknown>;
  msg: string;
}
function recordingLog(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, fields, msg });
    };
  const log: Logger = { info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

/** Let the start's promise settle. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

class Service {
  stopped = 0;
  constructor(readonly stopFails = false) {}
  async stop(): Promise<void> {
    this.stopped++;
    if (this.stopFails) throw new Error('stop failed');
  }
}

/** A start that fails `failures` times (BIRD not coming up), then gives `service`. */
function scripted(failures: number, service = new Service()): { start: () => Promise<Service>; calls: () => number } {
  let calls = 0;
  return {
    start: async () => {
      calls++;
      if (calls <= failures) throw new KernelError('bird', `bird exited with status 1 (attempt ${calls})`);
      return service;
    },
    calls: () => calls,
  };
}

describe('deferred start (BGP/policy after the cluster store answers)', () => {
  it('backoff: 1 s doubling, capped at 30 s', () => {
    assert.deepEqual(
      Array.from({ length: 8 }, (_, i) => backoffMs(i + 1)),
      [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000],
    );
    assert.equal(backoffMs(1000), 30_000, 'no overflow after many failures');
  });

  it('fails three times, retried with backoff, logged with its error each time, visible until it runs', async () => {
    const timer = new FakeTimer();
    const { log, lines } = recordingLog();
    const svc = new Service();
    const s = scripted(3, svc);
    const adopted: Service[] = [];
    const d = new DeferredStart({ what: 'BGP', start: s.start, adopt: (x) => adopted.push(x), log, timer });
    assert.equal(d.status().state, 'waiting-for-store');
    assert.deepEqual(d.violations(), [], 'waiting for the store is not a violation');
    assert.equal(s.calls(), 0, 'nothing before the store answers');

    d.begin();
    await settle();
    assert.equal(s.calls(), 1);
    let st = d.status();
    assert.equal(st.state, 'retrying');
    assert.equal(st.failures, 1);
    assert.match(st.lastError ?? '', /bird exited with status 1 \(attempt 1\)/);
    assert.equal(st.retryInMs, 1000);
    assert.equal(d.violations().length, 1);
    assert.match(d.violations()[0]!, /^BGP is not running: .*failed 1 time.*bird exited.*next attempt 1000 ms after that failure/);
    const f = d.failure();
    assert.ok(f instanceof WeftError && f.code === 'WEFT_KERNEL', "the route's error keeps the failure's code");

    d.begin(); // a second storeUp does not start a second attempt
    await settle();
    assert.equal(s.calls(), 1);

    timer.fire();
    await settle();
    timer.fire();
    await settle();
    assert.equal(s.calls(), 3);
    assert.equal(d.status().failures, 3);
    assert.equal(d.status().retryInMs, 4000);
    timer.fire();
    await settle();

    assert.equal(s.calls(), 4);
    assert.deepEqual(timer.delays, [1000, 2000, 4000]);
    assert.equal(timer.live, 0, 'no retry pending once it runs');
    assert.deepEqual(adopted, [svc]);
    st = d.status();
    assert.equal(st.state, 'running');
    assert.equal(st.lastError, undefined);
    assert.deepEqual(d.violations(), []);
    assert.equal(d.failure(), undefined);
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 3, 'each failure logged');
    for (const [i, l] of errors.entries()) {
      assert.equal(l.fields.service, 'BGP');
      assert.match(String(l.fields.err), new RegExp(`attempt ${i + 1}`));
      assert.equal(l.fields.retryInMs, [1000, 2000, 4000][i]);
    }
    assert.ok(lines.some((l) => l.level === 'info' && /started after 3 failed/.test(l.msg)));
  });

  it('keeps trying at the cap, and weftd stopping cancels the pending retry', async () => {
    const timer = new FakeTimer();
    const { log } = recordingLog();
    const s = scripted(Infinity);
    const d = new DeferredStart({ what: 'policy', start: s.start, adopt: () => assert.fail('never runs'), log, timer });
    d.begin();
    await settle();
    for (let i = 0; i < 9; i++) {
      timer.fire();
      await settle();
    }
    assert.equal(s.calls(), 10);
    assert.deepEqual(timer.delays, [1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000, 30_000, 30_000]);
    assert.equal(timer.live, 1);
    d.cancel();
    assert.equal(timer.live, 0, 'the pending retry is cancelled');
    assert.equal(d.status().state, 'stopped');
    assert.deepEqual(d.violations(), []);
  });

  it('a start still under way when weftd stops: the service is stopped, not adopted (a failing stop is logged)', async () => {
    const timer = new FakeTimer();
    const { log, lines } = recordingLog();
    let finish!: (s: Service) => void;
    const svc = new Service(true);
    const d = new DeferredStart({
      what: 'BGP',
      start: () => new Promise<Service>((r) => (finish = r)),
      adopt: () => assert.fail('not adopted after cancel'),
      log,
      timer,
    });
    d.begin();
    await settle();
    d.cancel();
    finish(svc);
    await settle();
    await settle();
    assert.equal(svc.stopped, 1);
    assert.ok(lines.some((l) => l.level === 'warn' && /stopping BGP failed/.test(l.msg) && /stop failed/.test(String(l.fields.err))));
    assert.equal(timer.delays.length, 0);
  });

  it('policy: with requireFirstApply a refused first transaction fails the start (so it is retried); without, it runs', async () => {
    // One local endpoint on a routed network: the first transaction has work to do.
    const initial = {
      'endpoints/net/e1': JSON.stringify({ id: 'e1', hostId: 'h1', network: 'net', driver: 'routed', ipv4: '10.43.0.1', labels: {} }),
    };
    const agent = {
      hostId: 'h1',
      mirror(prefix: string, m: PrefixMirror): () => void {
        const entries = Object.entries(initial)
          .filter(([k]) => k.startsWith(prefix))
          .map(([key, value]) => ({ key, value, version: 1 }));
        queueMicrotask(() => m.onSnapshot({ entries, revision: 1 }));
        return () => undefined;
      },
    } as unknown as ClusterAgent;
    let refuse = true;
    const nft: NftExecutor = {
      apply: () => (refuse ? Promise.reject(new Error('Could not process rule: No such file or directory')) : Promise.resolve()),
      listTable: () => Promise.resolve({ nftables: [] }),
    };
    const { log } = recordingLog();
    const lenient = await PolicyService.start(agent, { log, firewall: new PolicyFirewall({ nft }) });
    assert.match(lenient.lastError ?? '', /No such file/);
    await lenient.stop();

    await assert.rejects(
      PolicyService.start(agent, { log, firewall: new PolicyFirewall({ nft }), requireFirstApply: true }),
      (err: unknown) =>
        err instanceof WeftError && err.code === 'WEFT_FIREWALL' && /first transaction failed: .*No such file/.test(err.message),
    );
    refuse = false;
    const ok = await PolicyService.start(agent, { log, firewall: new PolicyFirewall({ nft }), requireFirstApply: true });
    assert.equal(ok.lastError, undefined);
    assert.equal(ok.applies, 1);
    await ok.stop();
  });
});
