/**
 * Bad input on every path (REST JSON, CLI flags, options, names, CIDRs, MACs, port specs,
 * netns paths, PIDs): each of ≥ 1000 generated requests gets a clear typed error, and the
 * store and the kernel are exactly as before (snapshots compared).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { SimHost } from '../../src/lab/sim-host.js';
import { BAD_CLI, FIXTURE, generateBadRequests, type BadRequest } from '../../src/lab/bad-inputs.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';

function send(socket: string, r: BadRequest): Promise<{ status: number; body: string }> {
  const payload = r.raw ?? (r.body === undefined ? undefined : JSON.stringify(r.body));
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        socketPath: socket,
        method: r.method,
        path: r.path,
        headers: payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {},
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timeout')));
    if (payload) req.write(payload);
    req.end();
  });
}

describe('input hardening: generated bad inputs', () => {
  let h: SimHost;
  let store: SqliteStore;

  before(async () => {
    h = await SimHost.create('fuzz', ['--firewall', 'nftables']);
    await h.start();
    await h.cliOk(['network', 'create', '--subnet', FIXTURE.subnet, FIXTURE.network]);
    await h.client.request('POST', '/v1/sandboxes', {
      name: FIXTURE.sandbox,
      networks: [{ network: FIXTURE.network }],
      publish: [`${FIXTURE.publishedPort}:80`],
    });
    store = SqliteStore.open(path.join(h.stateDir, 'weft.db'));
  });
  after(async () => {
    await store?.close();
    await h?.cleanup();
  });

  const storeSnapshot = async (): Promise<string> =>
    JSON.stringify((await store.list('')).filter((e) => !e.key.startsWith('locks')).map((e) => [e.key, e.version, e.value]));
  const kernelSnapshot = async (): Promise<string> => {
    const parts = [
      // Operational state (UNKNOWN → UP as ports settle) is the kernel's, not a change we made.
      (await h.inHost('ip', ['-o', 'link', 'show'])).stdout
        .replace(/\s+link\/\S+ [0-9a-f:]+ brd [0-9a-f:]+/g, '')
        .replace(/ state \S+/g, ''),
      // IPv6 link-local addresses and their DAD state come and go on their own.
      (await h.inHost('ip', ['-o', 'addr', 'show'])).stdout
        .split('\n')
        .filter((l) => !l.includes(' fe80:'))
        .join('\n')
        .replace(/valid_lft.*$/gm, ''),
      (await h.inHost('ip', ['route', 'show', 'table', 'all'])).stdout
        .split('\n')
        .filter((l) => !/fe80|ff00|multicast/.test(l))
        .join('\n'),
      (await h.inHost('nft', ['list', 'table', 'inet', 'weft'])).stdout,
      readdirSync(path.join(h.runDir, 'netns')).sort().join(','),
    ];
    return parts.join('\n---\n');
  };

  it('refuses ≥ 1000 generated bad API requests with clear errors, changing nothing', async () => {
    const count = Number(process.env.WEFT_FUZZ_COUNT ?? 1000);
    const reqs = generateBadRequests(count, 4242);
    assert.ok(reqs.length >= count);
    const kernelBefore = await kernelSnapshot();
    const storeBefore = await storeSnapshot();
    const unclear: string[] = [];
    const changed: string[] = [];
    for (const [i, r] of reqs.entries()) {
      const res = await send(h.socket, r);
      let err: { code?: string; message?: string } | undefined;
      try {
        err = (JSON.parse(res.body) as { error?: { code?: string; message?: string } }).error;
      } catch {
        /* not JSON */
      }
      if (res.status < 400 || res.status >= 500 || !err?.code?.startsWith('WEFT_') || !err.message)
        unclear.push(`${r.what}: ${res.status} ${res.body.slice(0, 200)}`);
      if ((await storeSnapshot()) !== storeBefore) changed.push(`store changed by ${r.what}`);
      if ((i % 100 === 99 || process.env.WEFT_FUZZ_KERNEL_EACH) && (await kernelSnapshot()) !== kernelBefore)
        changed.push(`kernel changed by request ≤ ${i}: ${r.what}`);
      if (changed.length > 0) break;
    }
    console.log(
      `fuzz: ${reqs.length} bad requests, ${reqs.length - unclear.length} clear errors, ${unclear.length} unclear, ${changed.length} changes`,
    );
    assert.deepEqual(changed, []);
    assert.deepEqual(unclear, []);
    assert.equal(await kernelSnapshot(), kernelBefore, 'kernel unchanged');
  });

  it('refuses bad CLI invocations with an error message and a non-zero exit, changing nothing', async () => {
    const kernelBefore = await kernelSnapshot();
    const storeBefore = await storeSnapshot();
    const bad: string[] = [];
    for (const args of BAD_CLI) {
      const r = await h.cli(args);
      if (r.code === 0 || !/error/i.test(r.stderr)) bad.push(`weft ${args.join(' ')} → ${r.code}: ${r.stderr.trim()}`);
      if ((await storeSnapshot()) !== storeBefore) bad.push(`store changed by weft ${args.join(' ')}`);
    }
    assert.deepEqual(bad, []);
    assert.equal(await kernelSnapshot(), kernelBefore);
  });
});
