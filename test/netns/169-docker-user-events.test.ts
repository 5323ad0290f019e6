/**
 * weftd keeps ACCEPT rules for its bridges in Docker's DOCKER-USER chain, and puts them back
 * when dockerd (or anyone) flushes or re-creates that chain — without forking `iptables` while
 * nothing changes. With iptables-nft the kernel reports changes of `ip filter DOCKER-USER`;
 * weftd answers those instead of listing the chain every 3 s (≈ 36 ms of its main thread each).
 * Every iptables run of weftd goes through a logging wrapper on its PATH, so the test counts them.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';
import { SimHost, mustRun, run, sleep, waitFor } from '../../src/lab/sim-host.js';

const flavour = (await run('iptables', ['-V'])).stdout;
const NOT_NFT = /\(nf_tables\)/.test(flavour) ? false : `iptables here is not iptables-nft (${flavour.trim()})`;

describe('DOCKER-USER rules follow nf_tables change events', { skip: NOT_NFT, timeout: 120_000 }, () => {
  let h: SimHost;
  let log: string;
  const ipt = (args: string[]) => mustRun('nsenter', [`--net=${h.nsPath}`, 'iptables', '-w', '5', ...args]);
  const rules = async () => await ipt(['-S', 'DOCKER-USER']);
  let bridge = '';
  /** Both rules of the network's bridge, each exactly once. */
  const hasOurs = async () => {
    const r = (await rules()).split('\n');
    return (
      r.filter((l) => l === `-A DOCKER-USER -i ${bridge} -j ACCEPT`).length === 1 &&
      r.filter((l) => l === `-A DOCKER-USER -o ${bridge} -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT`).length === 1
    );
  };
  const hasNone = async () => !(await rules()).includes(bridge);
  /** weftd's iptables runs so far: [epoch ms, arguments]. */
  const timedCalls = () =>
    readFileSync(log, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [Number(l.slice(0, l.indexOf(' '))), l.slice(l.indexOf(' ') + 1)] as const);
  const calls = () => timedCalls().map(([, args]) => args);
  /** The runs since t0, with their time after t0, for the test's diagnostics. */
  const callsSince = (t0: number) =>
    timedCalls()
      .filter(([t]) => t >= t0)
      .map(([t, a]) => `+${t - t0} ms ${a}`)
      .join('; ');

  before(async () => {
    h = await SimHost.create('tdu');
    log = path.join(h.dir, 'iptables.log');
    writeFileSync(log, '');
    const wrapper = path.join(h.dir, 'bin', 'iptables');
    await mustRun('mkdir', ['-p', path.dirname(wrapper)]);
    const real = (await mustRun('sh', ['-c', 'command -v iptables'])).trim();
    writeFileSync(wrapper, `#!/bin/sh\necho "$(date +%s%3N) $*" >> '${log}'\nexec '${real}' "$@"\n`);
    chmodSync(wrapper, 0o755);
    // dockerd's chain, as it leaves it: present before weftd starts.
    await ipt(['-N', 'DOCKER-USER']);
    const saved = process.env.PATH;
    process.env.PATH = `${path.dirname(wrapper)}:${saved ?? ''}`;
    try {
      await h.start([], 60_000); // this machine is shared: a Node start may take long
    } finally {
      process.env.PATH = saved;
    }
    const id = (await h.cliOk(['network', 'create', '--subnet', '10.169.0.0/24', 'tdnet'])).trim();
    bridge = `wf-${id.slice(0, 12)}`; // the bridge driver's name for it (src/drivers/ifnames.ts)
    await waitFor("weft's ACCEPT rules in DOCKER-USER", hasOurs, 10_000);
  });
  after(async () => {
    await h?.cleanup();
  });

  it('the wrapper sees weftd’s iptables runs (the count below can fail)', () => {
    assert.ok(
      calls().some((c) => c.includes('DOCKER-USER')),
      calls().join('\n'),
    );
  });

  it('no iptables run while nothing changes', async () => {
    const before = calls().length;
    await sleep(7000); // more than two of the old 3 s polling periods
    assert.deepEqual(calls().slice(before), []);
  });

  it('a rule someone else adds there does not wake weftd', async () => {
    const before = calls().length;
    await ipt(['-A', 'DOCKER-USER', '-j', 'RETURN']);
    await sleep(1000);
    assert.deepEqual(calls().slice(before), []);
  });

  // Bounds are generous: under load one iptables run takes 250 ms here, and a resync is four.
  // Times are from before the change (the change itself is an iptables run too).
  it('a flushed chain gets its rules back', async (t) => {
    const t0 = Date.now();
    await ipt(['-F', 'DOCKER-USER']);
    await waitFor('rules back after a flush', hasOurs, 10_000, 500);
    t.diagnostic(`back after ${Date.now() - t0} ms (load ${loadavg()[0]!.toFixed(1)}): ${callsSince(t0)}`);
  });

  it('a re-created chain (dockerd restarted) gets them back', async (t) => {
    const t0 = Date.now();
    await mustRun('nsenter', [
      `--net=${h.nsPath}`,
      'sh',
      '-c',
      'iptables -F DOCKER-USER && iptables -X DOCKER-USER && iptables -N DOCKER-USER',
    ]);
    await waitFor('rules back in the new chain', hasOurs, 10_000, 500);
    t.diagnostic(`back after ${Date.now() - t0} ms (load ${loadavg()[0]!.toFixed(1)}): ${callsSince(t0)}`);
  });

  it('network rm removes them', async () => {
    await h.cliOk(['network', 'rm', 'tdnet']);
    await waitFor('rules gone after network rm', hasNone, 5000);
  });
});
