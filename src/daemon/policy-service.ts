/**
 * Policy across the cluster (issue 15): policies and profiles live in the cluster store as
 * Calico v3 resources (`policies/<name>`, `profiles/<network>`); every host mirrors them with
 * the cluster's endpoint records and compiles them for its own endpoints into the
 * `inet weft-policy` table (PolicyFirewall: one nft transaction per change, incremental).
 * The REST routes that store them (`weft policy create|ls|inspect|rm`) are here too.
 * When the store or weftd is down, the table applied last keeps being enforced.
 */
import type { ClusterAgent } from '../cluster/cluster-agent.js';
import { MirroredKeys } from '../cluster/mirrored-keys.js';
import {
  POLICY_KEYS,
  POLICY_VIEW_PREFIXES,
  policyInputFromEntries,
  type PolicyEndpointRecord,
  type PolicyViewMemo,
} from '../cluster/policy-view.js';
import { PolicyFirewall } from '../policy/policy-firewall.js';
import {
  parsePolicyText,
  parsePolicyValue,
  PolicyValidationError,
  policyToResource,
  profileToResource,
  type PolicyInput,
} from '../policy/index.js';
import type { Router } from '../api/rest/rest-server.js';
import type { ClusterService } from '../cluster/cluster-service.js';
import { FirewallError, InvalidArgumentError, NotFoundError, WeftError } from '../errors.js';
import type { Logger } from '../logger.js';

/** What the policy routes need of the cluster store. */
type Store = Pick<ClusterService['store'], 'get' | 'list' | 'commit'>;

export interface PolicyServiceOptions {
  log: Logger;
  /** Default: a PolicyFirewall in weftd's own namespace that turns br_netfilter's hooks on for bridged networks. */
  firewall?: PolicyFirewall;
  /**
   * Wait after a store event before applying (default 0: events of one etcd transaction arrive
   * together, and events that arrive while an apply runs are taken by the next one anyway).
   */
  debounceMs?: number;
  /**
   * The start fails (FirewallError, nothing left following the store) when its first
   * transaction is refused, instead of running with the table applied last until the next
   * store change: weftd's start deferred until the store answers retries it then.
   */
  requireFirstApply?: boolean;
}

export class PolicyService {
  private stopped = false;
  private settled: Promise<void> = Promise.resolve();
  /** An apply is queued and has not started: further changes ride on it. */
  private queued = false;
  /** Epoch ms of the first store change that no apply has taken yet. */
  private pendingSince: number | undefined;
  private readonly memo: PolicyViewMemo = new Map();
  /** Applies that ran (each one nft transaction at most). */
  applies = 0;
  lastError: string | undefined;

  private constructor(
    private readonly hostId: string,
    private readonly keys: MirroredKeys,
    readonly firewall: PolicyFirewall,
    private readonly o: PolicyServiceOptions,
  ) {}

  static async start(agent: ClusterAgent, o: PolicyServiceOptions): Promise<PolicyService> {
    let service: PolicyService | undefined;
    const keys = new MirroredKeys(agent, POLICY_VIEW_PREFIXES, (at) => service?.changed(at), o.debounceMs ?? 0);
    try {
      await keys.whenRead('policy');
      service = new PolicyService(agent.hostId, keys, o.firewall ?? new PolicyFirewall({ enableBridgeHooks: true }), o);
      const why = service.firewall.transportNote;
      o.log.info({ via: service.firewall.transport, ...(why ? { why } : {}) }, 'policy: nft transactions');
      // The first read's own change callback, when still pending, makes the first apply.
      if (!keys.pending) service.changed();
      await service.idle();
    } catch (err) {
      keys.stop();
      throw err;
    }
    if (o.requireFirstApply && service.lastError !== undefined) {
      const failed = service.lastError;
      await service.stop();
      throw new FirewallError(`policy: the first transaction failed: ${failed}`);
    }
    return service;
  }

  /** A store change arrived (at epoch ms `at`): one apply at a time, and at most one waiting, which takes every change so far. */
  private changed(at = Date.now()): void {
    if (this.stopped) return;
    this.pendingSince = Math.min(this.pendingSince ?? at, at);
    if (this.queued) return;
    this.queued = true;
    this.settled = this.settled.then(() => {
      this.queued = false;
      const since = this.pendingSince ?? Date.now();
      this.pendingSince = undefined;
      return this.apply(since);
    });
  }

  /** The input this host compiles now. */
  input(): PolicyInput {
    return policyInputFromEntries(this.hostId, this.keys.entries, this.memo).input;
  }

  private async apply(since: number): Promise<void> {
    const start = Date.now();
    const { input, skipped } = policyInputFromEntries(this.hostId, this.keys.entries, this.memo);
    for (const s of skipped) this.o.log.warn({ key: s.key }, `policy: store record skipped: ${s.reason}`);
    try {
      const r = await this.firewall.apply(input);
      this.applies++;
      this.lastError = undefined;
      // Where a change's time went on this host (bench/routed.ts reads these): the store event
      // at `changeAt`, waiting for a previous apply (`waitMs`), reading the view and compiling,
      // the nft transaction (`nftMs`); enforced when this line is written.
      this.o.log.info(
        {
          full: r.full,
          ms: r.totalMs,
          changeAt: since,
          waitMs: start - since,
          viewMs: Date.now() - start - r.totalMs,
          compileMs: r.compileMs,
          nftMs: r.applyMs,
          via: this.firewall.transport,
          policies: input.policies.length,
          endpoints: input.endpoints.length,
        },
        'policy applied',
      );
    } catch (err) {
      // The table applied last stays in force; the next change (or resync) tries again.
      this.lastError = (err as Error).message;
      this.o.log.error({ err: this.lastError }, 'policy apply failed; the previous table stays in force');
    }
  }

