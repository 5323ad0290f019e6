/**
 * The incremental compiler against the whole-table compiler: after every random change (relabel,
 * endpoints added, removed, moved, made remote; rules, selectors, order, policies added and
 * removed) the committed state must equal compilePolicies() of the same input, and the planned
 * transaction must hold the same commands as diffTransaction() between the two full states.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from '../../src/lab/prng.js';
import { type CompiledPolicy, compilePolicies } from '../../src/policy/policy-compiler.js';
import { parsePolicyText } from '../../src/policy/policy-file.js';
import { IncrementalPolicyCompiler } from '../../src/policy/policy-incremental.js';
import { diffTransaction } from '../../src/policy/policy-transaction.js';
import type { Policy, PolicyEndpoint, PolicyInput } from '../../src/policy/policy-types.js';

const ROLES = ['web', 'db', 'client', 'admin'];
const ENVS = ['prod', 'dev', undefined];

function policyPool(): Policy[] {
  return parsePolicyText(`
name: web
order: 10
selector: role == 'web'
ingress: [{action: Allow, protocol: TCP, source: {selector: role == 'client'}, destination: {ports: [80]}}]
---
name: web-2
order: 10
selector: role == 'web'
ingress: [{action: Allow, protocol: TCP, source: {selector: "role == 'client' && env == 'prod'"}, destination: {ports: [443]}}]
---
name: db
order: 20
selector: role == 'db'
types: [Ingress, Egress]
ingress: [{action: Allow, source: {selector: "role in {'web', 'admin'}"}}]
egress: [{action: Deny, protocol: UDP}, {action: Pass}]
---
apiVersion: projectcalico.org/v3
kind: NetworkPolicy
metadata: {name: scoped, namespace: n2}
spec:
  order: 1
  selector: has(env)
  ingress: [{action: Allow, source: {notSelector: "env == 'dev'"}}]
---
name: quarantine
selector: has(quarantine)
types: [Ingress, Egress]
`).policies;
}

function canon(c: CompiledPolicy): unknown {
  return {
    table: c.table,
    sets: [...c.sets.values()].sort((a, b) => a.name.localeCompare(b.name)),
    chains: [...c.chains.values()].sort((a, b) => a.name.localeCompare(b.name)),
    elements: [...c.elements].map(([k, v]) => [k, [...v].sort()]).sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
  };
}

const lines = (script: string): string[] => script.split('\n').filter(Boolean).sort();

describe('incremental policy compiler', () => {
  for (const seed of [1, 2, 3, 4, 5]) {
    it(`matches the whole-table compiler over 150 random changes (seed ${seed})`, () => {
      const rnd = new Prng(seed);
      const int = (n: number): number => rnd.int(0, n - 1);
      const pick = <T>(xs: readonly T[]): T => rnd.pick(xs);
      const pool = policyPool();
      let next = 0;
      const mk = (): PolicyEndpoint => {
        const i = next++;
        const env = pick(ENVS);
        return {
          id: `e${i}`,
          network: pick(['n1', 'n2']),
          labels: { role: pick(ROLES), ...(env ? { env } : {}) },
          addresses: int(3) === 0 ? [`10.0.${i >> 8}.${i & 255}`] : [`10.0.${i >> 8}.${i & 255}`, `fd00::${i.toString(16)}`],
          local: int(4) !== 0,
        };
      };
      const input: PolicyInput = {
        policies: pool.slice(0, 3),
        endpoints: Array.from({ length: 20 }, mk),
        networks: [
          { name: 'n1', mode: 'routed' },
          { name: 'n2', mode: 'bridged' },
        ],
      };
      const inc = new IncrementalPolicyCompiler();
      let prevFull: CompiledPolicy | undefined;
      let cached = 0;
      for (let step = 0; step < 150; step++) {
        const eps = input.endpoints;
        switch (int(9)) {
          case 0:
            eps.push(mk());
            break;
          case 1:
            if (eps.length > 1) eps.splice(int(eps.length), 1);
            break;
          case 2:
          case 3: {
            const ep = pick(eps);
            ep.labels = int(5) === 0 ? { ...ep.labels, quarantine: 'yes' } : { role: pick(ROLES) };
            break;
          }
          case 4:
            pick(eps).network = pick(['n1', 'n2']);
            break;
          case 5:
            pick(eps).local = int(2) === 0;
            break;
          case 6: {
            // Toggle one policy in or out.
            const p = pick(pool);
            input.policies = input.policies.some((x) => x.name === p.name)
              ? input.policies.filter((x) => x.name !== p.name)
              : [...input.policies, p];
            break;
          }
          case 7: {
            // Re-order or change a rule of a present policy.
            if (input.policies.length === 0) break;
            const i = int(input.policies.length);
            const p = input.policies[i]!;
            const changed: Policy =
              int(2) === 0
                ? { ...p, order: int(30) }
                : {
                    ...p,
                    ingress: p.ingress.map((r) => ({
                      ...r,
                      destination: { ...r.destination, ports: [{ min: 1 + int(9), max: 10 }] },
                      protocol: 'TCP',
                    })),
                  };
            input.policies = input.policies.map((x, j) => (j === i ? changed : x));
            break;
          }
          default:
            break; // no change at all
        }
        const plan = inc.plan(input);
        const want = compilePolicies(input);
        const got = inc.commit(plan);
        assert.deepEqual(canon(got), canon(want), `step ${step}: committed state`);
        if (prevFull) {
          assert.deepEqual(lines(plan.transaction.script), lines(diffTransaction(prevFull, want).script), `step ${step}: transaction`);
        } else {
          assert.equal(plan.transaction.full, true);
        }
        cached += input.endpoints.length - plan.recomputed;
        prevFull = want;
      }
      assert.ok(cached > 1000, `most endpoints come from the cache (${cached})`);
    });
  }

  it('refuses bad input without touching its state, and plans a full table after forget()', () => {
    const inc = new IncrementalPolicyCompiler();
    const ok: PolicyInput = {
      policies: policyPool(),
      networks: [
        { name: 'n1', mode: 'routed' },
        { name: 'n2', mode: 'routed' },
      ],
      endpoints: [
        { id: 'a', network: 'n1', labels: { role: 'web' }, addresses: ['10.0.0.1'], local: true },
        { id: 'b', network: 'n1', labels: { role: 'db' }, addresses: ['10.0.0.2'], local: true },
      ],
    };
    inc.commit(inc.plan(ok));
    const before = canon(inc.compiled!);
    assert.throws(
      () => inc.plan({ ...ok, endpoints: [...ok.endpoints, { ...ok.endpoints[0]!, id: 'c' }] }),
      /10\.0\.0\.1 also belongs to endpoint "a"/,
    );
    assert.throws(() => inc.plan({ ...ok, endpoints: [...ok.endpoints, ok.endpoints[0]!] }), /endpoint "a" is listed twice/);
    assert.throws(() => inc.plan({ ...ok, networks: [{ name: 'n2', mode: 'routed' }] }), /endpoints\[0\]\.network: unknown network "n1"/);
    assert.deepEqual(canon(inc.compiled!), before);
    // Addresses may change hands within one change: swapped, or taken over from a removed endpoint.
    const swapped = {
      ...ok,
      endpoints: [
        { ...ok.endpoints[0]!, addresses: ['10.0.0.2'] },
        { ...ok.endpoints[1]!, addresses: ['10.0.0.1'] },
      ],
    };
    inc.commit(inc.plan(swapped));
    assert.deepEqual(canon(inc.compiled!), canon(compilePolicies(swapped)));
    const takeover = {
      ...ok,
      endpoints: [
        { ...ok.endpoints[0]!, addresses: ['10.0.0.2'] },
        { id: 'c', network: 'n2', labels: {}, addresses: ['10.0.0.1'], local: true },
      ],
    };
    inc.commit(inc.plan(takeover));
    assert.deepEqual(canon(inc.compiled!), canon(compilePolicies(takeover)));
    assert.throws(
      () =>
        inc.plan({
          ...takeover,
          endpoints: [...takeover.endpoints, { id: 'd', network: 'n1', labels: {}, addresses: ['10.0.0.2'], local: false }],
        }),
      /10\.0\.0\.2 also belongs to endpoint "a"/,
    );
    inc.commit(inc.plan(ok));
    assert.deepEqual(canon(inc.compiled!), before);
    assert.equal(inc.plan(ok).transaction.script, '');
    inc.forget();
    assert.equal(inc.plan(ok).transaction.full, true);
  });
});
