/**
 * Helpers that the cluster tests and benchmarks on a ClusterLab share (they were copies in
 * test/netns/430-cluster-global, 431-cluster-concurrency, 434-store-recovery and
 * bench/cluster-attach): a REST client per host, a job pool with a bound on calls in flight, a
 * bounded wait, the remote endpoints a host was told about, and etcd's records read with
 * etcdctl from inside a host (never from the root namespace).
 */
import { WeftClient } from '../cli/client.js';
import type { ClusterLab } from './cluster-lab.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A REST client for one host's weftd; the caller closes it or lets it go. */
export function labClient(lab: ClusterLab, host: string, timeoutMs: number): WeftClient {
  return new WeftClient(lab.host(host).socket, timeoutMs);
}

/** Run jobs with at most `n` in flight; results in the jobs' order. */
export async function pool<T>(n: number, jobs: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array<T>(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await jobs[i]!();
      }
    }),
  );
  return out;
}

/**
 * Ask `fn` every `everyMs` until it returns a value; a thrown error counts as "not yet" and is
 * named in the timeout error after `ms`.
 */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, ms = 30_000, everyMs = 250): Promise<T> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await sleep(everyMs);
  }
}

/** Remote endpoints a host's driver was told about on a network, per peer host name (inspect's Peers). */
export async function peerEndpoints(c: WeftClient, net: string): Promise<Map<string, number>> {
  const v = await c.request<{ Peers?: { Name: string; Endpoints: unknown[] }[] }[]>('GET', `/v1/networks/${net}`);
  const n = Array.isArray(v) ? v[0] : v;
  return new Map((n?.Peers ?? []).map((p) => [p.Name, p.Endpoints.length]));
}

/** Their sum. */
export const sumOf = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/** The JSON values under a key prefix of the lab's etcd, read with etcdctl inside `host`. */
export async function etcdValues<T>(lab: ClusterLab, host: string, prefix: string, timeoutMs?: number): Promise<T[]> {
  const ep = lab.state
    .etcdUrl!.replace('etcd://', '')
    .split(',')
    .map((x) => `http://${x}`)
    .join(',');
  const r = await lab.exec(
    host,
    ['etcdctl', `--endpoints=${ep}`, 'get', '--prefix', prefix, '--print-value-only'],
    timeoutMs === undefined ? {} : { timeoutMs },
  );
  if (r.code !== 0) throw new Error(`etcdctl: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as T);
}
