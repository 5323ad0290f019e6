/**
 * One cluster agent in its own process, for the multi-host IPAM race (060-cluster-agent).
 * Inert unless WEFT_AGENT_CHILD=1. Prints one JSON line with what it allocated.
 *   alloc URL PREFIX HOST COUNT START_AT_MS POOL   allocate COUNT addresses (4 at a time) until
 *                                                  done or the pool is exhausted
 */
import { EtcdStore } from '../../src/store/etcd-store.js';
import { parseEtcdUrl } from '../../src/store/etcd-url.js';
import { EtcdClusterAgent } from '../../src/cluster/cluster-agent.js';
import { WeftError } from '../../src/errors.js';

async function main([mode, url, prefix, host, count, startAt, pool]: string[]): Promise<void> {
  if (mode !== 'alloc' || !url || !prefix || !host || !pool) throw new Error('usage: alloc URL PREFIX HOST COUNT START_AT POOL');
  const store = await EtcdStore.open({ target: parseEtcdUrl(url), prefix });
  const agent = new EtcdClusterAgent(store, {
    identity: { id: host, token: `token-of-${host}-0123456789` },
    name: host,
    address: '198.18.0.1',
  });
  await agent.start();
  await new Promise((r) => setTimeout(r, Math.max(0, Number(startAt) - Date.now())));
  const got: { address: string; borrowed: boolean; handle: string }[] = [];
  let exhausted = false;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!exhausted && next < Number(count)) {
      const handle = `${host}-ep${next++}`;
      try {
        const a = await agent.allocate(pool, handle);
        got.push({ address: a.address, borrowed: a.borrowed, handle });
      } catch (err) {
        if (err instanceof WeftError && err.code === 'WEFT_IPAM_EXHAUSTED') exhausted = true;
        else throw err;
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  process.stdout.write(JSON.stringify({ host, got, exhausted, requests: store.requests }) + '\n');
  await agent.stop();
  await store.close();
}

if (process.env.WEFT_AGENT_CHILD === '1') {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exit(1);
  });
}