  /** Wait until pending store changes are enforced (tests, benchmarks). */
  async idle(): Promise<void> {
    while (this.keys.pending) await new Promise((r) => setTimeout(r, 5));
    await this.settled;
  }

  /** Re-apply the whole table (after a firewall reload flushed it). */
  restore(): Promise<unknown> {
    return this.firewall.restore();
  }

  /** Stop following the store; the table stays (the dataplane never depends on weftd). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.keys.stop();
    await this.settled;
  }
}

/** Publish (or remove) an endpoint for the other hosts' policy selectors. */
export async function publishPolicyEndpoint(store: Store, rec: PolicyEndpointRecord): Promise<void> {
  await store.commit({ puts: [{ key: `${POLICY_KEYS.endpoints}${rec.network}/${rec.id}`, value: JSON.stringify(rec) }] });
}

const notClustered = (): never => {
  throw new WeftError('WEFT_INVALID_ARGUMENT', 'policies live in the cluster store: start weftd with --cluster-store etcd://…', {
    field: 'cluster-store',
  });
};

/**
 * A policy file's text (YAML or JSON, as `weft policy create -f` reads it) → the document, with
 * every problem on its own line under the file's name (as calicoctl lists them), not just the first.
 */
function parsePolicyFile(text: string, source: string): ReturnType<typeof parsePolicyText> {
  try {
    return parsePolicyText(text);
  } catch (err) {
    if (err instanceof PolicyValidationError && err.issues.length > 1) {
      throw new InvalidArgumentError('file', `${source}:\n${err.issues.map((i) => `  ${i.path}: ${i.message}`).join('\n')}`, err);
    }
    throw err;
  }
}

/**
 * POST /v1/policies {resources: [...]} or {text, source?} (a policy file's text, parsed here so
 * the CLI need not load the parser: see src/cli/policy-commands.ts), validated whole: one bad
 * resource stores nothing. GET /v1/policies, GET|DELETE /v1/policies/:name.
 */
export function registerPolicyRoutes(routes: Router, store: Store | undefined): void {
  const need = (): Store => store ?? notClustered();
  routes.on('POST', '/v1/policies', async (_p, body) => {
    const s = need();
    const b = body as { resources?: unknown; text?: unknown; source?: unknown } | undefined;
    let doc: ReturnType<typeof parsePolicyValue>;
    if (typeof b?.text === 'string') {
      doc = parsePolicyFile(b.text, typeof b.source === 'string' && b.source !== '' ? b.source : 'policy file');
      if (doc.policies.length + doc.profiles.length === 0)
        throw new InvalidArgumentError('file', 'the file holds no NetworkPolicy, GlobalNetworkPolicy or Profile');
    } else {
      const resources = b?.resources;
      if (!Array.isArray(resources) || resources.length === 0)
        throw new InvalidArgumentError('resources', 'give a non-empty list of NetworkPolicy, GlobalNetworkPolicy or Profile resources');
      doc = parsePolicyValue(resources);
    }
    const puts = [
      ...doc.policies.map((p) => ({ key: POLICY_KEYS.policy(p.name), value: JSON.stringify(policyToResource(p)) })),
      ...doc.profiles.map((p) => ({ key: POLICY_KEYS.profile(p.name), value: JSON.stringify(profileToResource(p)) })),
    ];
    await s.commit({ puts }); // one transaction: every resource or none
    return {
      status: 201,
      body: { policies: doc.policies.map((p) => p.name), profiles: doc.profiles.map((p) => p.name) },
    };
  });
  routes.on('GET', '/v1/policies', async () => {
    const s = need();
    const out: unknown[] = [];
    for (const prefix of [POLICY_KEYS.policies, POLICY_KEYS.profiles]) for (const e of await s.list(prefix)) out.push(JSON.parse(e.value));
    return { body: out };
  });
  routes.on('GET', '/v1/policies/:name', async (p) => {
    const e = (await need().get(POLICY_KEYS.policy(p.name!))) ?? (await need().get(POLICY_KEYS.profile(p.name!)));
    if (!e) throw new NotFoundError('policy', p.name!);
    return { body: JSON.parse(e.value) };
  });
  routes.on('DELETE', '/v1/policies/:name', async (p) => {
    const s = need();
    const key = (await s.get(POLICY_KEYS.policy(p.name!))) ? POLICY_KEYS.policy(p.name!) : POLICY_KEYS.profile(p.name!);
    if (!(await s.get(key))) throw new NotFoundError('policy', p.name!);
    await s.commit({ deletes: [key] });
    return { status: 204 };
  });
}
